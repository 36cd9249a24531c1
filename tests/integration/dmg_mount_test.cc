// SPDX-License-Identifier: MIT
// Apple images through the CLI and FUSE: a .sparsebundle directory is one
// image for `info`, `convert` and `mount` (by itself or inside a directory
// IMAGE, next to ordinary images), and a mounted .dmg reads back its disk.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "fuse/cli/mount_plan.h"
#include "tests/formats/dmg/test_data.h"
#include "tests/formats/dmg/test_dmg_builder.h"
#include "tests/fuse/test_util.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::dmg {
namespace {

namespace fs = std::filesystem;
using imgfs::testing::ImgfsBinary;
using imgfs::testing::ReadFile;
using imgfs::testing::RunCommand;
using imgfs::testing::TempDir;
using imgfs::testing::WriteFile;

std::string Str(const std::vector<std::byte>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

constexpr const char* kInfo =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n<dict>\n"
    "\t<key>band-size</key>\n\t<integer>65536</integer>\n"
    "\t<key>bundle-backingstore-version</key>\n\t<integer>1</integer>\n"
    "\t<key>diskimage-bundle-type</key>\n\t<string>com.apple.diskimage.sparsebundle</string>\n"
    "\t<key>size</key>\n\t<integer>327680</integer>\n</dict>\n</plist>\n";

class DmgMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    images_ = dir_.path() + "/images";
    bundle_ = images_ + "/disk.sparsebundle";
    fs::create_directories(bundle_ + "/bands");
    WriteFile(bundle_ + "/Info.plist", kInfo);
    disk_.assign(327680, '\0');
    for (int band : {0, 3}) {  // bands 1, 2 and 4 are missing
      std::string bytes = Str(testing::MixedData(65536, static_cast<uint32_t>(band)));
      WriteFile(bundle_ + "/bands/" + std::to_string(band), bytes);
      disk_.replace(static_cast<size_t>(band) * 65536, bytes.size(), bytes);
    }
    // A UDZO next to it.
    std::vector<std::byte> data = testing::MixedData(200 * 512, 4);
    auto chunks = testing::CompressIntoChunks(ChunkType::kZlib, data, 64);
    ASSERT_OK(chunks);
    WriteFile(images_ + "/other.dmg", Str(testing::BuildTestDmg(*chunks)));
    dmg_disk_ = Str(data);
  }

  TempDir dir_;
  std::string images_;
  std::string bundle_;
  std::string disk_;
  std::string dmg_disk_;
};

TEST_F(DmgMountTest, PlanTreatsABundleAsOneImage) {
  auto one = cli::ExpandImageArgs({bundle_});
  ASSERT_OK(one);
  EXPECT_EQ(*one, std::vector<std::string>{bundle_});
  auto all = cli::ExpandImageArgs({images_});
  ASSERT_OK(all);
  EXPECT_EQ(*all, (std::vector<std::string>{bundle_, images_ + "/other.dmg"}));
  EXPECT_EQ(cli::StemOf(bundle_), "disk");
}

TEST_F(DmgMountTest, InfoAndConvertOpenTheBundle) {
  auto info = RunCommand({ImgfsBinary(), "info", "--json", bundle_});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("\"format\": \"sparsebundle\""), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("\"virtual-size\": 327680"), std::string::npos) << info.out;
  const std::string out = dir_.path() + "/out.raw";
  auto conv = RunCommand({ImgfsBinary(), "convert", "-O", "raw", bundle_, out});
  ASSERT_EQ(conv.exit_code, 0) << conv.err;
  EXPECT_TRUE(ReadFile(out) == disk_);
}

TEST_F(DmgMountTest, MountShowsBundleAndDmg) {
  IMGFS_REQUIRE(imgfs::testing::HaveFuse(), "/dev/fuse");
  const std::string mnt = dir_.path() + "/mnt";
  fs::create_directories(mnt);
  imgfs::testing::Mount m({images_}, mnt);
  ASSERT_TRUE(m.ok()) << m.result().err;
  EXPECT_TRUE(ReadFile(m / "disk.raw") == disk_);
  EXPECT_TRUE(ReadFile(m / "other.raw") == dmg_disk_);
}

}  // namespace
}  // namespace imgfs::dmg
