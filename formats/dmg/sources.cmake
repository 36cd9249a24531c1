# SPDX-License-Identifier: MIT
# Apple UDIF (.dmg) sources of imgfs_formats; included from
# formats/CMakeLists.txt. Each dmg engineer appends their files here.

# Reading (structures, plist, resource fork, devices, check, driver).
target_sources(imgfs_formats PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/udif.cc
)
