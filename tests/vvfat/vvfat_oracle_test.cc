// SPDX-License-Identifier: MIT
// vvfat disks of trees made at test time, for each FAT type, against
// independent readers: fsck.fat -n finds nothing, mcopy -s (mtools)
// extracts a tree identical to the source (names and bytes), fdisk -l
// and file -s agree on the layout.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/testing/status_matchers.h"
#include "tests/vvfat/vvfat_test_util.h"

namespace imgfs::vvfat {
namespace {

using testing::RunCommand;
using testing::RunResult;
using testing::TempDir;

#define REQUIRE_FAT_ORACLES()                         \
  do {                                                \
    IMGFS_REQUIRE(FoundTool("fsck.fat"), "fsck.fat"); \
    IMGFS_REQUIRE(FoundTool("mcopy"), "mcopy");       \
    IMGFS_REQUIRE(FoundTool("fdisk"), "fdisk");       \
    IMGFS_REQUIRE(FoundTool("file"), "file");         \
  } while (false)

bool FoundTool(const std::string& tool) {
  return RunCommand({"sh", "-c", "command -v " + tool}).exit_code == 0;
}

RunResult Mtools(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"env", "MTOOLS_SKIP_CHECK=1", "LC_ALL=C.UTF-8"});
  return RunCommand(argv);
}

const char* TypeText(FatType t) {
  switch (t) {
    case FatType::kFat12:
      return "FAT (12 bit)";
    case FatType::kFat16:
      return "FAT (16 bit)";
    case FatType::kFat32:
      return "FAT (32 bit)";
  }
  return "";
}

// Builds the disk of `src` and checks it with every oracle.
void CheckDisk(const std::string& src, FatType type, bool mbr = true, bool expect_empty = false) {
  TempDir work;
  DiskOptions o;
  o.plan.type = type;
  o.plan.mbr = mbr;
  ASSERT_OK_AND_ASSIGN(auto dev, MakeDisk(src, o));
  const uint64_t vol_offset = mbr ? 1 << 20 : 0;
  const std::string vol = work / "vol.img";
  ASSERT_TRUE(Dump(*dev, vol, vol_offset));

  RunResult fsck = RunCommand({"fsck.fat", "-n", "-v", vol});
  EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
  EXPECT_EQ(fsck.out.find("Free cluster summary wrong"), std::string::npos) << fsck.out;

  RunResult f = RunCommand({"file", "-s", vol});
  EXPECT_NE(f.out.find(TypeText(type)), std::string::npos) << f.out;

  if (mbr) {
    // fdisk reads the MBR only; the rest of the head stays a hole.
    const std::string head = work / "head.img";
    ASSERT_TRUE(Dump(*dev, head, 0, 512));
    ASSERT_EQ(::truncate(head.c_str(), static_cast<off_t>(dev->Size())), 0);
    RunResult fd = RunCommand({"fdisk", "-l", "-o", "Start,Sectors,Id", head});
    ASSERT_EQ(fd.exit_code, 0) << fd.err;
    char want[64];
    std::snprintf(want, sizeof want, " %llu",
                  static_cast<unsigned long long>((dev->Size() - vol_offset) / 512));
    EXPECT_NE(fd.out.find("2048"), std::string::npos) << fd.out;
    EXPECT_NE(fd.out.find(want), std::string::npos) << fd.out;
  }

  const std::string out = work / "out";
  ::mkdir(out.c_str(), 0755);
  // mdir -/ of an empty root says "not found"; a plain mdir says "No files".
  RunResult dir =
      expect_empty ? Mtools({"mdir", "-i", vol, "::/"}) : Mtools({"mdir", "-/", "-i", vol, "::/"});
  if (expect_empty) {
    EXPECT_NE(dir.out.find("No files"), std::string::npos) << dir.out << dir.err;
    return;
  }
  EXPECT_EQ(dir.exit_code, 0) << dir.err;
  RunResult copy = Mtools({"mcopy", "-s", "-n", "-i", vol, "::/", out + "/"});
  EXPECT_EQ(copy.exit_code, 0) << copy.err;
  auto want_tree = Snapshot(src);
  auto got_tree = Snapshot(out);
  ASSERT_EQ(want_tree.size(), got_tree.size());
  for (const auto& [path, bytes] : want_tree) {
    auto it = got_tree.find(path);
    ASSERT_NE(it, got_tree.end()) << "missing " << path;
    EXPECT_TRUE(it->second == bytes) << "bytes differ: " << path;
  }
}

// The tree of many kinds of names and sizes the issue lists.
void MakeMixedTree(const std::string& d) {
  Put(d + "/empty.txt", "");
  Put(d + "/README", "readme\n");
  Put(d + "/Makefile", "all:\n");
  Put(d + "/.hidden", "dot file");
  Put(d + "/Long File Name With Spaces.markdown", "long");
  Put(d + "/\u00fcn\u00efc\u00f6d\u00e9-\u540d\u524d.txt", "unicode");
  // No character beyond the BMP: mtools shows each surrogate as '_' (its
  // limit, not the disk's; vvfat_names_test checks the surrogate pairs).
  Put(d + "/" + std::string(250, 'n') + ".txt", "max length");
  for (int i = 0; i < 12; ++i) {
    Put(d + "/collide/long file name " + std::to_string(i) + ".text", std::to_string(i));
  }
  Put(d + "/collide/LONGFI~1.TEX", "literal");
  Put(d + "/sizes/one-cluster-512", testing::RandomBytes(512, 1));
  Put(d + "/sizes/one-cluster-4096", testing::RandomBytes(4096, 2));
  Put(d + "/sizes/cluster-plus-one", testing::RandomBytes(4097, 3));
  Put(d + "/sizes/odd", testing::RandomBytes(123457, 4));
  std::string deep = d + "/deep";
  for (int i = 0; i < 40; ++i) {
    deep += "/level" + std::to_string(i);
  }
  Put(deep + "/bottom.txt", "bottom");
}

class FatOracleTest : public ::testing::TestWithParam<FatType> {};

TEST_P(FatOracleTest, MixedTree) {
  REQUIRE_FAT_ORACLES();
  TempDir src;
  MakeMixedTree(src.path());
  CheckDisk(src.path(), GetParam());
}

TEST_P(FatOracleTest, MixedTreeWithoutMbr) {
  REQUIRE_FAT_ORACLES();
  TempDir src;
  MakeMixedTree(src.path());
  CheckDisk(src.path(), GetParam(), /*mbr=*/false);
}

TEST_P(FatOracleTest, EmptyTree) {
  REQUIRE_FAT_ORACLES();
  TempDir src;
  CheckDisk(src.path(), GetParam(), true, /*expect_empty=*/true);
}

TEST_P(FatOracleTest, ThousandsOfSmallFiles) {
  REQUIRE_FAT_ORACLES();
  TempDir src;
  for (int d = 0; d < 10; ++d) {
    for (int f = 0; f < 300; ++f) {
      Put(src / ("d" + std::to_string(d) + "/file number " + std::to_string(f) + ".dat"),
          std::to_string(d * 1000 + f));
    }
  }
  CheckDisk(src.path(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Types, FatOracleTest,
                         ::testing::Values(FatType::kFat12, FatType::kFat16, FatType::kFat32),
                         [](const auto& p) {
                           return "Fat" + std::to_string(static_cast<int>(p.param));
                         });

TEST(FatOracleLargeTest, HundredMiBFileOnFat16AndFat32) {
  REQUIRE_FAT_ORACLES();
  TempDir src;
  const std::string big = src / "big.bin";
  {
    // Mostly a hole, with data at both ends and across a cluster boundary.
    Put(big, testing::RandomBytes(1 << 20, 9));
    ASSERT_EQ(::truncate(big.c_str(), 100LL << 20), 0);
    const std::string tail = testing::RandomBytes(70000, 10);
    const int fd = ::open(big.c_str(), O_WRONLY);
    ASSERT_EQ(::pwrite(fd, tail.data(), tail.size(), (100LL << 20) - 70000),
              static_cast<ssize_t>(tail.size()));
    ::close(fd);
  }
  Put(src / "small.txt", "small");
  CheckDisk(src.path(), FatType::kFat16);
  CheckDisk(src.path(), FatType::kFat32);
}

}  // namespace
}  // namespace imgfs::vvfat
