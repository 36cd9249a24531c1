// SPDX-License-Identifier: MIT
// VHD through the imgfs binary: the Windows-made dynamic VHD of
// tests/data/vpc-real/ (read as the SHA-256 tests/data/README.md records,
// and as qemu-img, vhdimount and 7-Zip read it), `info` (qemu-img's keys,
// the size rule, the partition table), `check` exit codes, `map`, `convert
// -O raw` and `-O dmg`, and broken images: one line of error, a non-zero
// exit, no crash.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "tests/formats/vpc/test_vhd_builder.h"
#include "tests/testing/oracles.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::ExtentsMatchMap;
using testing::ImgfsBinary;
using testing::QemuMap;
using testing::ReadWholeFile;
using testing::RunIn;
using testing::Sh;
using testing::ShellQuote;
using testing::TempDir;
using testing::WriteWholeFile;

constexpr char kRealXz[] = "/vpc-real/nodevhd-dynamic.vhd.xz";
constexpr char kRealFileSha256[] =
    "eac697a2503544ec1ec80ab5ac857eeb3e781fd107f84c2313b34f64837adf73";
constexpr char kRealRawSha256[] =
    "c461afded0b54cc1cfb5441e08f4d7f9d699d2eff7d9526d1cf6ad227da26683";

std::string Sha256(const std::string& dir, const std::string& file) {
  std::string out;
  EXPECT_EQ(RunIn(dir, "sha256sum < " + ShellQuote(file), &out), 0) << out;
  return out.substr(0, out.find(' '));
}

class VpcRealTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE_TOOL("xz");
    IMGFS_REQUIRE_TOOL("sha256sum");
    ASSERT_TRUE(Sh(dir_.path(), "xz -dc " + ShellQuote(std::string(IMGFS_TEST_DATA_DIR) + kRealXz) +
                                    " > real.vhd"));
    ASSERT_EQ(Sha256(dir_.path(), "real.vhd"), kRealFileSha256);
  }
  TempDir dir_;
};

TEST_F(VpcRealTest, ReadsAsRecordedAndAsEveryOracle) {
  IMGFS_REQUIRE_QEMU();
  IMGFS_REQUIRE_TOOL("vhdimount");
  IMGFS_REQUIRE_TOOL("7zz");
  ASSERT_TRUE(Sh(dir_.path(), ImgfsBinary() + " convert -O raw real.vhd imgfs.raw"));
  EXPECT_EQ(Sha256(dir_.path(), "imgfs.raw"), kRealRawSha256);
  ASSERT_TRUE(Sh(dir_.path(), "qemu-img convert -f vpc -O raw real.vhd qemu.raw"));
  EXPECT_TRUE(Sh(dir_.path(), "cmp imgfs.raw qemu.raw"));
  ASSERT_TRUE(Sh(dir_.path(), "mkdir m && vhdimount real.vhd m"));
  EXPECT_EQ(Sha256(dir_.path(), "m/vhdi1"), kRealRawSha256);
  EXPECT_EQ(RunIn(dir_.path(), "fusermount -u m || umount m"), 0);
  ASSERT_TRUE(Sh(dir_.path(), "7zz x -tvhd -y -o7z real.vhd >/dev/null"));
  EXPECT_TRUE(Sh(dir_.path(), "cmp imgfs.raw 7z/*"));
  Cache cache(4 << 20);
  auto dev = OpenImage(dir_.Join("real.vhd"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(ExtentsMatchMap(**dev, QemuMap(dir_.path(), "real.vhd", "-f vpc")));
}

TEST_F(VpcRealTest, InfoNamesTheSizeRuleAndThePartitions) {
  std::string out;
  ASSERT_TRUE(Sh(dir_.path(), ImgfsBinary() + " info --json real.vhd", &out));
  const nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["format"], "vpc");
  EXPECT_EQ(j["virtual-size"], 536870912);
  EXPECT_EQ(j["cluster-size"], 2097152);
  const nlohmann::json& data = j["format-specific"]["data"];
  EXPECT_EQ(data["creator-app"], "win ");
  EXPECT_EQ(data["size-rule"], "current-size");
  EXPECT_EQ(data["subformat"], "dynamic");
  EXPECT_EQ(j["partition-table"]["partitions"].size(), 4u) << out;
  EXPECT_EQ(RunIn(dir_.path(), ImgfsBinary() + " check real.vhd", &out), 0) << out;
}

TEST(VpcCli, InfoKeysMatchQemuImg) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f vpc d.vhd 5M && "
                 "qemu-img create -q -f vpc -o subformat=fixed f.vhd 5M"));
  for (const char* name : {"d.vhd", "f.vhd"}) {
    std::string ours;
    std::string theirs;
    ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " info --json " + name, &ours));
    ASSERT_TRUE(Sh(dir.path(), std::string("qemu-img info -f vpc --output=json ") + name, &theirs));
    const nlohmann::json a = nlohmann::json::parse(ours);
    const nlohmann::json b = nlohmann::json::parse(theirs);
    for (const char* key : {"format", "virtual-size", "cluster-size"}) {
      EXPECT_EQ(a.value(key, nlohmann::json()), b.value(key, nlohmann::json()))
          << name << " " << key;
    }
  }
}

TEST(VpcCli, ConvertToDmgAndRawMatchQemu) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f vpc d.vhd 9M && "
                 "qemu-io -f vpc -c 'write -P 0x5a 1M 64k' -c 'write -P 7 5M 3000' "
                 "d.vhd >/dev/null"));
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " convert -O raw d.vhd d.raw && " + ImgfsBinary() +
                                 " convert -O dmg d.vhd d.dmg"));
  EXPECT_TRUE(Sh(dir.path(), "qemu-img compare -f vpc -F raw d.vhd d.raw"));
  EXPECT_TRUE(Sh(dir.path(), "qemu-img compare -f vpc -F dmg d.vhd d.dmg"));
  std::string map;
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " map d.vhd", &map));
  EXPECT_NE(map.find("0x200000"), std::string::npos) << map;
}

// A 1 MiB dynamic VHD full of 'x', from the test builder.
std::string SmallVhd() {
  vpc::testing::VhdSpec spec;
  spec.size_bytes = 1 << 20;
  spec.contents.assign(spec.size_bytes, 'x');
  return vpc::testing::BuildVhd(spec);
}

TEST(VpcCli, CheckExitCodes) {
  TempDir dir;
  const std::string good = SmallVhd();
  WriteWholeFile(dir.Join("good.vhd"), good);
  std::string damaged = good;
  damaged[damaged.size() - 512] = 'X';
  WriteWholeFile(dir.Join("tail.vhd"), damaged);
  WriteWholeFile(dir.Join("short.vhd"), good.substr(0, 300));
  const std::string check = ImgfsBinary() + " check ";
  std::string out;
  EXPECT_EQ(RunIn(dir.path(), check + "good.vhd", &out), 0) << out;
  EXPECT_EQ(RunIn(dir.path(), check + "tail.vhd", &out), 1) << out;
  EXPECT_NE(out.find("copy at offset 0"), std::string::npos) << out;
  EXPECT_EQ(RunIn(dir.path(), check + "-f vpc short.vhd", &out), 2) << out;
}

// Each broken image: `info` fails with exactly one line on stderr, naming
// vpc, and a non-zero exit.
TEST(VpcCli, BrokenImagesFailWithOneLine) {
  TempDir dir;
  const std::string good = SmallVhd();
  auto put32 = [](std::string s, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) {
      s[at + static_cast<size_t>(i)] = static_cast<char>(v >> (24 - 8 * i));
    }
    return s;
  };
  auto both = [&](std::string s) {  // the head copy as the footer too
    s.replace(s.size() - 512, 512, s.substr(0, 512));
    return s;
  };
  struct Case {
    const char* name;
    std::string bytes;
  } cases[] = {
      {"short", good.substr(0, 1000)},
      {"bat-past-eof", put32(good, 512 + 16, 0x10000000)},
      {"few-entries", put32(good, 512 + 28, 1)},
      {"block-size", put32(good, 512 + 32, 12345)},
      {"disk-type", both(put32(good, 60, 9))},
      {"huge", both(put32(good, 48, 0x7fffffff))},
  };
  for (const Case& c : cases) {
    const std::string file = std::string(c.name) + ".vhd";
    WriteWholeFile(dir.Join(file), c.bytes);
    std::string out;
    const int rc =
        RunIn(dir.path(),
              "timeout 20 " + ImgfsBinary() + " info -f vpc " + file + " 2>&1 >/dev/null", &out);
    EXPECT_NE(rc, 0) << c.name;
    EXPECT_LT(rc, 124) << c.name << " (timeout or crash)";
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << c.name << ": " << out;
    EXPECT_NE(out.find("vpc"), std::string::npos) << c.name << ": " << out;
  }
}

}  // namespace
}  // namespace imgfs
