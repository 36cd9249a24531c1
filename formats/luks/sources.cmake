# SPDX-License-Identifier: MIT
# luks sources of imgfs_formats; included from formats/CMakeLists.txt.
target_sources(imgfs_formats PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/driver.cc
  ${CMAKE_CURRENT_LIST_DIR}/header.cc
  ${CMAKE_CURRENT_LIST_DIR}/layout.cc
  ${CMAKE_CURRENT_LIST_DIR}/unlock.cc
)
