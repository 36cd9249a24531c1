// SPDX-License-Identifier: MIT
// What a test learns from its environment, shared by the FUSE tests and the
// oracle fixtures: whether it runs in CI (CI=true: a missing tool fails the
// test instead of skipping it) and which imgfs binary to run (IMGFS_BINARY,
// set by imgfs_test; "imgfs" from PATH otherwise).
#pragma once

#include <cstdlib>
#include <string>

namespace imgfs::testing {

inline bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

inline std::string ImgfsBinary() {
  const char* env = std::getenv("IMGFS_BINARY");
  return env != nullptr ? env : "imgfs";
}

}  // namespace imgfs::testing
