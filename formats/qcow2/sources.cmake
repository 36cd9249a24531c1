# SPDX-License-Identifier: MIT
# qcow2 sources of imgfs_formats; included from formats/CMakeLists.txt.
target_sources(imgfs_formats PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/header.cc
  ${CMAKE_CURRENT_LIST_DIR}/tables.cc
  ${CMAKE_CURRENT_LIST_DIR}/snapshots.cc
  ${CMAKE_CURRENT_LIST_DIR}/device.cc
  ${CMAKE_CURRENT_LIST_DIR}/encryption.cc
  ${CMAKE_CURRENT_LIST_DIR}/check.cc
  ${CMAKE_CURRENT_LIST_DIR}/bitmaps.cc
  ${CMAKE_CURRENT_LIST_DIR}/driver.cc
)
