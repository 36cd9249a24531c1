# SPDX-License-Identifier: MIT
# Apple UDIF (.dmg) sources of imgfs_formats; included from
# formats/CMakeLists.txt. Each dmg engineer appends their files here.

# Reading (structures, plist, resource fork, devices, check, driver).
target_sources(imgfs_formats PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/udif.cc
  ${CMAKE_CURRENT_LIST_DIR}/plist.cc
  ${CMAKE_CURRENT_LIST_DIR}/rsrc_fork.cc
  ${CMAKE_CURRENT_LIST_DIR}/image.cc
  ${CMAKE_CURRENT_LIST_DIR}/segments.cc
  ${CMAKE_CURRENT_LIST_DIR}/device.cc
  ${CMAKE_CURRENT_LIST_DIR}/describe.cc
  ${CMAKE_CURRENT_LIST_DIR}/check.cc
  ${CMAKE_CURRENT_LIST_DIR}/sparseimage.cc
  ${CMAKE_CURRENT_LIST_DIR}/sparsebundle.cc
  ${CMAKE_CURRENT_LIST_DIR}/driver.cc
)

# Chunk codecs.
target_sources(imgfs_formats PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/codec.cc
  ${CMAKE_CURRENT_LIST_DIR}/adc.cc
  ${CMAKE_CURRENT_LIST_DIR}/lzfse/fse.cc
  ${CMAKE_CURRENT_LIST_DIR}/lzfse/lzvn.cc
  ${CMAKE_CURRENT_LIST_DIR}/lzfse/lzfse.cc
  ${CMAKE_CURRENT_LIST_DIR}/lzfse/lzfse_encode.cc
)

# Optional codec libraries, found in the root CMakeLists.txt (features list).
if(BZIP2_FOUND)
  target_link_libraries(imgfs_formats PRIVATE BZip2::BZip2)
  target_compile_definitions(imgfs_formats PRIVATE IMGFS_HAVE_BZIP2=1)
else()
  target_compile_definitions(imgfs_formats PRIVATE IMGFS_HAVE_BZIP2=0)
endif()
if(LZMA_FOUND)
  target_link_libraries(imgfs_formats PRIVATE PkgConfig::LZMA)
  target_compile_definitions(imgfs_formats PRIVATE IMGFS_HAVE_LZMA=1)
else()
  target_compile_definitions(imgfs_formats PRIVATE IMGFS_HAVE_LZMA=0)
endif()

# Writing (convert -O dmg) and the on-the-fly view (mount --as dmg).
target_sources(imgfs_formats PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/layout.cc
  ${CMAKE_CURRENT_LIST_DIR}/plist_writer.cc
  ${CMAKE_CURRENT_LIST_DIR}/virtual_dmg.cc
  ${CMAKE_CURRENT_LIST_DIR}/writer.cc
)
