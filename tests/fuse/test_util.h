// SPDX-License-Identifier: MIT
// Helpers for tests that run the imgfs binary and the qemu-img oracle:
// temp dirs, running commands with captured output, and mounts that are
// always unmounted (RAII).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/testing/test_env.h"

namespace imgfs::testing {

// Skips (or, under CI=true, fails) when `what` is missing.
#define IMGFS_REQUIRE(cond, what)                                   \
  do {                                                              \
    if (!(cond)) {                                                  \
      if (::imgfs::testing::InCi()) {                               \
        FAIL() << "missing in CI: " << (what);                      \
      }                                                             \
      GTEST_SKIP() << "skipped: " << (what) << " is not available"; \
    }                                                               \
  } while (false)

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "imgfs-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
    }
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Runs argv[0] from PATH (or as a path) and captures stdout and stderr
// through files in a private temp dir.
inline RunResult RunCommand(const std::vector<std::string>& argv) {
  TempDir io;
  std::string out_path = io / "out";
  std::string err_path = io / "err";
  pid_t pid = ::fork();
  if (pid == 0) {
    int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out_fd < 0 || err_fd < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) {
      ::_exit(126);
    }
    std::vector<char*> args;
    for (const std::string& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  RunResult r;
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(out_path);
  r.err = ReadFile(err_path);
  return r;
}

inline bool HaveTool(const std::string& tool) {
  return RunCommand({tool, "--version"}).exit_code == 0;
}

inline bool HaveQemuImg() { return HaveTool("qemu-img") && HaveTool("qemu-io"); }

inline bool HaveFuse() { return ::access("/dev/fuse", R_OK | W_OK) == 0; }

// Runs a command that must succeed (for fixture setup).
inline void MustRun(const std::vector<std::string>& argv) {
  RunResult r = RunCommand(argv);
  ASSERT_EQ(r.exit_code, 0) << argv[0] << " failed: " << r.err;
}

// True when `path` is a mount point in this mount namespace.
inline bool IsMounted(const std::string& path) {
  std::error_code ec;
  std::string canon = std::filesystem::weakly_canonical(path, ec).string();
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mnt;
    fields >> id >> parent >> dev >> root >> mnt;
    if (mnt == canon) {
      return true;
    }
  }
  return false;
}

inline bool WaitFor(bool want_mounted, const std::string& path) {
  for (int i = 0; i < 200; ++i) {
    if (IsMounted(path) == want_mounted) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

// A mount made with `imgfs mount` (daemonized); unmounted on destruction.
class Mount {
 public:
  Mount(std::vector<std::string> args, std::string mountpoint)
      : mountpoint_(std::move(mountpoint)) {
    std::vector<std::string> argv = {ImgfsBinary(), "mount"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(mountpoint_);
    result_ = RunCommand(argv);
    mounted_ = result_.exit_code == 0 && IsMounted(mountpoint_);
  }
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;
  ~Mount() {
    if (mounted_) {
      RunCommand({ImgfsBinary(), "umount", mountpoint_});
      WaitFor(false, mountpoint_);
    }
  }
  bool ok() const { return mounted_; }
  const RunResult& result() const { return result_; }
  std::string operator/(const std::string& name) const { return mountpoint_ + "/" + name; }

 private:
  std::string mountpoint_;
  RunResult result_;
  bool mounted_ = false;
};

// The macOS-made disk of tests/data/README.md ("macos/"): a GPT disk with
// one HFS+ volume, written uncompressed to `path`. False (with a test
// failure) when it cannot be unpacked or is not the recorded file.
inline constexpr uint64_t kMacosDiskBytes = 10020864;
inline bool UnpackMacosDisk(const std::string& path) {
  const std::string xz = std::string(IMGFS_TEST_DATA_DIR) + "/macos/blank-large-file.dmg.xz";
  RunResult r = RunCommand({"bash", "-o", "pipefail", "-c",
                            "xz -dc '" + xz + "' > '" + path + "' && sha256sum < '" + path + "'"});
  const std::string want = "04cbfecdfecbcbaaab342d2bb78b035600c73e1905671b6a4fba299e59e2000b";
  if (r.exit_code != 0 || r.out.compare(0, want.size(), want) != 0) {
    ADD_FAILURE() << "cannot unpack " << xz << ": " << r.err << r.out;
    return false;
  }
  return true;
}

// Deterministic pseudo-random bytes; the seed is printed by the caller.
inline std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (char& c : s) {
    c = static_cast<char>(gen() & 0xff);
  }
  return s;
}

// Data ranges [start, end) of `qemu-img map --output=json ARGS`, adjacent
// ones merged: what SEEK_DATA/SEEK_HOLE on a mount must agree with.
inline std::vector<std::pair<uint64_t, uint64_t>> QemuDataRanges(
    const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"qemu-img", "map", "--output=json"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = RunCommand(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& e : nlohmann::json::parse(r.out)) {
    if (!e["data"].get<bool>()) {
      continue;
    }
    const uint64_t start = e["start"].get<uint64_t>();
    const uint64_t end = start + e["length"].get<uint64_t>();
    if (!ranges.empty() && ranges.back().second == start) {
      ranges.back().second = end;
    } else {
      ranges.emplace_back(start, end);
    }
  }
  return ranges;
}

// Checks SEEK_DATA and SEEK_HOLE at `off` on `fd` against `data`, the
// ranges QemuDataRanges returns.
inline void ExpectSeekMatchesRanges(int fd, uint64_t off,
                                    const std::vector<std::pair<uint64_t, uint64_t>>& data) {
  auto seek = [fd](uint64_t at, int whence) -> off_t {
    const off_t r = ::lseek(fd, static_cast<off_t>(at), whence);
    return r < 0 ? -errno : r;
  };
  off_t want_data = -ENXIO;
  for (auto [s, e] : data) {
    if (off < e) {
      want_data = static_cast<off_t>(std::max(off, s));
      break;
    }
  }
  off_t want_hole = static_cast<off_t>(off);
  for (auto [s, e] : data) {
    if (off >= s && off < e) {
      want_hole = static_cast<off_t>(e);
    }
  }
  EXPECT_EQ(seek(off, SEEK_DATA), want_data) << "SEEK_DATA at " << off;
  EXPECT_EQ(seek(off, SEEK_HOLE), want_hole) << "SEEK_HOLE at " << off;
}

// Checks SEEK_DATA and SEEK_HOLE on `fd` (a view of `size` bytes) every
// `stride` bytes against `data`, the ranges QemuDataRanges returns.
inline void ExpectSeeksMatchRanges(int fd, uint64_t size,
                                   const std::vector<std::pair<uint64_t, uint64_t>>& data,
                                   uint64_t stride = 262144 + 4093) {
  for (uint64_t off = 0; off < size; off += stride) {
    ExpectSeekMatchesRanges(fd, off, data);
  }
}

}  // namespace imgfs::testing
