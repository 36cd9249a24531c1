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
    RunResult r = Shell(
        "cd " + Q(dir_.path()) +
        " && truncate -s 12M disk.img && printf 'label: dos\\nstart=2048, size=4096, type=83\\n"
        "start=8192, size=8192, type=c\\n' | sfdisk -q disk.img"
        " && yes p1 | head -c 1500000 | dd of=disk.img bs=512 seek=2048 conv=notrunc status=none"
        " && yes p2 | head -c 3000000 | dd of=disk.img bs=512 seek=8192 conv=notrunc status=none"
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
  struct stat st {};
  ASSERT_EQ(::stat(view.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), ref_.size());
  EXPECT_EQ(ReadFile(view), ref_);
  int fd = ::open(view.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  for (uint64_t off : {uint64_t{1}, uint64_t{511}, kMiB - 3, 11 * kMiB + 4095}) {
    std::string buf(70001, '\0');
    ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
    ASSERT_GE(n, 0);
    EXPECT_EQ(buf.substr(0, static_cast<size_t>(n)), ref_.substr(off, static_cast<size_t>(n)));
  }
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
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(mnt_)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"disk.p1.raw", "disk.p2.raw", "disk.raw"}));
  EXPECT_EQ(ReadFile(m / "disk.p1.raw"), ref_.substr(2048 * 512, 4096 * 512));
  EXPECT_EQ(ReadFile(m / "disk.p2.raw"), ref_.substr(8192 * 512, 8192 * 512));
}

TEST_F(ParallelsMountTest, AsDmgReadsBackThroughQemuImg) {
  MakeDisk();
  Mount m({"--as", "dmg", dir_ / "disk.hds"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  RunResult r = Shell("cp " + Q(m / "disk.dmg") + " " + Q(dir_ / "copy.dmg") +
                      " && qemu-img convert -f dmg -O raw " + Q(dir_ / "copy.dmg") + " " +
                      Q(dir_ / "copy.raw"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(dir_ / "copy.raw"), ref_);
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
