// SPDX-License-Identifier: MIT
// VHDX through the binary: a real FUSE mount (<stem>.raw of qemu-made,
// Windows-made, dirty and differencing images, SEEK_DATA/SEEK_HOLE,
// --partitions, --as dmg) and the CLI (info, check, map, convert -O raw and
// -O dmg, --no-backing, --confine-backing, bad input), each against
// qemu-img or 7-Zip.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/formats/vhdx/test_vhdx_builder.h"
#include "tests/fuse/test_util.h"

namespace imgfs::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

std::string Q(const std::string& s) { return "'" + s + "'"; }

RunResult Imgfs(std::vector<std::string> args) {
  args.insert(args.begin(), ImgfsBinary());
  return RunCommand(args);
}

RunResult Shell(const std::string& cmd) {
  return RunCommand({"bash", "-o", "pipefail", "-c", cmd});
}

off_t Seek(const std::string& path, off_t at, int whence) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    return -2;
  }
  const off_t r = ::lseek(fd, at, whence);
  const int err = errno;
  ::close(fd);
  return r < 0 ? -err : r;
}

class VhdxMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
    IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
    // A 12 MiB disk with an MBR (two partitions) and data in both, made
    // raw by sfdisk and qemu-io, then converted by qemu-img.
    IMGFS_REQUIRE(HaveTool("sfdisk"), "sfdisk (Debian package fdisk)");
    MustRun({"bash", "-c",
             "cd " + Q(dir_.path()) +
                 " && qemu-img create -q -f raw disk.raw 12M && "
                 "printf 'start=2048, size=8192, type=83\\nstart=10240, size=10240, type=83\\n' "
                 "| sfdisk -q disk.raw && "
                 "qemu-io -f raw -c 'write -P 0x41 1M 300k' -c 'write -P 0x42 6000000 70000' "
                 "-c 'write -P 0x43 11M 4096' disk.raw >/dev/null && "
                 "qemu-img convert -O vhdx -o block_size=1M disk.raw disk.vhdx"});
    disk_ = ReadFile(dir_ / "disk.raw");
  }

  TempDir dir_;
  std::string disk_;
};

TEST_F(VhdxMountTest, MountShowsEveryKindOfImage) {
  IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
  // Builder images: a dirty log and a differencing pair.
  VhdxBuilder b(4 * kMiB);
  b.WriteBlock(1, RandomBytes(kMiB, 5));
  WriteFile(dir_ / "dirty.vhdx", b.BuildDirty({b.bat_offset()}, '\0'));
  std::string dirty_expected = std::string(kMiB, '\0') + RandomBytes(kMiB, 5);
  dirty_expected.resize(4 * kMiB);
  VhdxBuilder parent(4 * kMiB);
  parent.SetDataWriteGuidSeed(9);
  parent.WriteBlock(0, RandomBytes(kMiB, 6));
  parent.WriteBlock(3, RandomBytes(kMiB, 7));
  WriteFile(dir_ / "base.vhdx", parent.Build());
  VhdxBuilder child(4 * kMiB);
  child.SetDataWriteGuidSeed(10);
  child.SetParent({{"parent_linkage", parent.DataWriteGuidText()}, {"relative_path", "base.vhdx"}});
  std::vector<bool> present(kMiB / 512);
  for (size_t s = 0; s < present.size(); s += 3) {
    present[s] = true;
  }
  child.WritePartial(0, RandomBytes(kMiB, 8), present);
  WriteFile(dir_ / "child.avhdx", child.Build());
  std::string child_expected = ReadFile(dir_ / "base.vhdx").empty() ? "" : RandomBytes(kMiB, 6);
  const std::string own = RandomBytes(kMiB, 8);
  for (size_t s = 0; s < present.size(); s += 3) {
    child_expected.replace(s * 512, 512, own.substr(s * 512, 512));
  }
  child_expected += std::string(2 * kMiB, '\0') + RandomBytes(kMiB, 7);
  // The Windows-made image.
  MustRun({"bash", "-c",
           "xz -dc " + Q(std::string(IMGFS_TEST_DATA_DIR) + "/vhdx-real/discutils-swap.vhdx.xz") +
               " > " + Q(dir_ / "swap.vhdx")});

  std::filesystem::create_directory(dir_ / "mnt");
  Mount m({dir_ / "disk.vhdx", dir_ / "dirty.vhdx", dir_ / "child.avhdx", dir_ / "swap.vhdx"},
          dir_ / "mnt");
  ASSERT_TRUE(m.ok()) << m.result().err;
  EXPECT_EQ(ReadFile(m / "disk.raw"), disk_);
  EXPECT_EQ(ReadFile(m / "dirty.raw"), dirty_expected);
  EXPECT_EQ(ReadFile(m / "child.raw"), child_expected);
  struct stat st {};
  ASSERT_EQ(::stat((m / "swap.raw").c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), uint64_t{10} << 30);
  // SEEK_DATA/SEEK_HOLE follow the BAT: the swap image stores only its
  // first 32 MiB block; the dirty one only block 1 (after replay).
  EXPECT_EQ(Seek(m / "swap.raw", 0, SEEK_HOLE), static_cast<off_t>(32 * kMiB));
  EXPECT_EQ(Seek(m / "swap.raw", 32 * kMiB, SEEK_DATA), -ENXIO);
  EXPECT_EQ(Seek(m / "dirty.raw", 0, SEEK_DATA), static_cast<off_t>(kMiB));
  EXPECT_EQ(Seek(m / "dirty.raw", kMiB, SEEK_HOLE), static_cast<off_t>(2 * kMiB));
  RunResult sum = Shell("head -c 33554432 " + Q(m / "swap.raw") + " | sha256sum");
  EXPECT_EQ(sum.out.substr(0, 64),
            "91067887f0eff8ae09a0254030878b9472f6f8d5a02c52fb85ed01d57a984209");
}

TEST_F(VhdxMountTest, QemuOptionsMatrixMountsAsQemuReadsIt) {
  IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
  struct Variant {
    const char* name;
    const char* options;
    const char* size;
  };
  const Variant variants[] = {
      {"dyn1m", "block_size=1M", "6M"},
      {"dyn8m-odd", "block_size=8M", "10487296"},  // 10 MiB + 3 sectors
      {"dyn32m", "block_size=32M,log_size=2M", "33M"},
      {"nozero", "block_size=2M,block_state_zero=off", "7M"},
      {"fixed", "subformat=fixed,block_size=1M", "5M"},
  };
  std::vector<std::string> images;
  for (const Variant& v : variants) {
    const std::string image = dir_ / (std::string(v.name) + ".vhdx");
    MustRun({"qemu-img", "create", "-q", "-f", "vhdx", "-o", v.options, image, v.size});
    MustRun({"bash", "-c",
             std::string("qemu-io -f vhdx -c 'write -P 0x61 1536 3000' "
                         "-c 'write -P 0x62 1048000 2100000' -c 'write -z 2M 4k' ") +
                 Q(image) + " >/dev/null"});
    MustRun({"qemu-img", "convert", "-O", "raw", image, image + ".ref"});
    images.push_back(image);
  }
  std::filesystem::create_directory(dir_ / "mnt");
  Mount m(images, dir_ / "mnt");
  ASSERT_TRUE(m.ok()) << m.result().err;
  for (const Variant& v : variants) {
    SCOPED_TRACE(v.name);
    EXPECT_EQ(ReadFile(m / (std::string(v.name) + ".raw")),
              ReadFile(dir_ / (std::string(v.name) + ".vhdx.ref")));
  }
}

TEST_F(VhdxMountTest, PartitionsAndDmgView) {
  IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
  std::filesystem::create_directory(dir_ / "mnt");
  {
    Mount m({"--partitions", dir_ / "disk.vhdx"}, dir_ / "mnt");
    ASSERT_TRUE(m.ok()) << m.result().err;
    EXPECT_EQ(ReadFile(m / "disk.p1.raw"), disk_.substr(2048 * 512, 8192 * 512));
    EXPECT_EQ(ReadFile(m / "disk.p2.raw"), disk_.substr(10240 * 512, 10240 * 512));
  }
  Mount m({"--as", "dmg", dir_ / "disk.vhdx"}, dir_ / "mnt");
  ASSERT_TRUE(m.ok()) << m.result().err;
  MustRun({"qemu-img", "convert", "-f", "dmg", "-O", "raw", m / "disk.dmg", dir_ / "view.raw"});
  EXPECT_EQ(ReadFile(dir_ / "view.raw"), disk_);
}

TEST_F(VhdxMountTest, CliInfoCheckMapConvert) {
  RunResult info = Imgfs({"info", "--json", dir_ / "disk.vhdx"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  auto j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j["format"], "vhdx");
  EXPECT_EQ(j["virtual-size"], 12 * kMiB);
  EXPECT_EQ(j["cluster-size"], kMiB);
  EXPECT_EQ(j["format-specific"]["type"], "vhdx");
  RunResult check = Imgfs({"check", dir_ / "disk.vhdx"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  RunResult map = Imgfs({"map", "--json", dir_ / "disk.vhdx"});
  ASSERT_EQ(map.exit_code, 0) << map.err;
  EXPECT_NE(map.out.find("\"data\": true"), std::string::npos);
  EXPECT_NE(map.out.find("\"data\": false"), std::string::npos);  // unwritten blocks
  ASSERT_EQ(Imgfs({"convert", "-O", "raw", dir_ / "disk.vhdx", dir_ / "out.raw"}).exit_code, 0);
  EXPECT_EQ(ReadFile(dir_ / "out.raw"), disk_);
  RunResult dmg = Imgfs({"convert", "-O", "dmg", dir_ / "disk.vhdx", dir_ / "out.dmg"});
  ASSERT_EQ(dmg.exit_code, 0) << dmg.err;
  MustRun({"qemu-img", "convert", "-f", "dmg", "-O", "raw", dir_ / "out.dmg", dir_ / "dmg.raw"});
  EXPECT_EQ(ReadFile(dir_ / "dmg.raw"), disk_);
}

TEST_F(VhdxMountTest, ChainRulesApplyToParents) {
  VhdxBuilder parent(2 * kMiB);
  parent.SetDataWriteGuidSeed(11);
  parent.WriteBlock(0, RandomBytes(kMiB, 9));
  std::filesystem::create_directory(dir_ / "sub");
  WriteFile(dir_ / "base.vhdx", parent.Build());
  VhdxBuilder child(2 * kMiB);
  child.SetParent(
      {{"parent_linkage", parent.DataWriteGuidText()}, {"relative_path", "..\\base.vhdx"}});
  WriteFile(dir_ / "sub/child.avhdx", child.Build());
  ASSERT_EQ(Imgfs({"convert", "-O", "raw", dir_ / "sub/child.avhdx", dir_ / "c.raw"}).exit_code, 0);
  EXPECT_EQ(ReadFile(dir_ / "c.raw"), RandomBytes(kMiB, 9) + std::string(kMiB, '\0'));
  RunResult info = Imgfs({"info", "--json", dir_ / "sub/child.avhdx"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  auto j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j["backing-filename"], "../base.vhdx");
  IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
  std::filesystem::create_directory(dir_ / "mnt");
  {
    Mount m({"--no-backing", dir_ / "sub/child.avhdx"}, dir_ / "mnt");
    ASSERT_TRUE(m.ok()) << m.result().err;
    EXPECT_EQ(ReadFile(m / "child.raw"), std::string(2 * kMiB, '\0'));
  }
  // The parent lies outside the child's directory.
  Mount confined({"--confine-backing", dir_ / "sub/child.avhdx"}, dir_ / "mnt");
  EXPECT_FALSE(confined.ok());
  EXPECT_NE(confined.result().err.find("outside"), std::string::npos) << confined.result().err;
}

TEST_F(VhdxMountTest, BadInputIsOneLineAndNonZero) {
  const std::string good = ReadFile(dir_ / "disk.vhdx");
  struct Case {
    const char* name;
    std::string bytes;
  };
  std::string bad_headers = good;
  bad_headers[64 * 1024 + 100] ^= 1;
  bad_headers[128 * 1024 + 100] ^= 1;
  const Case cases[] = {{"truncated", good.substr(0, 300000)}, {"headers", bad_headers}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    WriteFile(dir_ / "bad.vhdx", c.bytes);
    for (const char* cmd : {"info", "check"}) {
      RunResult r = Imgfs({cmd, dir_ / "bad.vhdx"});
      EXPECT_NE(r.exit_code, 0);
      EXPECT_NE(r.err.find("vhdx:"), std::string::npos) << r.err;
      EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
    }
  }
}

}  // namespace
}  // namespace imgfs::testing
