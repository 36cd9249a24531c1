// SPDX-License-Identifier: MIT
// Codec library contract tests (core/codec/codec.h), every codec through the
// one interface: round trips, the exact-size rule, prefixes, corrupt, short
// and overlong inputs (kCorrupt), output never written past out.size(), and
// independent oracles (the xz and bzip2 tools, Python's zlib) both ways.
#include "core/codec/codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string>
#include <vector>

#include "tests/core/codec/codec_test_util.h"
#include "tests/formats/dmg/test_data.h"
#include "tests/testing/oracles.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::codec {
namespace {

using dmg::testing::AsBytes;
using dmg::testing::AsString;
using dmg::testing::MixedData;

class CodecTest : public ::testing::TestWithParam<Codec> {
 protected:
  void SetUp() override {
    if (!Available(GetParam())) {
      GTEST_SKIP() << CodecName(GetParam()) << " is not in this build";
    }
  }
  std::vector<std::byte> Pack(std::span<const std::byte> data) {
    auto packed = Compress(GetParam(), -1, data);
    EXPECT_OK(packed);
    return packed.ok() ? std::move(*packed) : std::vector<std::byte>{};
  }
};

std::string Name(const ::testing::TestParamInfo<Codec>& info) {
  return std::string(CodecName(info.param));
}

TEST_P(CodecTest, RoundTripsSeveralSizes) {
  for (size_t bytes : {size_t{512}, size_t{4096}, size_t{65536} + 512, size_t{1} << 20}) {
    SCOPED_TRACE(bytes);
    const std::vector<std::byte> data = MixedData(bytes, static_cast<uint32_t>(bytes));
    const auto packed = Pack(data);
    EXPECT_LT(packed.size(), data.size());
    std::vector<std::byte> out(bytes);
    ASSERT_OK(Decompress(GetParam(), packed, out));
    EXPECT_TRUE(out == data);
  }
}

// DecodedBytes counts what successful decodes wrote, whole or prefix, and
// nothing for a failed one (tests run one at a time: nothing else decodes).
TEST_P(CodecTest, DecodedBytesCountsSuccessfulDecodes) {
  const std::vector<std::byte> data = MixedData(65536, 3);
  const auto packed = Pack(data);
  std::vector<std::byte> out(data.size());
  const uint64_t before = DecodedBytes();
  ASSERT_OK(Decompress(GetParam(), packed, out));
  EXPECT_EQ(DecodedBytes() - before, data.size());
  // LZFSE and LZO streams are only decoded whole.
  if (GetParam() != Codec::kLzfse && GetParam() != Codec::kLzo) {
    ASSERT_OK(DecompressPrefix(GetParam(), packed, std::span(out).first(4096)));
    EXPECT_EQ(DecodedBytes() - before, data.size() + 4096);
  }
  const uint64_t ok_total = DecodedBytes();
  std::vector<std::byte> longer(data.size() + 1);
  EXPECT_FALSE(Decompress(GetParam(), packed, longer).ok());
  EXPECT_EQ(DecodedBytes(), ok_total);
}

TEST_P(CodecTest, RoundTripsZerosNoiseAndTinyInputs) {
  std::vector<std::vector<std::byte>> inputs = {std::vector<std::byte>(1 << 20), Noise(70000, 7)};
  for (size_t n = 0; n < 40; n += 3) {
    inputs.push_back(MixedData(n, static_cast<uint32_t>(n)));
  }
  for (const auto& data : inputs) {
    SCOPED_TRACE(data.size());
    const auto packed = Pack(data);
    std::vector<std::byte> out(data.size());
    ASSERT_OK(Decompress(GetParam(), packed, out));
    EXPECT_TRUE(out == data);
  }
}

TEST_P(CodecTest, ShortOrLongOutputIsCorrupt) {
  const std::vector<std::byte> data = MixedData(8192);
  const auto packed = Pack(data);
  for (size_t bytes : {data.size() - 512, data.size() - 1, data.size() + 1, data.size() + 512}) {
    SCOPED_TRACE(bytes);
    GuardedOut out(bytes);
    EXPECT_CODE(Decompress(GetParam(), packed, out.out()), kCorrupt);
    EXPECT_TRUE(out.GuardsIntact());
  }
}

TEST_P(CodecTest, TruncatedInputIsCorrupt) {
  const std::vector<std::byte> data = MixedData(16384, 3);
  const auto packed = Pack(data);
  GuardedOut out(data.size());
  for (size_t keep : {size_t{0}, size_t{1}, size_t{5}, packed.size() / 2, packed.size() - 1}) {
    SCOPED_TRACE(keep);
    EXPECT_CODE(Decompress(GetParam(), std::span(packed).first(keep), out.out()), kCorrupt);
    EXPECT_TRUE(out.GuardsIntact());
  }
}

TEST_P(CodecTest, GarbageAndBitFlipsStayInsideTheOutput) {
  const std::vector<std::byte> data = MixedData(16384, 5);
  const auto packed = Pack(data);
  GuardedOut out(data.size());
  EXPECT_FALSE(Decompress(GetParam(), Noise(4096, 99), out.out()).ok());
  // Any result but a crash or a write outside `out` is fine.
  for (size_t i = 0; i < packed.size(); i += 1 + packed.size() / 97) {
    std::vector<std::byte> bad = packed;
    bad[i] ^= std::byte{0x10};
    (void)Decompress(GetParam(), bad, out.out());
    (void)DecompressPrefix(GetParam(), bad, out.out().first(data.size() / 3));
  }
  EXPECT_TRUE(out.GuardsIntact());
}

TEST_P(CodecTest, EmptyInputIsCorrupt) {
  std::vector<std::byte> out(512);
  EXPECT_CODE(Decompress(GetParam(), {}, out), kCorrupt);
}

TEST_P(CodecTest, TrailingBytesAfterTheStreamAreIgnored) {
  // Formats hand decoders sector-rounded slices.
  const std::vector<std::byte> data = MixedData(9000, 13);
  auto packed = Pack(data);
  packed.resize(packed.size() + 300, std::byte{0});
  std::vector<std::byte> out(data.size());
  if (GetParam() == Codec::kLz4) {
    // A raw LZ4 block has no end marker: the padding is read as sequences.
    EXPECT_CODE(Decompress(GetParam(), packed, out), kCorrupt);
    return;
  }
  EXPECT_OK(Decompress(GetParam(), packed, out));
  EXPECT_TRUE(out == data);
}

// Codecs with no prefix mode (codec.h): DecompressPrefix is kUnsupported.
bool NoPrefix(Codec c) { return c == Codec::kLzfse || c == Codec::kLzo; }

TEST_P(CodecTest, PrefixesAreTheStreamsFirstBytes) {
  const std::vector<std::byte> data = MixedData(65536, 23);
  const auto packed = Pack(data);
  for (size_t n : {size_t{1}, size_t{100}, size_t{4096}, size_t{30001}, data.size()}) {
    SCOPED_TRACE(n);
    GuardedOut out(n);
    const Status s = DecompressPrefix(GetParam(), packed, out.out());
    EXPECT_TRUE(out.GuardsIntact());
    if (NoPrefix(GetParam())) {
      EXPECT_CODE(s, kUnsupported);
      continue;
    }
    ASSERT_OK(s);
    EXPECT_TRUE(std::equal(out.out().begin(), out.out().end(), data.begin()));
  }
}

TEST_P(CodecTest, PrefixPastTheStreamIsCorrupt) {
  const std::vector<std::byte> data = MixedData(16384, 31);
  const auto packed = Pack(data);
  GuardedOut longer(data.size() + 1);
  if (NoPrefix(GetParam())) {
    // LZFSE blocks and LZO streams decode whole: no prefix mode, and they say so.
    EXPECT_CODE(DecompressPrefix(GetParam(), packed, longer.out()), kUnsupported);
    return;
  }
  EXPECT_CODE(DecompressPrefix(GetParam(), packed, longer.out()), kCorrupt);
  GuardedOut whole(data.size());
  EXPECT_CODE(DecompressPrefix(GetParam(), std::span(packed).first(packed.size() / 2), whole.out()),
              kCorrupt);
  EXPECT_CODE(DecompressPrefix(GetParam(), {}, whole.out()), kCorrupt);
  EXPECT_TRUE(longer.GuardsIntact() && whole.GuardsIntact());
}

INSTANTIATE_TEST_SUITE_P(Codecs, CodecTest, ::testing::ValuesIn(kAllCodecs), Name);

TEST(CodecNames, DistinctAndAvailable) {
  std::vector<std::string_view> names;
  for (Codec c : kAllCodecs) {
    names.push_back(CodecName(c));
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::unique(names.begin(), names.end()), names.end());
  EXPECT_EQ(CodecName(static_cast<Codec>(200)), "unknown");
  for (Codec c : {Codec::kDeflateRaw, Codec::kZlib, Codec::kZstd, Codec::kAdc, Codec::kLzfse}) {
    EXPECT_TRUE(Available(c)) << CodecName(c);
  }
  EXPECT_FALSE(Available(static_cast<Codec>(200)));
}

TEST(CodecNames, AnUnknownCodecIsAnInvalidArgument) {
  std::vector<std::byte> in(16);
  std::vector<std::byte> out(512);
  EXPECT_CODE(Decompress(static_cast<Codec>(200), in, out), kInvalidArgument);
  EXPECT_CODE(DecompressPrefix(static_cast<Codec>(200), in, out), kInvalidArgument);
  EXPECT_CODE(Compress(static_cast<Codec>(200), -1, in), kInvalidArgument);
}

TEST(CodecErrors, MessagesNameTheCodec) {
  std::vector<std::byte> out(4096);
  const auto garbage = Noise(1024, 3);
  for (Codec c : kAllCodecs) {
    if (!Available(c)) {
      continue;
    }
    const Status s = Decompress(c, garbage, out);
    ASSERT_FALSE(s.ok()) << CodecName(c);
    EXPECT_EQ(s.message().rfind(std::string(CodecName(c)) + ": ", 0), 0u) << s.ToString();
  }
}

TEST(CodecLevels, EveryLevelRoundTrips) {
  const std::vector<std::byte> data = MixedData(20000, 11);
  for (Codec c : {Codec::kDeflateRaw, Codec::kZlib, Codec::kZstd, Codec::kBzip2, Codec::kXz,
                  Codec::kLz4, Codec::kLzo}) {
    if (!Available(c)) {
      continue;
    }
    for (int level : {0, 1, 3, 5, 7, 9, 12, 19, 100}) {
      SCOPED_TRACE(std::string(CodecName(c)) + " level " + std::to_string(level));
      auto packed = Compress(c, level, data);
      ASSERT_OK(packed);
      std::vector<std::byte> out(data.size());
      ASSERT_OK(Decompress(c, *packed, out));
      EXPECT_TRUE(out == data);
    }
  }
}

// --- independent oracles ----------------------------------------------------

struct ToolCase {
  Codec codec;
  const char* tool;
  const char* compress;    // file "in" -> file "out"
  const char* decompress;  // file "in" -> file "out"
};

std::string ToolCaseName(const ::testing::TestParamInfo<ToolCase>& param_info) {
  return std::string(CodecName(param_info.param.codec)) + std::to_string(param_info.index);
}

class ToolOracleTest : public ::testing::TestWithParam<ToolCase> {
 protected:
  void SetUp() override {
    if (!Available(GetParam().codec)) {
      GTEST_SKIP() << CodecName(GetParam().codec) << " is not in this build";
    }
  }
};

TEST_P(ToolOracleTest, ToolOutputDecodes) {
  const ToolCase& c = GetParam();
  IMGFS_REQUIRE_TOOL(c.tool);
  imgfs::testing::TempDir dir;
  const std::vector<std::byte> data = MixedData(300 * 1024, 17);
  imgfs::testing::WriteWholeFile(dir.Join("in"), AsString(data));
  ASSERT_TRUE(imgfs::testing::Sh(dir.path(), c.compress));
  const std::vector<std::byte> packed = AsBytes(imgfs::testing::ReadWholeFile(dir.Join("out")));
  std::vector<std::byte> out(data.size());
  ASSERT_OK(Decompress(c.codec, packed, out));
  EXPECT_TRUE(out == data);
  if (NoPrefix(c.codec)) {
    return;
  }
  std::vector<std::byte> prefix(12345);
  ASSERT_OK(DecompressPrefix(c.codec, packed, prefix));
  EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), data.begin()));
}

TEST_P(ToolOracleTest, OurOutputDecodesWithTool) {
  const ToolCase& c = GetParam();
  IMGFS_REQUIRE_TOOL(c.tool);
  imgfs::testing::TempDir dir;
  const std::vector<std::byte> data = MixedData(300 * 1024, 19);
  auto packed = Compress(c.codec, -1, data);
  ASSERT_OK(packed);
  imgfs::testing::WriteWholeFile(dir.Join("in"), AsString(*packed));
  ASSERT_TRUE(imgfs::testing::Sh(dir.path(), c.decompress));
  EXPECT_TRUE(imgfs::testing::ReadWholeFile(dir.Join("out")) == AsString(data));
}

constexpr char kPyZlibCompress[] =
    "python3 -c 'import zlib; d=open(\"in\",\"rb\").read(); "
    "open(\"out\",\"wb\").write(zlib.compress(d, 9))'";
constexpr char kPyZlibDecompress[] =
    "python3 -c 'import zlib; d=open(\"in\",\"rb\").read(); "
    "open(\"out\",\"wb\").write(zlib.decompress(d))'";
// Raw deflate with QEMU's 4 KiB window (wbits -12).
constexpr char kPyDeflateCompress[] =
    "python3 -c 'import zlib; d=open(\"in\",\"rb\").read(); c=zlib.compressobj(6, "
    "zlib.DEFLATED, -12); open(\"out\",\"wb\").write(c.compress(d) + c.flush())'";
constexpr char kPyDeflateDecompress[] =
    "python3 -c 'import zlib; d=open(\"in\",\"rb\").read(); "
    "open(\"out\",\"wb\").write(zlib.decompress(d, -15))'";

// python3-lz4 (raw blocks, as cloop stores them) and python3-lzo (LZO1X
// without python-lzo's 5-byte header: 0xf0, the length big-endian), run by
// the first of PATH's python3 and Debian's /usr/bin/python3 that has them.
#define IMGFS_LZ_PY                                                                            \
  "for p in python3 /usr/bin/python3; do $p -c 'import lz4.block, lzo' 2>/dev/null && break; " \
  "done; $p -c 'import lz4.block, lzo, sys; d=open(\"in\",\"rb\").read(); "
constexpr char kPyLz4Compress[] =
    IMGFS_LZ_PY "open(\"out\",\"wb\").write(lz4.block.compress(d, store_size=False))'";
constexpr char kPyLz4Decompress[] =
    IMGFS_LZ_PY "open(\"out\",\"wb\").write(lz4.block.decompress(d, uncompressed_size=300*1024))'";
constexpr char kPyLzoCompress[] = IMGFS_LZ_PY "open(\"out\",\"wb\").write(lzo.compress(d, 9)[5:])'";
constexpr char kPyLzoDecompress[] = IMGFS_LZ_PY
    "open(\"out\",\"wb\").write(lzo.decompress(bytes([0xf0]) + (300*1024).to_bytes(4, \"big\") + "
    "d))'";
#undef IMGFS_LZ_PY

INSTANTIATE_TEST_SUITE_P(
    Tools, ToolOracleTest,
    ::testing::Values(ToolCase{Codec::kZlib, "python3", kPyZlibCompress, kPyZlibDecompress},
                      ToolCase{Codec::kDeflateRaw, "python3", kPyDeflateCompress,
                               kPyDeflateDecompress},
                      ToolCase{Codec::kBzip2, "bzip2", "bzip2 -c in > out", "bzip2 -dc in > out"},
                      ToolCase{Codec::kXz, "xz", "xz -c -6 in > out", "xz -dc in > out"},
                      // The legacy .lzma container decodes too (liblzma's auto decoder).
                      ToolCase{Codec::kXz, "xz", "xz --format=lzma -c in > out", "xz -dc in > out"},
                      ToolCase{Codec::kLz4, "python3", kPyLz4Compress, kPyLz4Decompress},
                      ToolCase{Codec::kLzo, "python3", kPyLzoCompress, kPyLzoDecompress}),
    ToolCaseName);

// Writes the seed corpus of codec_fuzzer (tests/fuzz/codec_fuzzer.cc
// layout: selector byte, 3-byte output size, stream) into
// $IMGFS_FUZZ_CORPUS_DIR/codec/. Run by hand:
//   IMGFS_FUZZ_CORPUS_DIR=tests/fuzz/corpus build/tests/core/codec_test
//     --gtest_also_run_disabled_tests --gtest_filter='*WriteFuzzSeeds*'
TEST(CodecSeeds, DISABLED_WriteFuzzSeeds) {
  const char* dir = std::getenv("IMGFS_FUZZ_CORPUS_DIR");
  if (dir == nullptr) {
    GTEST_SKIP() << "IMGFS_FUZZ_CORPUS_DIR not set";
  }
  const std::string sub = std::string(dir) + "/codec";
  ASSERT_EQ(imgfs::testing::RunIn(".", "mkdir -p " + sub), 0);
  for (size_t index = 0; index < std::size(kAllCodecs); ++index) {
    const Codec c = kAllCodecs[index];
    ASSERT_TRUE(Available(c));
    // Level 1 of deflate and zlib is ISA-L's encoder: its streams too.
    const bool deflate = c == Codec::kDeflateRaw || c == Codec::kZlib;
    for (int level : {-1, 1}) {
      if (level == 1 && !deflate) {
        continue;
      }
      for (size_t bytes : {size_t{100}, size_t{3000}}) {
        const auto data = MixedData(bytes, static_cast<uint32_t>(bytes));
        auto packed = Compress(c, level, data);
        ASSERT_OK(packed);
        for (bool prefix : {false, true}) {
          const size_t n = prefix ? bytes / 2 : bytes;
          std::string seed = {static_cast<char>(index | (prefix ? 0x80 : 0)),
                              static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                              static_cast<char>((n >> 16) & 0xff)};
          seed += AsString(*packed);
          imgfs::testing::WriteWholeFile(sub + "/" + std::string(CodecName(c)) +
                                             (level == 1 ? "-level1" : "") +
                                             (prefix ? "-prefix-" : "-") + std::to_string(bytes),
                                         seed);
        }
      }
    }
  }
}

}  // namespace
}  // namespace imgfs::codec
