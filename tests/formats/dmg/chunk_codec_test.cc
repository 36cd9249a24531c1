// SPDX-License-Identifier: MIT
// UDIF chunk types on the codec library: names, which types are compressed
// kinds, which codec each is, and the kUnsupported answers for the others.
// The codecs themselves are tested in tests/core/codec/; 7-Zip and dmg2img
// reading our chunks in DMGs in codec_oracle_test.cc.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "formats/dmg/codec.h"
#include "tests/formats/dmg/test_data.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::dmg {
namespace {

TEST(ChunkCodec, KnownAndUnknownTypes) {
  EXPECT_EQ(ChunkTypeName(ChunkType::kZlib), "zlib");
  EXPECT_EQ(ChunkTypeName(ChunkType::kLzfse), "lzfse");
  EXPECT_EQ(ChunkTypeName(ChunkType::kLzma), "lzma");
  EXPECT_EQ(ChunkTypeName(static_cast<ChunkType>(0x80000009)), "unknown");
  EXPECT_FALSE(CanDecompress(ChunkType::kRaw));
  EXPECT_FALSE(CanDecompress(static_cast<ChunkType>(0x80000009)));
  EXPECT_EQ(ChunkCodec(ChunkType::kAdc), codec::Codec::kAdc);
  EXPECT_EQ(ChunkCodec(ChunkType::kZlib), codec::Codec::kZlib);
  EXPECT_EQ(ChunkCodec(ChunkType::kBzip2), codec::Codec::kBzip2);
  EXPECT_EQ(ChunkCodec(ChunkType::kLzfse), codec::Codec::kLzfse);
  EXPECT_EQ(ChunkCodec(ChunkType::kLzma), codec::Codec::kXz);
  EXPECT_EQ(ChunkCodec(ChunkType::kZeroFill), std::nullopt);
}

TEST(ChunkCodec, EveryCompressedKindRoundTrips) {
  const std::vector<std::byte> data = testing::MixedData(65536, 3);
  for (ChunkType type : {ChunkType::kAdc, ChunkType::kZlib, ChunkType::kBzip2, ChunkType::kLzfse,
                         ChunkType::kLzma}) {
    SCOPED_TRACE(std::string(ChunkTypeName(type)));
    ASSERT_TRUE(IsCompressed(type));
    EXPECT_EQ(CanDecompress(type), codec::Available(*ChunkCodec(type)));
    if (!CanDecompress(type)) {
      std::vector<std::byte> out(512);
      EXPECT_CODE(DecompressChunk(type, data, out), kUnsupported);
      continue;
    }
    auto packed = CompressChunk(type, -1, data);
    ASSERT_OK(packed);
    std::vector<std::byte> out(data.size());
    ASSERT_OK(DecompressChunk(type, *packed, out));
    EXPECT_TRUE(out == data);
    std::vector<std::byte> small(data.size() - 512);
    EXPECT_CODE(DecompressChunk(type, *packed, small), kCorrupt);
  }
}

TEST(ChunkCodec, NonCompressedKindsAreUnsupported) {
  std::vector<std::byte> in(16);
  std::vector<std::byte> out(512);
  EXPECT_CODE(DecompressChunk(ChunkType::kRaw, in, out), kUnsupported);
  EXPECT_CODE(DecompressChunk(static_cast<ChunkType>(0x80000009), in, out), kUnsupported);
  EXPECT_CODE(CompressChunk(ChunkType::kZeroFill, -1, in), kUnsupported);
}

}  // namespace
}  // namespace imgfs::dmg
