// SPDX-License-Identifier: MIT
// Parallels images through a real FUSE mount: a qemu-made image holding an
// MBR disk shows as <stem>.raw (bytes, size, SEEK_DATA/SEEK_HOLE against
// qemu-img), its partitions with --partitions, itself as a DMG with --as
// dmg (read back by qemu-img's dmg driver); and a .hdd bundle (a
// qemu-made root under a builder-made snapshot) mounted by its directory,
// with --no-backing and --confine-backing.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/formats/parallels/test_parallels_builder.h"
#include "tests/fuse/disk_view_checks.h"
#include "tests/fuse/test_util.h"

namespace imgfs::testing {
namespace {

using parallels::testing::BuildDescriptor;
using parallels::testing::BuildHds;
using parallels::testing::BundleSpec;
using parallels::testing::ExpectedDisk;
using parallels::testing::HdsSpec;
using parallels::testing::Pattern;
using parallels::testing::SeededGuid;

constexpr uint64_t kMiB = 1 << 20;

std::string Q(const std::string& s) { return "'" + s + "'"; }

// No pipefail: `yes | head` ends with SIGPIPE by design.
RunResult Shell(const std::string& cmd) { return RunCommand({"bash", "-c", cmd}); }

class ParallelsMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
    IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
    mnt_ = dir_ / "mnt";
    std::filesystem::create_directory(mnt_);
  }

  // disk.hds: an MBR disk (two partitions with data) converted by qemu-img
  // with 64 KiB clusters, then written to with qemu-io; its qemu-img raw
  // bytes in disk.ref.
  void MakeDisk() {
    RunResult r =
        Shell("cd " + Q(dir_.path()) + " && " + kMakeMbrTestDisk +
              " && qemu-img convert -f raw -O parallels -o cluster_size=64k disk.img disk.hds"
              " && qemu-io -f parallels -c 'write -P 0x5a 11M 4097' -c 'write -z 6M 4096' disk.hds"
              " >/dev/null && qemu-img convert -f parallels -O raw disk.hds disk.ref");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ref_ = ReadFile(dir_ / "disk.ref");
  }

  TempDir dir_;
  std::string mnt_;
  std::string ref_;
};

TEST_F(ParallelsMountTest, RawViewMatchesQemuBytesSizeAndHoles) {
  MakeDisk();
  Mount m({dir_ / "disk.hds"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  const std::string view = m / "disk.raw";
  ExpectViewEquals(view, ref_, {1, 511, kMiB - 3, 11 * kMiB + 4095});
  const int fd = ::open(view.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  // SEEK_DATA/SEEK_HOLE land where qemu-img map puts the data runs.
  const auto data = QemuDataRanges({dir_ / "disk.hds"});
  ASSERT_FALSE(data.empty());
  ExpectSeeksMatchRanges(fd, ref_.size(), data);
  ::close(fd);
}

TEST_F(ParallelsMountTest, PartitionsShowAsTheirOwnFiles) {
  MakeDisk();
  Mount m({"--partitions", dir_ / "disk.hds"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  ExpectMbrTestDiskPartitions(mnt_, "disk", ref_);
}

TEST_F(ParallelsMountTest, AsDmgReadsBackThroughQemuImg) {
  MakeDisk();
  Mount m({"--as", "dmg", dir_ / "disk.hds"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  ExpectDmgReadsBackThroughQemuImg(m / "disk.dmg", dir_.path(), ref_);
}

// Old-signature images (the test builder's; qemu-img reads them too).
TEST_F(ParallelsMountTest, OldSignatureImageMatchesQemu) {
  HdsSpec s;
  s.cluster_offsets = false;
  s.cluster_sectors = 63;
  s.disk_sectors = 63 * 40 + 7;
  s.clusters[0] = Pattern(63 * 512, 1);
  s.clusters[17] = Pattern(1000, 2);
  s.clusters[40] = Pattern(63 * 512, 3);
  s.reverse_storage = true;
  WriteFile(dir_ / "old.hds", BuildHds(s));
  RunResult r = Shell("cd " + Q(dir_.path()) +
                      " && qemu-img convert -f parallels -O raw old.hds "
                      "old.ref");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(ReadFile(dir_ / "old.ref"), ExpectedDisk(s));
  Mount m({dir_ / "old.hds"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  EXPECT_EQ(ReadFile(m / "old.raw"), ExpectedDisk(s));
}

TEST_F(ParallelsMountTest, BundleMountsByItsDirectory) {
  const std::string hdd = dir_ / "vm.hdd";
  std::filesystem::create_directory(hdd);
  RunResult r = Shell("cd " + Q(hdd) +
                      " && qemu-img create -q -f parallels root.hds 4M && qemu-io -f parallels "
                      "-c 'write -P 0x61 0 4M' root.hds >/dev/null && qemu-img convert -f "
                      "parallels -O raw root.hds ../root.ref");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  HdsSpec top;
  top.cluster_sectors = 2048;
  top.disk_sectors = 4 * kMiB / 512;
  top.clusters[2] = Pattern(kMiB, 5);
  WriteFile(hdd + "/top.hds", BuildHds(top));
  const std::string root_guid = SeededGuid(1);
  const std::string top_guid = SeededGuid(2);
  BundleSpec b;
  b.disk_sectors = top.disk_sectors;
  b.storages.push_back(
      {0,
       b.disk_sectors,
       2048,
       {{root_guid, "Compressed", "root.hds"}, {top_guid, "Compressed", "top.hds"}}});
  b.shots = {{root_guid, "{00000000-0000-0000-0000-000000000000}"}, {top_guid, root_guid}};
  b.top_guid = top_guid;
  WriteFile(hdd + "/DiskDescriptor.xml", BuildDescriptor(b));
  const std::string root_raw = ReadFile(dir_ / "root.ref");
  {
    Mount m({hdd}, mnt_);
    ASSERT_TRUE(m.ok()) << m.result().err;
    EXPECT_EQ(ReadFile(m / "vm.raw"), ExpectedDisk(top, root_raw));
  }
  {
    Mount m({"--no-backing", hdd}, mnt_);
    ASSERT_TRUE(m.ok()) << m.result().err;
    EXPECT_EQ(ReadFile(m / "vm.raw"), ExpectedDisk(top));
  }
  {
    // A directory mount shows the bundle as one disk, not its .hds files.
    Mount m({dir_.path()}, mnt_);
    ASSERT_TRUE(m.ok()) << m.result().err;
    EXPECT_EQ(ReadFile(m / "vm.raw"), ExpectedDisk(top, root_raw));
  }
  // The root moved outside the bundle: read normally, refused when confined.
  std::filesystem::rename(hdd + "/root.hds", dir_ / "root.hds");
  b.storages[0].images[0].file = "../root.hds";
  WriteFile(hdd + "/DiskDescriptor.xml", BuildDescriptor(b));
  {
    Mount m({hdd}, mnt_);
    ASSERT_TRUE(m.ok()) << m.result().err;
    EXPECT_EQ(ReadFile(m / "vm.raw"), ExpectedDisk(top, root_raw));
  }
  Mount confined({"--confine-backing", hdd}, mnt_);
  EXPECT_FALSE(confined.ok());
  EXPECT_NE(confined.result().err.find("lies outside the bundle"), std::string::npos)
      << confined.result().err;
}

}  // namespace
}  // namespace imgfs::testing
