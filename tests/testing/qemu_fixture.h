// SPDX-License-Identifier: MIT
// Helpers for oracle tests against qemu-img / qemu-io (docs/CONTRIBUTING.md#oracles): a
// temp dir, running the tools, reading files, comparing a device with the
// reference bytes and with `qemu-img map`.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/block_device.h"
#include "tests/testing/test_env.h"

namespace imgfs::testing {

// True when qemu-img and qemu-io can be run.
bool HaveQemuTools();

// Skips the test without the tools, or fails it when CI=true (a green CI
// run must mean the oracle really ran).
#define IMGFS_REQUIRE_QEMU()                              \
  do {                                                    \
    if (!::imgfs::testing::HaveQemuTools()) {             \
      if (::imgfs::testing::InCi()) {                     \
        FAIL() << "qemu-img/qemu-io missing but CI=true"; \
      }                                                   \
      GTEST_SKIP() << "qemu-img/qemu-io not installed";   \
    }                                                     \
  } while (false)

// A fresh directory under $TMPDIR, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Runs `command` through /bin/sh in `dir`; returns its exit status and puts
// stdout (and stderr) in *output when non-null.
int RunIn(const std::string& dir, const std::string& command, std::string* output = nullptr);

// Like RunIn, but an ordinary gtest assertion on exit status 0.
::testing::AssertionResult Sh(const std::string& dir, const std::string& command,
                              std::string* output = nullptr);

std::string ReadWholeFile(const std::string& path);
void WriteWholeFile(const std::string& path, const std::string& contents);

// Reads all of `dev` in chunks of several odd sizes and at odd offsets and
// compares with `expected`.
::testing::AssertionResult DeviceMatches(const BlockDevice& dev, const std::string& expected);

struct MapEntry {
  uint64_t start = 0;
  uint64_t length = 0;
  bool data = false;
  bool zero = false;
  bool present = false;
  uint32_t depth = 0;
};
// Parses `qemu-img map --output=json` for `image` in `dir`.
std::vector<MapEntry> QemuMap(const std::string& dir, const std::string& image,
                              const std::string& extra_args = "");

// Compares CollectExtents(dev) with the map: every byte must agree on
// data (kData), zero (present, no data: kZero) or absent (kUnallocated),
// and on the depth in the backing chain.
::testing::AssertionResult ExtentsMatchMap(const BlockDevice& dev,
                                           const std::vector<MapEntry>& map);

}  // namespace imgfs::testing
