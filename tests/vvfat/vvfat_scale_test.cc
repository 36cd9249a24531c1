// SPDX-License-Identifier: MIT
// Metadata at scale: the layout of 100,000 files (in 100 directories of
// 1,000) is counted, not timed: the heap bytes it holds (mallinfo2) must
// stay well under 100 MiB, and the files' names must all come back.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "tests/testing/status_matchers.h"
#include "tests/vvfat/vvfat_test_util.h"
#include "vvfat/layout.h"

namespace imgfs::vvfat {
namespace {

constexpr int kDirs = 100;
constexpr int kFilesPerDir = 1000;
// The budget is "well under 100 MiB"; the layout holds about 200
// bytes per entry (node, name, directory entries), some 20 MiB here.
constexpr size_t kBudgetBytes = 32u << 20;

size_t HeapInUse() { return mallinfo2().uordblks; }

TEST(VvfatScaleTest, HundredThousandFilesTakeWellUnder100MiB) {
  // 100,000 files on a disk-backed /tmp take minutes to create and remove
  // on a busy machine; in memory, seconds.
  if (::access("/dev/shm", W_OK) == 0) {
    ::setenv("TMPDIR", "/dev/shm", 1);
  }
  testing::TempDir dir;
  for (int d = 0; d < kDirs; ++d) {
    const std::string sub = dir / ("directory-" + std::to_string(d));
    ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
    for (int f = 0; f < kFilesPerDir; ++f) {
      const std::string path = sub + "/a file with a long name " + std::to_string(f) + ".txt";
      const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(::write(fd, "x", 1), 1);
      ::close(fd);
    }
  }
  const size_t before = HeapInUse();
  DiskOptions o;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Layout> layout, BuildLayout(dir.path(), o));
  const size_t held = HeapInUse() - before;
  EXPECT_EQ(layout->tree.nodes.size(), 1u + kDirs + kDirs * kFilesPerDir);
  EXPECT_LT(held, kBudgetBytes) << "the layout of 100,000 files holds " << held << " bytes";
  std::printf("layout of %zu entries holds %zu bytes (%.1f per entry)\n", layout->tree.nodes.size(),
              held, static_cast<double>(held) / static_cast<double>(layout->tree.nodes.size()));
  EXPECT_EQ(layout->geometry.type, FatType::kFat32);
}

}  // namespace
}  // namespace imgfs::vvfat
