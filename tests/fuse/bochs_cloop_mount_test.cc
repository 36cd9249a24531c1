// SPDX-License-Identifier: MIT
// Bochs and cloop images through a real FUSE mount. An MBR disk (two
// partitions with data) is turned into a bochs growing image by bximage and
// into a cloop image by create_compressed_fs; each mount shows
// <stem>.raw with qemu-img's bytes and size, answers SEEK_DATA/SEEK_HOLE
// (bochs: holes where bximage stored nothing; cloop: no holes), shows the
// partitions with --partitions and the disk as a DMG with --as dmg (read
// back by qemu-img's dmg driver). Builder-made bochs v1 and cloop V4.0
// header-last images mount too.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/formats/bochs/test_bochs_builder.h"
#include "tests/formats/cloop/test_cloop_builder.h"
#include "tests/fuse/disk_view_checks.h"
#include "tests/fuse/test_util.h"

namespace imgfs::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

std::string Q(const std::string& s) { return "'" + s + "'"; }

RunResult Shell(const std::string& cmd) { return RunCommand({"bash", "-c", cmd}); }

// test_util.h's HaveTool runs `TOOL --version`, which bximage and
// create_compressed_fs refuse.
bool OnPath(const std::string& tool) { return Shell("command -v " + tool).exit_code == 0; }

// Data runs [start, end) of `raw` at sector granularity: non-zero sectors.
std::vector<std::pair<uint64_t, uint64_t>> NonZeroSectors(const std::string& raw) {
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  const std::string zero(512, '\0');
  for (uint64_t s = 0; s < raw.size(); s += 512) {
    if (raw.compare(s, 512, zero) == 0) {
      continue;
    }
    if (!runs.empty() && runs.back().second == s) {
      runs.back().second = s + 512;
    } else {
      runs.emplace_back(s, s + 512);
    }
  }
  return runs;
}

class BochsCloopMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
    IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
    IMGFS_REQUIRE(OnPath("bximage"), "bximage");
    IMGFS_REQUIRE(OnPath("create_compressed_fs"), "create_compressed_fs");
    mnt_ = dir_ / "mnt";
    std::filesystem::create_directory(mnt_);
    RunResult r = Shell(
        "cd " + Q(dir_.path()) +
        " && truncate -s 12M disk.img && printf 'label: dos\\nstart=2048, size=4096, type=83\\n"
        "start=8192, size=8192, type=c\\n' | sfdisk -q disk.img"
        " && yes p1 | head -c 1500000 | dd of=disk.img bs=512 seek=2048 conv=notrunc status=none"
        " && head -c 3000000 /dev/urandom | dd of=disk.img bs=512 seek=8192 conv=notrunc "
        "status=none"
        " && printf tail | dd of=disk.img bs=1 seek=$((12*1024*1024-7)) conv=notrunc status=none"
        " && bximage -q -func=convert -imgmode=growing disk.img disk.bochs >/dev/null 2>&1"
        " && create_compressed_fs -q -B 65536 disk.img disk.cloop >/dev/null 2>&1"
        " && qemu-img convert -f bochs -O raw disk.bochs bochs.ref"
        " && qemu-img convert -f cloop -O raw disk.cloop cloop.ref");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    raw_ = ReadFile(dir_ / "disk.img");
    ASSERT_EQ(ReadFile(dir_ / "bochs.ref"), raw_);
    ASSERT_EQ(ReadFile(dir_ / "cloop.ref"), raw_);
  }

  // <stem>.raw under the mount of `image`: bytes, size, odd preads, and
  // SEEK_DATA/SEEK_HOLE against `data` runs.
  void ExpectRawView(const std::string& image, const std::string& stem,
                     const std::vector<std::pair<uint64_t, uint64_t>>& data) {
    Mount m({dir_ / image}, mnt_);
    ASSERT_TRUE(m.ok()) << m.result().err;
    const std::string view = m / (stem + ".raw");
    ExpectViewEquals(view, raw_, {1, 511, kMiB - 3, 4 * kMiB + 77, 12 * kMiB - 9000});
    const int fd = ::open(view.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    SCOPED_TRACE(image);
    ExpectSeeksMatchRanges(fd, raw_.size(), data, 131072 + 4093);
    ::close(fd);
  }

  TempDir dir_;
  std::string mnt_;
  std::string raw_;
};

TEST_F(BochsCloopMountTest, BochsRawViewMatchesQemuAndHolesAreUnwrittenSectors) {
  ExpectRawView("disk.bochs", "disk", NonZeroSectors(raw_));
}

TEST_F(BochsCloopMountTest, CloopRawViewMatchesQemuAndHasNoHoles) {
  ExpectRawView("disk.cloop", "disk", {{0, raw_.size()}});
}

TEST_F(BochsCloopMountTest, PartitionsShowAsTheirOwnFiles) {
  for (const char* image : {"disk.bochs", "disk.cloop"}) {
    Mount m({"--partitions", dir_ / image}, mnt_);
    ASSERT_TRUE(m.ok()) << m.result().err;
    SCOPED_TRACE(image);
    ExpectMbrTestDiskPartitions(mnt_, "disk", raw_);
  }
}

TEST_F(BochsCloopMountTest, AsDmgReadsBackThroughQemuImg) {
  for (const char* image : {"disk.bochs", "disk.cloop"}) {
    Mount m({"--as", "dmg", dir_ / image}, mnt_);
    ASSERT_TRUE(m.ok()) << m.result().err;
    SCOPED_TRACE(image);
    ExpectDmgReadsBackThroughQemuImg(m / "disk.dmg", dir_.path(), raw_);
  }
}

TEST_F(BochsCloopMountTest, BuilderImagesMount) {
  bochs::testing::BochsSpec b;
  b.version = 0x00010000;
  b.disk_bytes = 2 * kMiB;
  for (uint64_t s = 5; s < 4096; s += 9) {
    b.sectors[s] = bochs::testing::Pattern(512, static_cast<uint32_t>(s));
  }
  WriteFile(dir_ / "v1.bochs", bochs::testing::BuildBochs(b));
  cloop::testing::CloopSpec c;
  c.version = 4;
  c.header_last = true;
  c.block_bytes = 16384;
  c.disk = raw_.substr(0, 3 * kMiB);
  c.flags = {1, 0, 1, 0};
  WriteFile(dir_ / "v4.cloop", cloop::testing::BuildCloop(c));
  Mount m({dir_ / "v1.bochs", dir_ / "v4.cloop"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  EXPECT_TRUE(ReadFile(m / "v1.raw") == bochs::testing::ExpectedDisk(b));
  EXPECT_TRUE(ReadFile(m / "v4.raw") == cloop::testing::PaddedDisk(c));
}

}  // namespace
}  // namespace imgfs::testing
