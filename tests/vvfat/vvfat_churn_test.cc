// SPDX-License-Identifier: MIT
// A directory that changes while the layout is computed: a thread creates
// and removes files and directories during the scan. The build must end
// cleanly (entries that vanish are skipped with a warning), and the disk
// must pass fsck.fat -n and read the same bytes twice.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include "tests/testing/status_matchers.h"
#include "tests/vvfat/vvfat_test_util.h"

namespace imgfs::vvfat {
namespace {

TEST(VvfatChurnTest, ATreeThatChangesDuringTheScanStillGivesAValidDisk) {
  testing::TempDir dir;
  for (int i = 0; i < 2000; ++i) {
    Put(dir / ("stable/f" + std::to_string(i)), std::to_string(i));
  }
  std::atomic<bool> stop{false};
  // Joined on every way out of the test, ASSERTs included.
  struct Joiner {
    std::atomic<bool>* stop;
    std::thread* t;
    ~Joiner() {
      stop->store(true);
      if (t->joinable()) {
        t->join();
      }
    }
  };
  std::thread churn([&] {
    for (int i = 0; !stop.load(); ++i) {
      const std::string d = dir / ("churn/d" + std::to_string(i % 50));
      std::error_code ec;
      std::filesystem::create_directories(d, ec);
      testing::WriteFile(d + "/x" + std::to_string(i),
                         std::string(static_cast<size_t>(i % 9000), 'c'));
      std::filesystem::remove_all(dir / ("churn/d" + std::to_string((i + 25) % 50)), ec);
    }
  });
  Joiner joiner{&stop, &churn};
  for (int round = 0; round < 5; ++round) {
    BuildLog log;
    DiskOptions o;
    o.plan.mbr = false;
    auto dev = MakeDisk(dir.path(), o, &log);
    ASSERT_OK(dev.status());
    // Files may have changed since: reading is what matters, not contents.
    std::vector<std::byte> a(static_cast<size_t>((*dev)->Size()));
    ASSERT_OK((*dev)->Read(0, a));
  }
  stop = true;
  churn.join();
  std::error_code ec;
  std::filesystem::remove_all(dir / "churn", ec);
  // Once still, the disk is consistent for fsck.fat.
  if (testing::RunCommand({"sh", "-c", "command -v fsck.fat"}).exit_code == 0) {
    DiskOptions o;
    o.plan.mbr = false;
    ASSERT_OK_AND_ASSIGN(auto dev, MakeDisk(dir.path(), o));
    testing::TempDir work;
    ASSERT_TRUE(Dump(*dev, work / "vol.img"));
    testing::RunResult r = testing::RunCommand({"fsck.fat", "-n", work / "vol.img"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  } else {
    IMGFS_REQUIRE(false, "fsck.fat");
  }
}

}  // namespace
}  // namespace imgfs::vvfat
