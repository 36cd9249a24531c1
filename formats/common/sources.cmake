# SPDX-License-Identifier: MIT
# Code shared by format drivers (the qcow and qed devices); included from
# formats/CMakeLists.txt.
target_sources(imgfs_formats PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/qcow_aes.cc
  ${CMAKE_CURRENT_LIST_DIR}/two_level_device.cc
)
