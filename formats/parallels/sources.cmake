# SPDX-License-Identifier: MIT
# parallels sources of imgfs_formats; included from formats/CMakeLists.txt.
target_sources(imgfs_formats PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/header.cc
  ${CMAKE_CURRENT_LIST_DIR}/device.cc
  ${CMAKE_CURRENT_LIST_DIR}/xml.cc
  ${CMAKE_CURRENT_LIST_DIR}/descriptor.cc
  ${CMAKE_CURRENT_LIST_DIR}/bundle.cc
  ${CMAKE_CURRENT_LIST_DIR}/driver.cc
)
