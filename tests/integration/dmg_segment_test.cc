// SPDX-License-Identifier: MIT
// Segmented DMGs (NAME.dmg + NAME.NNN.dmgpart) against independent
// readers. No Linux tool writes segmented images, so one-file DMGs are made
// at test time (by the test builder and by `imgfs convert -O dmg`) and
// split the way `hdiutil segment` lays a set out (test_segments.h). imgfs
// must read the set byte for byte like the one-file image, and like
// `dmg2img` and `7zz x -tdmg` decoding the one-file image. The CLI is
// driven too: info (human and --json), check, a .dmgpart opened directly,
// a missing segment, and a directory given to mount.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "formats/dmg/segments.h"
#include "formats/open.h"
#include "fuse/cli/mount_plan.h"
#include "tests/formats/dmg/test_data.h"
#include "tests/formats/dmg/test_dmg_builder.h"
#include "tests/formats/dmg/test_segments.h"
#include "tests/testing/oracles.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::dmg {
namespace {

using imgfs::testing::ImgfsBinary;
using imgfs::testing::ReadWholeFile;
using imgfs::testing::RunIn;
using imgfs::testing::Sh;
using imgfs::testing::TempDir;
using imgfs::testing::WriteWholeFile;
using testing::BuildTestDmgPartitions;
using testing::CompressIntoChunks;
using testing::MixedData;
using testing::SplitIntoSegments;
using testing::TestChunk;
using testing::TestPartition;

std::string Str(const std::vector<std::byte>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}
std::vector<std::byte> Bytes(const std::string& s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return std::vector<std::byte>(p, p + s.size());
}

uint64_t ForkLength(const std::vector<std::byte>& dmg) {
  auto k = DecodeKoly(std::span(dmg).subspan(dmg.size() - kKolyBytes));
  EXPECT_OK(k);
  return k.ok() ? k->data_fork_length : 0;
}

// Writes `whole` as dir/one/NAME.dmg and its segments as dir/seg/NAME.dmg,
// NAME.002.dmgpart, ... cut at `cuts`.
void WriteSet(const TempDir& dir, const std::string& name, const std::vector<std::byte>& whole,
              const std::vector<uint64_t>& cuts) {
  std::filesystem::create_directories(dir.Join("one"));
  std::filesystem::create_directories(dir.Join("seg"));
  WriteWholeFile(dir.Join("one/" + name + ".dmg"), Str(whole));
  auto segments = SplitIntoSegments(whole, cuts);
  ASSERT_OK(segments);
  for (size_t i = 0; i < segments->size(); ++i) {
    WriteWholeFile(dir.Join("seg/" + SegmentFileName(name + ".dmg", static_cast<uint32_t>(i + 1))),
                   Str((*segments)[i]));
  }
}

std::string ReadImage(const std::string& path) {
  Cache cache(8 << 20);
  auto dev = OpenImage(path, OpenOptions{}, &cache);
  EXPECT_OK(dev);
  if (!dev.ok()) {
    return {};
  }
  std::string out(static_cast<size_t>((*dev)->Size()), '\0');
  EXPECT_OK((*dev)->Read(0, std::as_writable_bytes(std::span(out))));
  return out;
}

class DmgSegmentTest : public ::testing::Test {
 protected:
  // t: one whole-disk blkx table of zlib, zero-fill and raw chunks, cut in
  // three inside chunks.
  void SetUp() override {
    std::vector<std::byte> data = MixedData((400u << 10) + 7 * 512, 23);
    auto chunks = CompressIntoChunks(ChunkType::kZlib, data, 128, /*allow_raw=*/true);
    ASSERT_OK(chunks);
    chunks->insert(chunks->begin() + 1, TestChunk{ChunkType::kZeroFill, 100, {}});
    data.insert(data.begin() + 128 * 512, 100 * 512, std::byte{0});
    std::vector<std::byte> raw = MixedData(5 * 512, 31);
    chunks->push_back(TestChunk{ChunkType::kRaw, 5, raw});
    data.insert(data.end(), raw.begin(), raw.end());
    disk_ = Str(data);
    whole_ = BuildTestDmgPartitions(
        std::vector<TestPartition>{{"disk image (Apple_HFS : 0)", 0, std::move(*chunks)}});
    const uint64_t fork = ForkLength(whole_);
    WriteSet(dir_, "t", whole_, {fork / 3 + 1, 2 * fork / 3 - 5});
  }

  TempDir dir_;
  std::vector<std::byte> whole_;
  std::string disk_;
};

TEST_F(DmgSegmentTest, ReadsLikeTheOneFileImage) {
  EXPECT_TRUE(ReadImage(dir_.Join("seg/t.dmg")) == disk_);
  EXPECT_TRUE(ReadImage(dir_.Join("one/t.dmg")) == disk_);
}

TEST_F(DmgSegmentTest, MatchesDmg2img) {
  IMGFS_REQUIRE_TOOL("dmg2img");
  std::string ref;
  ASSERT_TRUE(imgfs::testing::Dmg2imgRaw(dir_.Join("one/t.dmg"), &ref));
  std::string log;
  ASSERT_TRUE(Sh(dir_.path(), ImgfsBinary() + " convert -O raw seg/t.dmg ours.img", &log)) << log;
  EXPECT_TRUE(ReadWholeFile(dir_.Join("ours.img")) == ref);
  EXPECT_TRUE(ref == disk_);
}

TEST_F(DmgSegmentTest, MatchesSevenZip) {
  IMGFS_REQUIRE_TOOL("7zz");
  std::vector<imgfs::testing::ExtractedFile> files;
  ASSERT_TRUE(imgfs::testing::SevenZipExtractDmg(dir_.Join("one/t.dmg"), &files));
  // One blkx table: 7-Zip writes one file, the whole disk.
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(files[0].bytes == ReadImage(dir_.Join("seg/t.dmg")));
}

// A DMG written by imgfs's own writer (convert -O dmg), split in two.
TEST_F(DmgSegmentTest, ReadsASplitImgfsWrittenDmg) {
  IMGFS_REQUIRE_TOOL("dmg2img");
  std::string raw = Str(MixedData(1u << 20, 41)) + std::string(300 << 10, '\0') +
                    Str(MixedData((200u << 10) + 512, 43));
  WriteWholeFile(dir_.Join("in.raw"), raw);
  std::string log;
  ASSERT_TRUE(Sh(dir_.path(), ImgfsBinary() + " convert -O dmg in.raw c.dmg", &log)) << log;
  const std::vector<std::byte> whole = Bytes(ReadWholeFile(dir_.Join("c.dmg")));
  const uint64_t fork = ForkLength(whole);
  ASSERT_GT(fork, 4096u);
  WriteSet(dir_, "c", whole, {fork / 2 + 3});
  std::string ref;
  ASSERT_TRUE(imgfs::testing::Dmg2imgRaw(dir_.Join("one/c.dmg"), &ref));
  ASSERT_TRUE(Sh(dir_.path(), ImgfsBinary() + " convert -O raw seg/c.dmg ours.img", &log)) << log;
  EXPECT_TRUE(ReadWholeFile(dir_.Join("ours.img")) == raw);
  EXPECT_TRUE(ref == raw);
  std::string out;
  EXPECT_EQ(RunIn(dir_.path(), ImgfsBinary() + " check seg/c.dmg", &out), 0) << out;
}

TEST_F(DmgSegmentTest, InfoNamesTheSegments) {
  std::string out;
  ASSERT_TRUE(Sh(dir_.path(), ImgfsBinary() + " info seg/t.dmg", &out)) << out;
  EXPECT_NE(out.find("segments:"), std::string::npos) << out;
  EXPECT_NE(out.find("count: 3"), std::string::npos) << out;
  EXPECT_NE(out.find("seg/t.003.dmgpart"), std::string::npos) << out;
  ASSERT_TRUE(Sh(dir_.path(), ImgfsBinary() + " info --json seg/t.dmg", &out)) << out;
  auto j = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << out;
  const auto& segs = j["format-specific"]["data"]["segments"];
  EXPECT_EQ(segs["count"], 3);
  ASSERT_EQ(segs["files"].size(), 3u);
  EXPECT_EQ(segs["files"][1], "seg/t.002.dmgpart");
  ASSERT_EQ(segs["data-checksums"].size(), 3u);
  // Each segment's own CRC-32: three different forks, three different sums.
  EXPECT_NE(segs["data-checksums"][0], segs["data-checksums"][1]);
  EXPECT_NE(segs["data-checksums"][1], segs["data-checksums"][2]);
  EXPECT_EQ(segs["data-checksums"][0], j["format-specific"]["data"]["data-checksum"]);
  EXPECT_EQ(j["virtual-size"], disk_.size());
}

TEST_F(DmgSegmentTest, CheckVerifiesEverySegment) {
  std::string out;
  EXPECT_EQ(RunIn(dir_.path(), ImgfsBinary() + " check seg/t.dmg", &out), 0) << out;
  // A flipped byte in segment 3's stored data.
  std::string part = ReadWholeFile(dir_.Join("seg/t.003.dmgpart"));
  part[17] = static_cast<char>(part[17] ^ 0x40);
  WriteWholeFile(dir_.Join("seg/t.003.dmgpart"), part);
  EXPECT_EQ(RunIn(dir_.path(), ImgfsBinary() + " check seg/t.dmg", &out), 1) << out;
  EXPECT_NE(out.find("segment 3 data fork checksum mismatch"), std::string::npos) << out;
}

TEST_F(DmgSegmentTest, ErrorsAreOneLineAndNameTheFile) {
  std::string out;
  int status = RunIn(dir_.path(), ImgfsBinary() + " info seg/t.002.dmgpart 2>&1 >/dev/null", &out);
  EXPECT_NE(status, 0);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find("open its first segment 't.dmg'"), std::string::npos) << out;

  std::filesystem::remove(dir_.Join("seg/t.003.dmgpart"));
  status =
      RunIn(dir_.path(), ImgfsBinary() + " convert -O raw seg/t.dmg x.img 2>&1 >/dev/null", &out);
  EXPECT_NE(status, 0);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find("segment 3 of 3 'seg/t.003.dmgpart' cannot be opened"), std::string::npos)
      << out;
}

TEST_F(DmgSegmentTest, MountOfADirectoryListsOnlyTheFirstSegment) {
  auto images = cli::ExpandImageArgs({dir_.Join("seg")});
  ASSERT_OK(images);
  ASSERT_EQ(images->size(), 1u);
  EXPECT_EQ((*images)[0], dir_.Join("seg/t.dmg"));
}

}  // namespace
}  // namespace imgfs::dmg
