# SPDX-License-Identifier: MIT
# The codec library (core/codec/) inside imgfs_core; included from
# core/CMakeLists.txt. The root CMakeLists.txt derives the "lzfse" feature
# from these sources, and found libisal/bzip2/liblzma/liblz4/lzo2 decide the
# optional halves.
target_sources(imgfs_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/codec.cc
  ${CMAKE_CURRENT_LIST_DIR}/deflate.cc
  ${CMAKE_CURRENT_LIST_DIR}/zstd.cc
  ${CMAKE_CURRENT_LIST_DIR}/adc.cc
  ${CMAKE_CURRENT_LIST_DIR}/lzfse/fse.cc
  ${CMAKE_CURRENT_LIST_DIR}/lzfse/lzvn.cc
  ${CMAKE_CURRENT_LIST_DIR}/lzfse/lzfse.cc
  ${CMAKE_CURRENT_LIST_DIR}/lzfse/lzfse_encode.cc
)
target_link_libraries(imgfs_core PRIVATE PkgConfig::DEFLATE PkgConfig::ZSTD ZLIB::ZLIB)

# Optional codec libraries, found in the root CMakeLists.txt (features list).
if(BZIP2_FOUND)
  target_sources(imgfs_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/bzip2.cc)
  target_link_libraries(imgfs_core PRIVATE BZip2::BZip2)
  target_compile_definitions(imgfs_core PRIVATE IMGFS_HAVE_BZIP2=1)
else()
  target_compile_definitions(imgfs_core PRIVATE IMGFS_HAVE_BZIP2=0)
endif()
if(ISAL_FOUND)
  target_sources(imgfs_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/isal.cc)
  target_link_libraries(imgfs_core PRIVATE PkgConfig::ISAL)
  target_compile_definitions(imgfs_core PRIVATE IMGFS_HAVE_ISAL=1)
else()
  target_compile_definitions(imgfs_core PRIVATE IMGFS_HAVE_ISAL=0)
endif()
if(LZMA_FOUND)
  target_sources(imgfs_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/xz.cc)
  target_link_libraries(imgfs_core PRIVATE PkgConfig::LZMA)
  target_compile_definitions(imgfs_core PRIVATE IMGFS_HAVE_LZMA=1)
else()
  target_compile_definitions(imgfs_core PRIVATE IMGFS_HAVE_LZMA=0)
endif()
# lz4 and lzo: only codec.cc reads IMGFS_HAVE_LZ4/IMGFS_HAVE_LZO, so the
# definitions sit on it alone and finding either library rebuilds one file.
set(_codec_have "")
if(LZ4_FOUND)
  target_sources(imgfs_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/lz4.cc)
  target_link_libraries(imgfs_core PRIVATE PkgConfig::LZ4)
  list(APPEND _codec_have IMGFS_HAVE_LZ4=1)
else()
  list(APPEND _codec_have IMGFS_HAVE_LZ4=0)
endif()
if(LZO_FOUND)
  target_sources(imgfs_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/lzo.cc)
  # The library alone: lzo.cc includes <lzo/lzo1x.h>, so lzo2.pc's
  # -I/usr/include/lzo need not reach (and change) every imgfs_core command.
  target_link_libraries(imgfs_core PRIVATE ${LZO_LINK_LIBRARIES})
  list(APPEND _codec_have IMGFS_HAVE_LZO=1)
else()
  list(APPEND _codec_have IMGFS_HAVE_LZO=0)
endif()
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/codec.cc PROPERTIES
                            COMPILE_DEFINITIONS "${_codec_have}")
