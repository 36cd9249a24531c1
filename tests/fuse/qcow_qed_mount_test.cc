// SPDX-License-Identifier: MIT
// qcow (version 1) and qed images through a real FUSE mount: a qemu-made
// MBR disk (compressed qcow clusters; qed zero clusters) shows as
// <stem>.raw with qemu-img's bytes, size and data ranges (SEEK_DATA /
// SEEK_HOLE), its partitions with --partitions, itself as a DMG with --as
// dmg (read back by qemu-img's dmg driver); and a mixed chain three deep
// (qed over qcow over raw), with and without --no-backing.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/fuse/disk_view_checks.h"
#include "tests/fuse/test_util.h"

namespace imgfs::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

std::string Q(const std::string& s) { return "'" + s + "'"; }

// No pipefail: `yes | head` ends with SIGPIPE by design.
RunResult Shell(const std::string& cmd) { return RunCommand({"bash", "-c", cmd}); }

class QcowQedMountTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
    IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
    IMGFS_REQUIRE(HaveTool("sfdisk"), "sfdisk");
    mnt_ = dir_ / "mnt";
    std::filesystem::create_directory(mnt_);
  }

  std::string format() const { return GetParam(); }
  std::string image() const { return "disk." + format(); }

  // An MBR disk with two partitions of data, converted by qemu-img (qcow:
  // compressed, which qemu-img 7.2 finishes with a spurious exit 1, so it
  // is judged by qemu-img compare; qed: 4 KiB clusters), then written to
  // with qemu-io (zeros over data, an unaligned tail); qemu-img's raw bytes
  // in disk.ref.
  void MakeDisk() {
    const std::string convert =
        format() == "qcow"
            ? "(qemu-img convert -c -f raw -O qcow disk.img disk.qcow; "
              "qemu-img compare disk.img disk.qcow >/dev/null)"
            : "qemu-img convert -f raw -O qed -o cluster_size=4096,table_size=2 disk.img disk.qed";
    RunResult r = Shell(
        "cd " + Q(dir_.path()) + " && " + kMakeMbrTestDisk + " && " + convert + " && qemu-io -f " +
        format() + " -c 'write -P 0x5a 11M 4097' -c 'write -z 6M 8192' " + image() +
        " >/dev/null && qemu-img convert -f " + format() + " -O raw " + image() + " disk.ref");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ref_ = ReadFile(dir_ / "disk.ref");
  }

  TempDir dir_;
  std::string mnt_;
  std::string ref_;
};

TEST_P(QcowQedMountTest, RawViewMatchesQemuBytesSizeAndHoles) {
  MakeDisk();
  Mount m({dir_ / image()}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  const std::string view = m / "disk.raw";
  ExpectViewEquals(view, ref_, {1, 511, kMiB - 3, 6 * kMiB - 1, 11 * kMiB + 4095});
  const int fd = ::open(view.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  // SEEK_DATA/SEEK_HOLE land where qemu-img map puts the data runs.
  const auto data = QemuDataRanges({"-f", format(), dir_ / image()});
  ASSERT_FALSE(data.empty());
  EXPECT_EQ(SeekOrErrno(fd, 0, SEEK_DATA), static_cast<off_t>(data.front().first));
  for (auto [start, end] : data) {
    EXPECT_EQ(SeekOrErrno(fd, start, SEEK_HOLE), static_cast<off_t>(end)) << start;
    EXPECT_EQ(SeekOrErrno(fd, start + 1, SEEK_DATA), static_cast<off_t>(start + 1)) << start;
    if (end < ref_.size()) {
      EXPECT_EQ(SeekOrErrno(fd, end, SEEK_HOLE), static_cast<off_t>(end)) << end;
    }
  }
  ::close(fd);
}

TEST_P(QcowQedMountTest, PartitionsShowAsTheirOwnFiles) {
  MakeDisk();
  Mount m({"--partitions", dir_ / image()}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  ExpectMbrTestDiskPartitions(mnt_, "disk", ref_);
}

TEST_P(QcowQedMountTest, AsDmgReadsBackThroughQemuImg) {
  MakeDisk();
  Mount m({"--as", "dmg", dir_ / image()}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  ExpectDmgReadsBackThroughQemuImg(m / "disk.dmg", dir_.path(), ref_);
}

INSTANTIATE_TEST_SUITE_P(Formats, QcowQedMountTest, ::testing::Values("qcow", "qed"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           return std::string(p.param);
                         });

// qed over qcow over raw; --no-backing shows only the top layer, as
// qemu-img reads it with its backing link cut.
TEST(QcowQedChainMountTest, ThreeDeepAndNoBacking) {
  IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
  IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
  IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
  TempDir dir;
  const std::string mnt = dir / "mnt";
  std::filesystem::create_directory(mnt);
  RunResult r = Shell(
      "cd " + Q(dir.path()) +
      " && qemu-img create -q -f raw r.raw 4M && qemu-io -f raw -c 'write -P 0x71 0 4M' r.raw"
      " >/dev/null && qemu-img create -q -f qcow -b r.raw -F raw m.qcow 6M"
      " && qemu-io -f qcow -c 'write -P 0x72 1M 5000' -c 'write -P 0x73 4M 1M' m.qcow >/dev/null"
      " && qemu-img create -q -f qed -b m.qcow -F qcow t.qed 8M"
      " && qemu-io -f qed -c 'write -P 0x74 3M 7000' -c 'write -z 0 64k' t.qed >/dev/null"
      " && qemu-img convert -f qed -O raw t.qed t.ref"
      " && qemu-img convert -O raw 'json:{\"driver\": \"qed\", \"backing\": null, \"file\": "
      "{\"driver\": \"file\", \"filename\": \"t.qed\"}}' top.ref");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  {
    Mount m({dir / "t.qed"}, mnt);
    ASSERT_TRUE(m.ok()) << m.result().err;
    EXPECT_EQ(ReadFile(m / "t.raw"), ReadFile(dir / "t.ref"));
  }
  Mount m({"--no-backing", dir / "t.qed"}, mnt);
  ASSERT_TRUE(m.ok()) << m.result().err;
  EXPECT_EQ(ReadFile(m / "t.raw"), ReadFile(dir / "top.ref"));
}

}  // namespace
}  // namespace imgfs::testing
