// SPDX-License-Identifier: MIT
// vmdk disks through a real FUSE mount: a directory holding a split
// (descriptor + extents), a flat and a streamOptimized disk shows each once
// as <stem>.raw (never an extent file), with qemu-img's bytes, size and
// data ranges (SEEK_DATA/SEEK_HOLE); --partitions, --as dmg, convert -O
// dmg and raw, --no-backing and --confine-backing on a delta disk.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/fuse/test_util.h"

namespace imgfs::testing {
namespace {

std::set<std::string> Names(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.insert(e.path().filename().string());
  }
  return names;
}

class VmdkMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
    IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
    IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
    IMGFS_REQUIRE(HaveTool("sfdisk"), "sfdisk");
    std::filesystem::create_directory(dir_ / "img");
    std::filesystem::create_directory(mnt_);
    // An 8 MiB MBR disk with one partition and scattered data.
    const std::string raw = dir_ / "disk.raw";
    MustRun({"qemu-img", "create", "-q", "-f", "raw", raw, "8M"});
    MustRun({"bash", "-c", "printf 'label: dos\\nstart=2048, type=83\\n' | sfdisk -q " + raw});
    MustRun({"qemu-io", "-f", "raw", "-c", "write -P 0x5a 1M 200k", "-c",
             "write -P 0x6b 5000000 70000", "-c", "write -P 0x7c 8322048 66560", raw});
    for (const auto& [name, sf] :
         std::vector<std::pair<std::string, std::string>>{{"split", "twoGbMaxExtentSparse"},
                                                          {"flat", "monolithicFlat"},
                                                          {"stream", "streamOptimized"}}) {
      MustRun({"qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=" + sf, raw,
               dir_ / "img/" + (name + ".vmdk")});
    }
    ref_ = ReadFile(raw);
  }

  TempDir dir_;
  std::string mnt_ = dir_ / "mnt";
  std::string ref_;
};

TEST_F(VmdkMountTest, DirectoryShowsEachDiskOnceWithQemuBytesAndHoles) {
  Mount m({dir_ / "img"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  EXPECT_EQ(Names(mnt_), (std::set<std::string>{"flat.raw", "split.raw", "stream.raw"}))
      << m.result().err;
  for (const char* stem : {"flat", "split", "stream"}) {
    SCOPED_TRACE(stem);
    const std::string view = m / (std::string(stem) + ".raw");
    struct stat st {};
    ASSERT_EQ(::stat(view.c_str(), &st), 0);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), ref_.size());
    EXPECT_TRUE(ReadFile(view) == ref_);
  }
  // The sparse disk's holes are qemu-img map's, seen through lseek.
  const auto want = QemuDataRanges({dir_ / "img/" + "split.vmdk"});
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(QemuDataRanges({"-f", "raw", m / "split.raw"}), want);
  const int fd = ::open((m / "split.raw").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  for (auto [start, end] : want) {
    EXPECT_EQ(::lseek(fd, static_cast<off_t>(start), SEEK_HOLE), static_cast<off_t>(end));
    EXPECT_EQ(::lseek(fd, static_cast<off_t>(start + 1), SEEK_DATA), static_cast<off_t>(start + 1));
  }
  EXPECT_EQ(::lseek(fd, 0, SEEK_DATA), static_cast<off_t>(want.front().first));
  ::close(fd);
}

TEST_F(VmdkMountTest, PartitionsAndDmgViews) {
  {
    Mount m({"--partitions", dir_ / "img/" + "split.vmdk"}, mnt_);
    ASSERT_TRUE(m.ok()) << m.result().err;
    EXPECT_TRUE(ReadFile(m / "split.p1.raw") == ref_.substr(1 << 20));
  }
  Mount m({"--as", "dmg", dir_ / "img/" + "stream.vmdk"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  MustRun({"qemu-img", "convert", "-f", "dmg", "-O", "raw", m / "stream.dmg", dir_ / "v.raw"});
  EXPECT_TRUE(ReadFile(dir_ / "v.raw") == ref_);
}

TEST_F(VmdkMountTest, ConvertToDmgAndRaw) {
  for (const char* stem : {"split", "stream", "flat"}) {
    SCOPED_TRACE(stem);
    const std::string src = dir_ / "img/" + (std::string(stem) + ".vmdk");
    MustRun({ImgfsBinary(), "convert", "-O", "dmg", src, dir_ / "o.dmg"});
    MustRun({"qemu-img", "convert", "-f", "dmg", "-O", "raw", dir_ / "o.dmg", dir_ / "o.raw"});
    EXPECT_TRUE(ReadFile(dir_ / "o.raw") == ref_);
    MustRun({ImgfsBinary(), "convert", "-O", "raw", src, dir_ / "r.raw"});
    EXPECT_TRUE(ReadFile(dir_ / "r.raw") == ref_);
    std::filesystem::remove(dir_ / "o.dmg");
    std::filesystem::remove(dir_ / "o.raw");
    std::filesystem::remove(dir_ / "r.raw");
  }
}

TEST_F(VmdkMountTest, DeltaDiskBackingRules) {
  std::filesystem::create_directory(dir_ / "top");
  MustRun({"qemu-img", "create", "-q", "-f", "vmdk", "-b", "../img/stream.vmdk", "-F", "vmdk",
           dir_ / "top/" + "delta.vmdk"});
  MustRun({"qemu-io", "-f", "vmdk", "-c", "write -P 0x99 0 4096", dir_ / "top/" + "delta.vmdk"});
  std::string want = ref_;
  want.replace(0, 4096, std::string(4096, '\x99'));
  {
    Mount m({dir_ / "top/" + "delta.vmdk"}, mnt_);
    ASSERT_TRUE(m.ok()) << m.result().err;
    EXPECT_TRUE(ReadFile(m / "delta.raw") == want);
  }
  {
    Mount m({"--no-backing", dir_ / "top/" + "delta.vmdk"}, mnt_);
    ASSERT_TRUE(m.ok()) << m.result().err;
    EXPECT_TRUE(ReadFile(m / "delta.raw") ==
                std::string(4096, '\x99') + std::string(ref_.size() - 4096, '\0'));
  }
  Mount m({"--confine-backing", dir_ / "top/" + "delta.vmdk"}, mnt_);
  EXPECT_FALSE(m.ok());
  EXPECT_NE(m.result().err.find("outside"), std::string::npos) << m.result().err;
}

}  // namespace
}  // namespace imgfs::testing
