// SPDX-License-Identifier: MIT
// Oracle tests for the chunk encoders: data -> CompressChunk -> a DMG made
// by the test builder -> dmg2img and `7zz x -tdmg` (independent decoders)
// must give the data back. 7-Zip also checks the CRC-32s the builder writes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "formats/dmg/codec.h"
#include "tests/formats/dmg/test_data.h"
#include "tests/formats/dmg/test_dmg_builder.h"
#include "tests/testing/oracles.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::dmg {
namespace {

using testing::AsString;
using testing::BuildTestDmg;
using testing::CompressIntoChunks;
using testing::MixedData;

class DmgOracleTest : public ::testing::TestWithParam<ChunkType> {
 protected:
  // 1.5 MiB of mixed data in 256 KiB chunks, plus a zero-fill chunk and an
  // odd tail chunk of 3 sectors.
  void SetUp() override {
    data_ = MixedData((3u << 19) + 3 * 512, 29);
    auto chunks = CompressIntoChunks(GetParam(), data_, 512);
    ASSERT_OK(chunks);
    chunks_ = std::move(*chunks);
    testing::TestChunk zeros;
    zeros.type = ChunkType::kZeroFill;
    zeros.sector_count = 64;
    chunks_.insert(chunks_.begin() + 2, zeros);
    data_.insert(data_.begin() + 2 * 512 * 512, 64 * 512, std::byte{0});
    imgfs::testing::WriteWholeFile(dir_.Join("t.dmg"), AsString(BuildTestDmg(chunks_)));
  }

  imgfs::testing::TempDir dir_;
  std::vector<std::byte> data_;
  std::vector<testing::TestChunk> chunks_;
};

TEST_P(DmgOracleTest, SevenZipExtractsOurChunks) {
  IMGFS_REQUIRE_TOOL("7zz");
  std::vector<imgfs::testing::ExtractedFile> files;
  ASSERT_TRUE(imgfs::testing::SevenZipExtractDmg(dir_.Join("t.dmg"), &files));
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].name, "0.hfs");
  EXPECT_TRUE(files[0].bytes == AsString(data_));
}

// dmg2img 1.6.7 knows ADC, zlib and bzip2 chunks only.
class Dmg2imgOracleTest : public DmgOracleTest {};

TEST_P(Dmg2imgOracleTest, ExtractsOurChunks) {
  IMGFS_REQUIRE_TOOL("dmg2img");
  std::string raw;
  ASSERT_TRUE(imgfs::testing::Dmg2imgRaw(dir_.Join("t.dmg"), &raw));
  EXPECT_TRUE(raw == AsString(data_));
}

std::string Name(const ::testing::TestParamInfo<ChunkType>& info) {
  return std::string(ChunkTypeName(info.param));
}

INSTANTIATE_TEST_SUITE_P(Codecs, DmgOracleTest,
                         ::testing::Values(ChunkType::kAdc, ChunkType::kZlib, ChunkType::kBzip2,
                                           ChunkType::kLzma, ChunkType::kLzfse),
                         Name);
INSTANTIATE_TEST_SUITE_P(Codecs, Dmg2imgOracleTest,
                         ::testing::Values(ChunkType::kAdc, ChunkType::kZlib, ChunkType::kBzip2),
                         Name);

}  // namespace
}  // namespace imgfs::dmg
