// SPDX-License-Identifier: MIT
// What every format's FUSE mount test checks on a disk it converted from the
// same MBR test disk: the raw view's bytes, size and odd preads, the
// partitions shown with --partitions, and the DMG shown with --as dmg read
// back by qemu-img. One copy here; each format's test only makes its image.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/fuse/test_util.h"

namespace imgfs::testing {

// Shell commands that write disk.img in the current directory: 12 MiB, an
// MBR with partition 1 (type 0x83, sectors 2048–6143, "p1" lines) and
// partition 2 (type 0x0c, sectors 8192–16383, "p2" lines). `yes | head`
// ends with SIGPIPE by design: run them without pipefail.
inline constexpr char kMakeMbrTestDisk[] =
    "truncate -s 12M disk.img && printf 'label: dos\\nstart=2048, size=4096, type=83\\n"
    "start=8192, size=8192, type=c\\n' | sfdisk -q disk.img"
    " && yes p1 | head -c 1500000 | dd of=disk.img bs=512 seek=2048 conv=notrunc status=none"
    " && yes p2 | head -c 3000000 | dd of=disk.img bs=512 seek=8192 conv=notrunc status=none";

inline off_t SeekOrErrno(int fd, uint64_t off, int whence) {
  const off_t r = ::lseek(fd, static_cast<off_t>(off), whence);
  return r < 0 ? -errno : r;
}

// `view` has `ref`'s size and bytes, also read with 70001-byte preads at
// `offsets`.
inline void ExpectViewEquals(const std::string& view, const std::string& ref,
                             const std::vector<uint64_t>& offsets) {
  struct stat st {};
  ASSERT_EQ(::stat(view.c_str(), &st), 0) << view;
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), ref.size()) << view;
  EXPECT_TRUE(ReadFile(view) == ref) << view << " differs from the reference";
  const int fd = ::open(view.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0) << view;
  for (uint64_t off : offsets) {
    std::string buf(70001, '\0');
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
    EXPECT_GE(n, 0) << view << " at " << off;
    if (n >= 0) {
      EXPECT_TRUE(buf.substr(0, static_cast<size_t>(n)) == ref.substr(off, static_cast<size_t>(n)))
          << view << " at " << off;
    }
  }
  ::close(fd);
}

// A `--partitions` mount of the MBR test disk (as `stem`) shows the whole
// disk and both partitions, each with the reference's bytes.
inline void ExpectMbrTestDiskPartitions(const std::string& mountpoint, const std::string& stem,
                                        const std::string& ref) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(mountpoint)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{stem + ".p1.raw", stem + ".p2.raw", stem + ".raw"}));
  EXPECT_TRUE(ReadFile(mountpoint + "/" + stem + ".p1.raw") == ref.substr(2048 * 512, 4096 * 512));
  EXPECT_TRUE(ReadFile(mountpoint + "/" + stem + ".p2.raw") == ref.substr(8192 * 512, 8192 * 512));
}

// The DMG an `--as dmg` mount shows at `dmg`, copied into `scratch_dir` and
// converted back by qemu-img, gives `ref`.
inline void ExpectDmgReadsBackThroughQemuImg(const std::string& dmg, const std::string& scratch_dir,
                                             const std::string& ref) {
  const std::string copy = scratch_dir + "/copy.dmg";
  const std::string raw = scratch_dir + "/copy.raw";
  const RunResult r =
      RunCommand({"bash", "-c",
                  "cp '" + dmg + "' '" + copy + "' && qemu-img convert -f dmg -O raw '" + copy +
                      "' '" + raw + "'"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(ReadFile(raw) == ref) << "the DMG does not read back as the reference";
}

}  // namespace imgfs::testing
