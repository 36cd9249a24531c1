# SPDX-License-Identifier: MIT
# qcow (version 1) sources of imgfs_formats; included from formats/CMakeLists.txt.
target_sources(imgfs_formats PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/header.cc
  ${CMAKE_CURRENT_LIST_DIR}/device.cc
  ${CMAKE_CURRENT_LIST_DIR}/driver.cc
)
