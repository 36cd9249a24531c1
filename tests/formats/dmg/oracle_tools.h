// SPDX-License-Identifier: MIT
// What the DMG oracle tests share: finding an oracle tool (dmg2img, 7zz),
// failing instead of skipping when CI=true and it is missing, and the imgfs
// binary under test (IMGFS_BINARY, set by imgfs_test()).
#pragma once

#include <cstdlib>
#include <string>

#include "tests/testing/qemu_fixture.h"

namespace imgfs::dmg::testing {

inline bool HaveTool(const std::string& tool) {
  return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0;
}

inline std::string ImgfsBinary() {
  const char* env = std::getenv("IMGFS_BINARY");
  return env != nullptr ? env : "imgfs";
}

}  // namespace imgfs::dmg::testing

// In a test body: skip when `tool` is missing, but fail under CI=true.
#define IMGFS_REQUIRE_TOOL(tool)                    \
  do {                                              \
    if (!::imgfs::dmg::testing::HaveTool(tool)) {   \
      if (::imgfs::testing::InCi()) {               \
        FAIL() << (tool) << " missing but CI=true"; \
      }                                             \
      GTEST_SKIP() << (tool) << " not installed";   \
    }                                               \
  } while (false)
