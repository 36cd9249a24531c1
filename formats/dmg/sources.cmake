# SPDX-License-Identifier: MIT
# Apple UDIF (.dmg) sources of imgfs_formats; included from
# formats/CMakeLists.txt.

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

# Encrypted images (encrcdsa): PBKDF2, 3DES and AES from Nettle (linked by
# imgfs_core, whose core/crypto/ uses it too).
target_sources(imgfs_formats PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/encrypted.cc
)

# Chunk types mapped onto the codec library (core/codec/, in imgfs_core).
target_sources(imgfs_formats PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/codec.cc
)

# Writing (convert -O dmg) and the on-the-fly view (mount --as dmg).
target_sources(imgfs_formats PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/layout.cc
  ${CMAKE_CURRENT_LIST_DIR}/plist_writer.cc
  ${CMAKE_CURRENT_LIST_DIR}/virtual_dmg.cc
  ${CMAKE_CURRENT_LIST_DIR}/writer.cc
  ${CMAKE_CURRENT_LIST_DIR}/writer_hook.cc
)
