// SPDX-License-Identifier: MIT
// Reading DMGs against independent readers: images are made at test time
// by the test builder (zlib, bzip2, raw and zero-fill chunks, one or several
// blkx tables, XML plist or binary resource fork), then imgfs's raw view is
// compared with `dmg2img`, `7zz x -tdmg` (per-partition files) and
// `qemu-img convert -f dmg -O raw` (Debian's qemu has zlib only, so it
// judges the zlib/raw/zero images). The CLI is driven too: info, check and
// convert on good and hostile images (one-line errors, exit codes).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "tests/formats/dmg/test_data.h"
#include "tests/formats/dmg/test_dmg_builder.h"
#include "tests/testing/oracles.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::dmg {
namespace {

using imgfs::testing::ExtractedFile;
using imgfs::testing::ImgfsBinary;
using imgfs::testing::ReadWholeFile;
using imgfs::testing::RunIn;
using imgfs::testing::Sh;
using imgfs::testing::TempDir;
using imgfs::testing::WriteWholeFile;
using testing::BuildTestDmgPartitions;
using testing::CompressIntoChunks;
using testing::MixedData;
using testing::TestChunk;
using testing::TestDmgOptions;
using testing::TestPartition;

std::string Str(const std::vector<std::byte>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

struct Case {
  const char* name;
  ChunkType type;
  int partitions;
  bool resource_fork;
};

// A disk of `partitions` blkx tables, each mixed data compressed with
// `type` in 64 KiB chunks, with a zero-fill chunk and a raw chunk inside
// and an odd number of sectors. Each oracle gets a fixture of its own,
// instantiated only with the images it can read, so none has to skip.
class DmgOracleReadTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const Case& c = GetParam();
    for (int p = 0; p < c.partitions; ++p) {
      std::vector<std::byte> data = MixedData((300u << 10) + 512 * (3 + static_cast<size_t>(p)),
                                              static_cast<uint32_t>(17 + p));
      auto chunks = CompressIntoChunks(c.type, data, 128, /*allow_raw=*/true);
      ASSERT_OK(chunks);
      TestChunk zeros{ChunkType::kZeroFill, 200, {}};
      chunks->insert(chunks->begin() + 1, zeros);
      data.insert(data.begin() + 128 * 512, 200 * 512, std::byte{0});
      std::vector<std::byte> raw = MixedData(9 * 512, 99);
      chunks->push_back(TestChunk{ChunkType::kRaw, 9, raw});
      data.insert(data.end(), raw.begin(), raw.end());
      parts_.push_back(
          TestPartition{"part " + std::to_string(p) + " (Apple_HFS : " + std::to_string(p) + ")",
                        p - (c.partitions > 1 ? 1 : 0), std::move(*chunks)});
      partition_bytes_.push_back(Str(data));
      disk_ += Str(data);
    }
    TestDmgOptions options;
    options.resource_fork = c.resource_fork;
    WriteWholeFile(dir_.Join("t.dmg"), Str(BuildTestDmgPartitions(parts_, options)));
  }

  // What `imgfs convert -O raw` makes of the image.
  std::string ImgfsConvertToRaw() {
    std::string log;
    EXPECT_TRUE(Sh(dir_.path(), ImgfsBinary() + " convert -O raw t.dmg ours.img", &log)) << log;
    return ReadWholeFile(dir_.Join("ours.img"));
  }

  TempDir dir_;
  std::vector<TestPartition> parts_;
  std::vector<std::string> partition_bytes_;
  std::string disk_;
};

TEST_P(DmgOracleReadTest, ImgfsReadsTheDisk) {
  Cache cache(8 << 20);
  auto dev = OpenImage(dir_.Join("t.dmg"), OpenOptions{}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(imgfs::testing::DeviceMatches(**dev, disk_));
  auto check = (*dev)->Check();
  ASSERT_OK(check);
  EXPECT_TRUE(check->clean());
  // Every table's CRC-32 was computed, none skipped.
  const auto verified =
      std::count_if(check->checked.begin(), check->checked.end(), [](const std::string& line) {
        return line.rfind("blkx ", 0) == 0 && line.find(" crc32 0x") != std::string::npos;
      });
  EXPECT_EQ(verified, GetParam().partitions) << ::testing::PrintToString(check->checked);
}

// dmg2img and 7-Zip read only the XML plist, not the binary resource fork.
class Dmg2imgReadTest : public DmgOracleReadTest {};
class SevenZipReadTest : public DmgOracleReadTest {};
// Debian's qemu-img has no dmg-bz2 module and reads only the XML plist.
class QemuImgDmgReadTest : public DmgOracleReadTest {};

TEST_P(Dmg2imgReadTest, MatchesDmg2img) {
  IMGFS_REQUIRE_TOOL("dmg2img");
  std::string ref;
  ASSERT_TRUE(imgfs::testing::Dmg2imgRaw(dir_.Join("t.dmg"), &ref));
  EXPECT_TRUE(ref == ImgfsConvertToRaw());
  EXPECT_TRUE(ref == disk_);
}

TEST_P(SevenZipReadTest, MatchesSevenZipPartitions) {
  IMGFS_REQUIRE_TOOL("7zz");
  std::vector<ExtractedFile> files;
  // A 7-Zip warning (e.g. "CRC Error" for the data fork) fails the test.
  ASSERT_TRUE(imgfs::testing::SevenZipExtractDmg(dir_.Join("t.dmg"), &files));
  ASSERT_EQ(files.size(), partition_bytes_.size());
  Cache cache(8 << 20);
  auto dev = OpenImage(dir_.Join("t.dmg"), OpenOptions{}, &cache);
  ASSERT_OK(dev);
  size_t at = 0;
  size_t compared = 0;
  for (size_t p = 0; p < files.size(); ++p) {
    // 7-Zip names each partition "<index>.<ext>" with an extension from the name.
    const ExtractedFile& ref = files[p];
    EXPECT_EQ(ref.name, std::to_string(p) + ".hfs");
    std::string ours(ref.bytes.size(), '\0');
    ASSERT_OK((*dev)->Read(at, std::as_writable_bytes(std::span(ours))));
    EXPECT_TRUE(ours == ref.bytes) << ref.name;
    EXPECT_TRUE(ref.bytes == partition_bytes_[p]) << ref.name;
    at += ref.bytes.size();
    ++compared;
  }
  EXPECT_EQ(at, disk_.size());
  EXPECT_EQ(compared, static_cast<size_t>(GetParam().partitions));
}

TEST_P(QemuImgDmgReadTest, MatchesQemuImg) {
  IMGFS_REQUIRE_TOOL("qemu-img");
  std::string ref;
  ASSERT_TRUE(imgfs::testing::QemuImgRaw(dir_.Join("t.dmg"), "dmg", &ref));
  EXPECT_TRUE(ref == ImgfsConvertToRaw());
  EXPECT_TRUE(ref == disk_);
}

TEST_P(DmgOracleReadTest, InfoListsTheTables) {
  std::string out;
  ASSERT_TRUE(Sh(dir_.path(), ImgfsBinary() + " info --json t.dmg", &out)) << out;
  EXPECT_NE(out.find("\"format\": \"dmg\""), std::string::npos) << out;
  EXPECT_NE(out.find("part 0 (Apple_HFS : 0)"), std::string::npos) << out;
  EXPECT_NE(out.find("\"sector-count\""), std::string::npos) << out;
  ASSERT_TRUE(Sh(dir_.path(), ImgfsBinary() + " info t.dmg", &out)) << out;
  EXPECT_NE(out.find("file format: dmg"), std::string::npos) << out;
  EXPECT_NE(out.find("compression"), std::string::npos) << out;
  ASSERT_TRUE(Sh(dir_.path(), ImgfsBinary() + " check t.dmg", &out)) << out;
  EXPECT_NE(out.find("No errors were found"), std::string::npos) << out;
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

constexpr Case kZlib{"zlib", ChunkType::kZlib, 1, false};
constexpr Case kBzip2{"bzip2", ChunkType::kBzip2, 1, false};
constexpr Case kZlibThreeTables{"zlib_three_tables", ChunkType::kZlib, 3, false};
constexpr Case kBzip2ThreeTables{"bzip2_three_tables", ChunkType::kBzip2, 3, false};
constexpr Case kZlibResourceFork{"zlib_resource_fork", ChunkType::kZlib, 2, true};

INSTANTIATE_TEST_SUITE_P(Images, DmgOracleReadTest,
                         ::testing::Values(kZlib, kBzip2, kZlibThreeTables, kBzip2ThreeTables,
                                           kZlibResourceFork),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(Images, Dmg2imgReadTest,
                         ::testing::Values(kZlib, kBzip2, kZlibThreeTables, kBzip2ThreeTables),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(Images, SevenZipReadTest,
                         ::testing::Values(kZlib, kBzip2, kZlibThreeTables, kBzip2ThreeTables),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(Images, QemuImgDmgReadTest, ::testing::Values(kZlib, kZlibThreeTables),
                         CaseName);

// Hostile images through the CLI: one line on stderr, non-zero exit.
class DmgBadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::byte> data = MixedData(64 * 512, 5);
    auto chunks = CompressIntoChunks(ChunkType::kZlib, data, 16);
    ASSERT_OK(chunks);
    chunks_ = *chunks;
    good_ = BuildTestDmgPartitions(std::vector<TestPartition>{{"disk", 0, chunks_}});
  }

  // Runs `imgfs info` (unless only the data is bad) and `imgfs convert` on
  // the image and expects a failing exit with one line on stderr.
  void ExpectOneLineFailure(const std::vector<std::byte>& img, const std::string& what,
                            bool metadata_bad = true) {
    WriteWholeFile(dir_.Join("bad.dmg"), Str(img));
    std::vector<std::string> cmds = {" convert -O raw bad.dmg out.img"};
    if (metadata_bad) {
      cmds.push_back(" info bad.dmg");
    }
    for (const std::string& cmd : cmds) {
      std::string out;
      int status = RunIn(dir_.path(), ImgfsBinary() + cmd + " 2>&1 >/dev/null", &out);
      EXPECT_NE(status, 0) << what << cmd;
      EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << what << cmd << ": " << out;
    }
  }

  TempDir dir_;
  std::vector<TestChunk> chunks_;
  std::vector<std::byte> good_;
};

void PatchBE64(std::vector<std::byte>* v, size_t at, uint64_t x) {
  for (int i = 0; i < 8; ++i) {
    (*v)[at + static_cast<size_t>(i)] = static_cast<std::byte>(x >> (56 - 8 * i));
  }
}

TEST_F(DmgBadInputTest, KolyOutsideTheFile) {
  auto img = good_;
  PatchBE64(&img, img.size() - 512 + 216, uint64_t{1} << 40);  // xml offset
  ExpectOneLineFailure(img, "xml offset");
}

TEST_F(DmgBadInputTest, CorruptStreamAndTruncatedChunk) {
  auto img = good_;
  img[1] ^= std::byte{0x55};
  ExpectOneLineFailure(img, "corrupt zlib", false);
  auto cut = chunks_;
  cut[1].payload.resize(3);
  ExpectOneLineFailure(BuildTestDmgPartitions(std::vector<TestPartition>{{"disk", 0, cut}}),
                       "truncated chunk", false);
}

TEST_F(DmgBadInputTest, PlistBombs) {
  // Replace the XML with a bomb of the same koly shape.
  auto with_xml = [&](const std::string& xml) {
    std::vector<std::byte> img;
    const std::vector<std::byte> koly(good_.end() - 512, good_.end());
    img.resize(64 * 1024);  // a dummy data fork
    const uint64_t xml_at = img.size();
    img.insert(img.end(), reinterpret_cast<const std::byte*>(xml.data()),
               reinterpret_cast<const std::byte*>(xml.data()) + xml.size());
    img.insert(img.end(), koly.begin(), koly.end());
    PatchBE64(&img, img.size() - 512 + 216, xml_at);
    PatchBE64(&img, img.size() - 512 + 224, xml.size());
    return img;
  };
  ExpectOneLineFailure(
      with_xml("<!DOCTYPE plist [<!ENTITY a \"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;\">]>"
               "<plist><string>&b;</string></plist>"),
      "billion laughs");
  std::string deep = "<plist>";
  for (int i = 0; i < 200000; ++i) {
    deep += "<array>";
  }
  ExpectOneLineFailure(with_xml(deep), "deep nesting");
  std::string huge =
      "<plist><dict><key>resource-fork</key><dict><key>blkx</key><array><dict>"
      "<key>Data</key><data>" +
      std::string(8 << 20, 'A') + "</data></dict></array></dict></dict></plist>";
  ExpectOneLineFailure(with_xml(huge), "huge base64");
}

TEST_F(DmgBadInputTest, CheckExitCodes) {
  auto img = good_;
  WriteWholeFile(dir_.Join("good.dmg"), Str(img));
  std::string out;
  EXPECT_EQ(RunIn(dir_.path(), ImgfsBinary() + " check good.dmg", &out), 0) << out;
  // A flipped CRC in the koly: the image still reads, check reports it.
  img[img.size() - 512 + 88] ^= std::byte{1};
  WriteWholeFile(dir_.Join("crc.dmg"), Str(img));
  int status = RunIn(dir_.path(), ImgfsBinary() + " check crc.dmg", &out);
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("data fork checksum mismatch"), std::string::npos) << out;
  img = good_;
  PatchBE64(&img, img.size() - 512 + 216, uint64_t{1} << 40);
  WriteWholeFile(dir_.Join("bad.dmg"), Str(img));
  status = RunIn(dir_.path(), ImgfsBinary() + " check bad.dmg", &out);
  EXPECT_EQ(status, 2) << out;
}

}  // namespace
}  // namespace imgfs::dmg
