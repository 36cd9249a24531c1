// SPDX-License-Identifier: MIT
// Chunk codec contract tests: round trips through CompressChunk and
// DecompressChunk for every codec, the exact-size rule, corrupt inputs, and
// independent oracles (the xz and bzip2 command-line tools, Python's zlib)
// in both directions.
#include "formats/dmg/codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/formats/dmg/test_data.h"
#include "tests/testing/oracles.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::dmg {
namespace {

using testing::AsBytes;
using testing::AsString;
using testing::MixedData;

class CodecTest : public ::testing::TestWithParam<ChunkType> {};

std::string Name(const ::testing::TestParamInfo<ChunkType>& info) {
  return std::string(ChunkTypeName(info.param));
}

TEST_P(CodecTest, RoundTripsSeveralSizes) {
  ASSERT_TRUE(CanDecompress(GetParam()));
  for (size_t bytes : {size_t{512}, size_t{4096}, size_t{65536} + 512, size_t{1} << 20}) {
    SCOPED_TRACE(bytes);
    const std::vector<std::byte> data = MixedData(bytes, static_cast<uint32_t>(bytes));
    auto packed = CompressChunk(GetParam(), -1, data);
    ASSERT_OK(packed);
    EXPECT_LT(packed->size(), data.size());
    std::vector<std::byte> out(bytes);
    ASSERT_OK(DecompressChunk(GetParam(), *packed, out));
    EXPECT_TRUE(out == data);
  }
}

TEST_P(CodecTest, RoundTripsZerosAndNoise) {
  std::vector<std::byte> zeros(1 << 20);
  std::vector<std::byte> noise(70000);
  uint32_t x = 7;
  for (auto& b : noise) {
    x = x * 1103515245 + 12345;
    b = static_cast<std::byte>(x >> 24);
  }
  for (const auto* data : {&zeros, &noise}) {
    auto packed = CompressChunk(GetParam(), -1, *data);
    ASSERT_OK(packed);
    std::vector<std::byte> out(data->size());
    ASSERT_OK(DecompressChunk(GetParam(), *packed, out));
    EXPECT_TRUE(out == *data);
  }
}

TEST_P(CodecTest, ShortOrLongOutputIsCorrupt) {
  const std::vector<std::byte> data = MixedData(8192);
  auto packed = CompressChunk(GetParam(), -1, data);
  ASSERT_OK(packed);
  std::vector<std::byte> small(data.size() - 512);
  EXPECT_CODE(DecompressChunk(GetParam(), *packed, small), kCorrupt);
  std::vector<std::byte> large(data.size() + 512);
  EXPECT_CODE(DecompressChunk(GetParam(), *packed, large), kCorrupt);
  std::vector<std::byte> one_less(data.size() - 1);
  EXPECT_CODE(DecompressChunk(GetParam(), *packed, one_less), kCorrupt);
}

TEST_P(CodecTest, TruncatedInputIsCorrupt) {
  const std::vector<std::byte> data = MixedData(16384, 3);
  auto packed = CompressChunk(GetParam(), -1, data);
  ASSERT_OK(packed);
  std::vector<std::byte> out(data.size());
  for (size_t keep : {size_t{0}, size_t{1}, size_t{5}, packed->size() / 2, packed->size() - 1}) {
    SCOPED_TRACE(keep);
    std::span<const std::byte> cut(packed->data(), keep);
    EXPECT_CODE(DecompressChunk(GetParam(), cut, out), kCorrupt);
  }
}

TEST_P(CodecTest, GarbageAndBitFlipsNeverCrash) {
  const std::vector<std::byte> data = MixedData(16384, 5);
  auto packed = CompressChunk(GetParam(), -1, data);
  ASSERT_OK(packed);
  std::vector<std::byte> out(data.size());
  std::vector<std::byte> garbage(4096);
  uint32_t x = 99;
  for (auto& b : garbage) {
    x = x * 1103515245 + 12345;
    b = static_cast<std::byte>(x >> 24);
  }
  EXPECT_FALSE(DecompressChunk(GetParam(), garbage, out).ok());
  // Flip single bits all over the stream: any result but a crash is fine,
  // and a success must still have filled the buffer (checked by ASan/size).
  for (size_t i = 0; i < packed->size(); i += 1 + packed->size() / 97) {
    std::vector<std::byte> bad = *packed;
    bad[i] ^= std::byte{0x10};
    (void)DecompressChunk(GetParam(), bad, out);
  }
}

TEST_P(CodecTest, EmptyInputIsCorrupt) {
  std::vector<std::byte> out(512);
  EXPECT_CODE(DecompressChunk(GetParam(), {}, out), kCorrupt);
}

INSTANTIATE_TEST_SUITE_P(Codecs, CodecTest,
                         ::testing::Values(ChunkType::kAdc, ChunkType::kZlib, ChunkType::kBzip2,
                                           ChunkType::kLzma, ChunkType::kLzfse),
                         Name);

TEST(CodecNames, KnownAndUnknown) {
  EXPECT_EQ(ChunkTypeName(ChunkType::kZlib), "zlib");
  EXPECT_EQ(ChunkTypeName(ChunkType::kLzfse), "lzfse");
  EXPECT_EQ(ChunkTypeName(static_cast<ChunkType>(0x80000009)), "unknown");
  EXPECT_FALSE(CanDecompress(ChunkType::kRaw));
  EXPECT_FALSE(CanDecompress(static_cast<ChunkType>(0x80000009)));
}

TEST(CodecNames, NonCompressedKindsAreUnsupported) {
  std::vector<std::byte> in(16);
  std::vector<std::byte> out(512);
  EXPECT_CODE(DecompressChunk(ChunkType::kRaw, in, out), kUnsupported);
  EXPECT_CODE(DecompressChunk(static_cast<ChunkType>(0x80000009), in, out), kUnsupported);
  EXPECT_CODE(CompressChunk(ChunkType::kZeroFill, -1, in), kUnsupported);
}

TEST(CodecLevels, EveryLevelRoundTrips) {
  const std::vector<std::byte> data = MixedData(20000, 11);
  for (ChunkType type : {ChunkType::kZlib, ChunkType::kBzip2, ChunkType::kLzma}) {
    for (int level : {0, 1, 5, 9, 12}) {
      SCOPED_TRACE(std::string(ChunkTypeName(type)) + " level " + std::to_string(level));
      auto packed = CompressChunk(type, level, data);
      ASSERT_OK(packed);
      std::vector<std::byte> out(data.size());
      ASSERT_OK(DecompressChunk(type, *packed, out));
      EXPECT_TRUE(out == data);
    }
  }
}

TEST(CodecPadding, TrailingBytesAfterTheStreamAreIgnored) {
  // Chunks end where their stream ends, but a reader handed a
  // sector-rounded slice must still decode it.
  const std::vector<std::byte> data = MixedData(9000, 13);
  for (ChunkType type : {ChunkType::kZlib, ChunkType::kAdc}) {
    auto packed = CompressChunk(type, -1, data);
    ASSERT_OK(packed);
    packed->resize(packed->size() + 300, std::byte{0});
    std::vector<std::byte> out(data.size());
    EXPECT_OK(DecompressChunk(type, *packed, out));
  }
}

// --- independent oracles ----------------------------------------------------

struct ToolCase {
  ChunkType type;
  const char* tool;
  const char* compress;    // file "in" -> file "out"
  const char* decompress;  // file "in" -> file "out"
};

std::string ToolCaseName(const ::testing::TestParamInfo<ToolCase>& param_info) {
  return std::string(ChunkTypeName(param_info.param.type)) + std::to_string(param_info.index);
}

class ToolOracleTest : public ::testing::TestWithParam<ToolCase> {};

TEST_P(ToolOracleTest, ToolOutputDecodes) {
  const ToolCase& c = GetParam();
  IMGFS_REQUIRE_TOOL(c.tool);
  imgfs::testing::TempDir dir;
  const std::vector<std::byte> data = MixedData(300 * 1024, 17);
  imgfs::testing::WriteWholeFile(dir.Join("in"), AsString(data));
  ASSERT_TRUE(imgfs::testing::Sh(dir.path(), c.compress));
  const std::vector<std::byte> packed = AsBytes(imgfs::testing::ReadWholeFile(dir.Join("out")));
  std::vector<std::byte> out(data.size());
  ASSERT_OK(DecompressChunk(c.type, packed, out));
  EXPECT_TRUE(out == data);
}

TEST_P(ToolOracleTest, OurOutputDecodesWithTool) {
  const ToolCase& c = GetParam();
  IMGFS_REQUIRE_TOOL(c.tool);
  imgfs::testing::TempDir dir;
  const std::vector<std::byte> data = MixedData(300 * 1024, 19);
  auto packed = CompressChunk(c.type, -1, data);
  ASSERT_OK(packed);
  imgfs::testing::WriteWholeFile(dir.Join("in"), AsString(*packed));
  ASSERT_TRUE(imgfs::testing::Sh(dir.path(), c.decompress));
  EXPECT_TRUE(imgfs::testing::ReadWholeFile(dir.Join("out")) == AsString(data));
}

constexpr char kPyZlibCompress[] =
    "python3 -c 'import sys,zlib; d=open(\"in\",\"rb\").read(); "
    "open(\"out\",\"wb\").write(zlib.compress(d, 9))'";
constexpr char kPyZlibDecompress[] =
    "python3 -c 'import sys,zlib; d=open(\"in\",\"rb\").read(); "
    "open(\"out\",\"wb\").write(zlib.decompress(d))'";

INSTANTIATE_TEST_SUITE_P(
    Tools, ToolOracleTest,
    ::testing::Values(
        ToolCase{ChunkType::kZlib, "python3", kPyZlibCompress, kPyZlibDecompress},
        ToolCase{ChunkType::kBzip2, "bzip2", "bzip2 -c in > out", "bzip2 -dc in > out"},
        ToolCase{ChunkType::kLzma, "xz", "xz -c -6 in > out", "xz -dc in > out"},
        // The legacy .lzma container decodes too (liblzma's auto decoder).
        ToolCase{ChunkType::kLzma, "xz", "xz --format=lzma -c in > out", "xz -dc in > out"}),
    ToolCaseName);

}  // namespace
}  // namespace imgfs::dmg
