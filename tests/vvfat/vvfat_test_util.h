// SPDX-License-Identifier: MIT
// Helpers for the vvfat tests: trees made at test time, a disk built from
// one, and the disk written to a file for the oracles.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/block_device.h"
#include "tests/fuse/test_util.h"
#include "vvfat/device.h"

// ASSERT_OK_AND_ASSIGN(auto x, expr): the value of an OK Result, else the
// test stops with its status.
#define VVFAT_CONCAT_INNER_(a, b) a##b
#define VVFAT_CONCAT_(a, b) VVFAT_CONCAT_INNER_(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(VVFAT_CONCAT_(vvfat_result_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr)  \
  auto tmp = (expr);                                \
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString(); \
  lhs = std::move(tmp).value()

namespace imgfs::vvfat {

// Creates `path` (and its parents) holding `bytes`.
inline void Put(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  testing::WriteFile(path, bytes);
}

// What a build printed.
struct BuildLog {
  std::vector<std::string> warnings;
  std::vector<std::string> renamed;
};

inline DiskOptions WithLog(DiskOptions o, BuildLog* log) {
  o.warn = [log](const std::string& w) { log->warnings.push_back(w); };
  o.renamed = [log](const std::string& r) { log->renamed.push_back(r); };
  return o;
}

inline Result<std::unique_ptr<BlockDevice>> MakeDisk(const std::string& dir, DiskOptions o = {},
                                                     BuildLog* log = nullptr) {
  BuildLog ignored;
  return OpenFatDisk(dir, WithLog(std::move(o), log != nullptr ? log : &ignored), nullptr);
}

// Writes [offset, offset + length) of `dev` to `path`.
inline ::testing::AssertionResult Dump(const BlockDevice& dev, const std::string& path,
                                       uint64_t offset = 0, uint64_t length = UINT64_MAX) {
  length = std::min(length, dev.Size() - offset);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    return ::testing::AssertionFailure() << "cannot create " << path;
  }
  std::vector<std::byte> buf(1 << 20);
  for (uint64_t done = 0; done < length;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - done));
    Status s = dev.Read(offset + done, std::span(buf).first(n));
    if (!s.ok() ||
        ::pwrite(fd, buf.data(), n, static_cast<off_t>(done)) != static_cast<ssize_t>(n)) {
      ::close(fd);
      return ::testing::AssertionFailure() << "cannot dump: " << s.ToString();
    }
    done += n;
  }
  ::close(fd);
  return ::testing::AssertionSuccess();
}

// Every file and directory under `root`: relative path -> contents ("/"
// for a directory).
inline std::map<std::string, std::string> Snapshot(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    const std::string rel = std::filesystem::relative(e.path(), root).string();
    out[rel] = e.is_directory() ? "/" : testing::ReadFile(e.path().string());
  }
  return out;
}

}  // namespace imgfs::vvfat
