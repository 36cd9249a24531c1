// SPDX-License-Identifier: MIT
// VHD through a real FUSE mount: qemu-made dynamic and fixed disks show as
// <stem>.raw with qemu-img's bytes, size and holes (SEEK_DATA/SEEK_HOLE
// against `qemu-img map`); a differencing chain reads as 7-Zip reads it;
// the Windows-made disk of tests/data/vpc-real/ shows its GPT partitions
// with --partitions (its bytes are checked against three readers by
// vpc_cli_test); --as dmg serves a DMG qemu-img reads as the disk.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "formats/vpc/header.h"
#include "tests/formats/vpc/test_vhd_builder.h"
#include "tests/fuse/test_util.h"

namespace imgfs::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

class VpcMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
    IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
    mnt_ = dir_ / "mnt";
    std::filesystem::create_directory(mnt_);
  }
  // `qemu-img convert -O raw` of a VHD.
  std::string QemuRaw(const std::string& name) {
    MustRun({"qemu-img", "convert", "-f", "vpc", "-O", "raw", dir_ / name, dir_ / (name + ".ref")});
    return ReadFile(dir_ / (name + ".ref"));
  }
  TempDir dir_;
  std::string mnt_;
};

off_t SeekOrErrno(int fd, off_t off, int whence) {
  off_t r = ::lseek(fd, off, whence);
  return r < 0 ? -errno : r;
}

TEST_F(VpcMountTest, DynamicAndFixedShowQemuBytesSizesAndHoles) {
  MustRun({"qemu-img", "create", "-q", "-f", "vpc", dir_ / "d.vhd", "9M"});
  MustRun({"qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=fixed", dir_ / "f.vhd",
           "3000001"});
  for (const char* name : {"d.vhd", "f.vhd"}) {
    MustRun({"qemu-io", "-f", "vpc", "-c", "write -P 0x5a 1M 64k", "-c",
             "write -P 0xa5 1500001 100000", dir_ / name});
  }
  MustRun({"qemu-io", "-f", "vpc", "-c", "write -P 0x11 5M 3000", dir_ / "d.vhd"});
  const std::string d = QemuRaw("d.vhd");
  const std::string f = QemuRaw("f.vhd");
  Mount m({dir_ / "d.vhd", dir_ / "f.vhd"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  EXPECT_EQ(std::filesystem::file_size(m / "d.raw"), d.size());
  EXPECT_EQ(std::filesystem::file_size(m / "f.raw"), f.size());
  EXPECT_TRUE(ReadFile(m / "d.raw") == d);
  EXPECT_TRUE(ReadFile(m / "f.raw") == f);
  int fd = ::open((m / "d.raw").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  for (uint64_t off : {uint64_t{0}, uint64_t{1}, kMiB - 3, 2 * kMiB - 100, 5 * kMiB + 2999}) {
    std::string buf(4097, '\0');
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
    ASSERT_GT(n, 0);
    EXPECT_EQ(buf.substr(0, static_cast<size_t>(n)), d.substr(off, static_cast<size_t>(n)))
        << "at " << off;
  }
  // Holes: qemu-img's data ranges of the image, seen through SEEK_DATA /
  // SEEK_HOLE of the mounted file (2 MiB blocks 0, 2 holding data).
  const auto want = QemuDataRanges({"-f", "vpc", dir_ / "d.vhd"});
  ASSERT_EQ(want,
            (std::vector<std::pair<uint64_t, uint64_t>>{{0, 2 * kMiB}, {4 * kMiB, 6 * kMiB}}));
  for (auto [start, end] : want) {
    EXPECT_EQ(SeekOrErrno(fd, static_cast<off_t>(start), SEEK_HOLE), static_cast<off_t>(end));
    EXPECT_EQ(SeekOrErrno(fd, static_cast<off_t>(start + 1), SEEK_DATA),
              static_cast<off_t>(start + 1));
  }
  EXPECT_EQ(SeekOrErrno(fd, static_cast<off_t>(2 * kMiB), SEEK_DATA), static_cast<off_t>(4 * kMiB));
  EXPECT_EQ(SeekOrErrno(fd, static_cast<off_t>(6 * kMiB), SEEK_DATA), -ENXIO);
  EXPECT_EQ(QemuDataRanges({"-f", "raw", m / "d.raw"}), want);
  ::close(fd);
}

TEST_F(VpcMountTest, AsDmgServesADmgOfTheDisk) {
  MustRun({"qemu-img", "create", "-q", "-f", "vpc", dir_ / "d.vhd", "5M"});
  MustRun({"qemu-io", "-f", "vpc", "-c", "write -P 0x5a 1M 64k", dir_ / "d.vhd"});
  Mount m({"--as", "dmg", dir_ / "d.vhd"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  RunResult r =
      RunCommand({"qemu-img", "compare", "-f", "dmg", "-F", "vpc", m / "d.dmg", dir_ / "d.vhd"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(VpcMountTest, RealWindowsDiskShowsItsPartitions) {
  IMGFS_REQUIRE(HaveTool("xz"), "xz");
  const std::string xz = std::string(IMGFS_TEST_DATA_DIR) + "/vpc-real/nodevhd-dynamic.vhd.xz";
  MustRun({"bash", "-c", "xz -dc '" + xz + "' > '" + (dir_ / "real.vhd") + "'"});
  Mount m({"--partitions", dir_ / "real.vhd"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(mnt_)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"real.p1.raw", "real.p2.raw", "real.p3.raw",
                                             "real.p4.raw", "real.raw"}));
  EXPECT_EQ(std::filesystem::file_size(m / "real.raw"), 536870912u);
  // Partition 2 (the first basic data partition, 100 MiB) is the same
  // bytes as that slice of the disk.
  const std::string p2 = ReadFile(m / "real.p2.raw");
  ASSERT_EQ(p2.size(), 104857600u);
  std::string slice(p2.size(), '\0');
  int fd = ::open((m / "real.raw").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::pread(fd, slice.data(), slice.size(), 33619968), static_cast<ssize_t>(slice.size()));
  ::close(fd);
  EXPECT_TRUE(slice == p2);
  EXPECT_NE(p2.find_first_not_of('\0'), std::string::npos);  // not all zeros
}

// base.vhd (qemu-img) <- child.vhd (the spec-based builder, sector
// bitmaps); the mounted child.raw is what 7-Zip extracts, and --no-backing
// shows the child's own sectors only.
TEST_F(VpcMountTest, DifferencingChainReadsAsSevenZipReadsIt) {
  IMGFS_REQUIRE(RunCommand({"sh", "-c", "command -v 7zz"}).exit_code == 0, "7zz");
  MustRun(
      {"qemu-img", "create", "-q", "-f", "vpc", "-o", "force_size=on", dir_ / "base.vhd", "4M"});
  MustRun({"qemu-io", "-f", "vpc", "-c", "write -P 0x61 0 1M", dir_ / "base.vhd"});
  const std::string base = ReadFile(dir_ / "base.vhd");
  vpc::testing::VhdSpec child;
  child.type = vpc::DiskType::kDifferencing;
  child.size_bytes = 4 * kMiB;
  child.contents.assign(child.size_bytes, '\0');
  child.stored.assign(child.size_bytes / 512, false);
  for (uint64_t s = 1; s < child.stored.size(); s += 9) {
    child.stored[s] = true;
    child.contents.replace(s * 512, 512, 512, static_cast<char>('A' + s % 26));
  }
  for (size_t i = 0; i < child.parent_unique_id.size(); ++i) {
    child.parent_unique_id[i] = static_cast<std::byte>(base[base.size() - 512 + 68 + i]);
  }
  child.locators = {{"W2ru", ".\\base.vhd"}};
  WriteFile(dir_ / "child.vhd", vpc::testing::BuildVhd(child));
  MustRun({"7zz", "x", "-tvhd", "-y", "-o" + (dir_ / "7z"), dir_ / "child.vhd"});
  std::string extracted;
  for (const auto& e : std::filesystem::directory_iterator(dir_ / "7z")) {
    extracted = ReadFile(e.path().string());
  }
  ASSERT_EQ(extracted.size(), 4 * kMiB);
  ASSERT_EQ(extracted[0], 0x61);   // the parent shows through
  ASSERT_EQ(extracted[512], 'B');  // the child's sector 1
  {
    Mount m({dir_ / "child.vhd"}, mnt_);
    ASSERT_TRUE(m.ok()) << m.result().err;
    EXPECT_TRUE(ReadFile(m / "child.raw") == extracted);
  }
  Mount m({"--no-backing", dir_ / "child.vhd"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  const std::string top = ReadFile(m / "child.raw");
  EXPECT_EQ(top[0], 0);
  EXPECT_EQ(top[512], 'B');
}

}  // namespace
}  // namespace imgfs::testing
