// SPDX-License-Identifier: MIT
// VDI images through a real FUSE mount: a qemu-made image holding an MBR
// disk shows as <stem>.raw (bytes, size, SEEK_DATA/SEEK_HOLE against
// qemu-img), its partitions with --partitions, itself as a DMG with
// --as dmg (read back by qemu-img's dmg driver); and a differencing chain
// made by the test builder, with and without --no-backing.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/formats/vdi/test_vdi_builder.h"
#include "tests/fuse/disk_view_checks.h"
#include "tests/fuse/test_util.h"

namespace imgfs::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

std::string Q(const std::string& s) { return "'" + s + "'"; }

// No pipefail: `yes | head` ends with SIGPIPE by design.
RunResult Shell(const std::string& cmd) { return RunCommand({"bash", "-c", cmd}); }

class VdiMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
    IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
    mnt_ = dir_ / "mnt";
    std::filesystem::create_directory(mnt_);
  }

  // disk.vdi: an MBR disk (two partitions with data) converted by qemu-img,
  // then written to with qemu-io; its qemu-img raw bytes in disk.ref.
  void MakeDisk() {
    RunResult r =
        Shell("cd " + Q(dir_.path()) + " && " + kMakeMbrTestDisk +
              " && qemu-img convert -f raw -O vdi disk.img disk.vdi"
              " && qemu-io -f vdi -c 'write -P 0x5a 11M 4097' -c 'write -z 6M 4096' disk.vdi"
              " >/dev/null && qemu-img convert -f vdi -O raw disk.vdi disk.ref");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ref_ = ReadFile(dir_ / "disk.ref");
  }

  TempDir dir_;
  std::string mnt_;
  std::string ref_;
};

TEST_F(VdiMountTest, RawViewMatchesQemuBytesSizeAndHoles) {
  MakeDisk();
  Mount m({dir_ / "disk.vdi"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  const std::string view = m / "disk.raw";
  ExpectViewEquals(view, ref_, {1, 511, kMiB - 3, 11 * kMiB + 4095});
  const int fd = ::open(view.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  // SEEK_DATA/SEEK_HOLE land where qemu-img map puts the data runs.
  const auto data = QemuDataRanges({dir_ / "disk.vdi"});
  ASSERT_FALSE(data.empty());
  ExpectSeeksMatchRanges(fd, ref_.size(), data);
  ::close(fd);
}

TEST_F(VdiMountTest, PartitionsShowAsTheirOwnFiles) {
  MakeDisk();
  Mount m({"--partitions", dir_ / "disk.vdi"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  ExpectMbrTestDiskPartitions(mnt_, "disk", ref_);
}

TEST_F(VdiMountTest, AsDmgReadsBackThroughQemuImg) {
  MakeDisk();
  Mount m({"--as", "dmg", dir_ / "disk.vdi"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  ExpectDmgReadsBackThroughQemuImg(m / "disk.dmg", dir_.path(), ref_);
}

TEST_F(VdiMountTest, DifferencingChainAndNoBacking) {
  RunResult r =
      Shell("cd " + Q(dir_.path()) +
            " && qemu-img create -q -f vdi base.vdi 3M && qemu-io -f vdi -c 'write -P "
            "0x61 0 3M' base.vdi >/dev/null && qemu-img convert -O raw base.vdi base.ref");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string base = ReadFile(dir_ / "base.vdi");
  vdi::testing::VdiSpec diff;
  diff.type = 4;
  diff.disk_bytes = 3 * kMiB;
  std::memcpy(diff.parent_uuid.data(), base.data() + 0x188, 16);
  std::memcpy(diff.parent_modification_uuid.data(), base.data() + 0x198, 16);
  diff.blocks[1] = vdi::testing::Pattern(kMiB, 9);
  diff.zero_blocks = {2};
  WriteFile(dir_ / "diff.vdi", vdi::testing::BuildVdi(diff));
  const std::string want = vdi::testing::ExpectedDisk(diff, ReadFile(dir_ / "base.ref"));
  {
    Mount m({dir_ / "diff.vdi"}, mnt_);
    ASSERT_TRUE(m.ok()) << m.result().err;
    EXPECT_EQ(ReadFile(m / "diff.raw"), want);
  }
  {
    Mount m({"--no-backing", dir_ / "diff.vdi"}, mnt_);
    ASSERT_TRUE(m.ok()) << m.result().err;
    EXPECT_EQ(ReadFile(m / "diff.raw"), vdi::testing::ExpectedDisk(diff));
  }
  std::filesystem::remove(dir_ / "base.vdi");
  Mount m({dir_ / "diff.vdi"}, mnt_);
  EXPECT_FALSE(m.ok());
  EXPECT_NE(m.result().err.find("not found"), std::string::npos) << m.result().err;
}

}  // namespace
}  // namespace imgfs::testing
