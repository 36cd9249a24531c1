// SPDX-License-Identifier: MIT
// The codec library's deflate back ends (core/codec/codec_internal.h):
// libdeflate, zlib and Intel ISA-L. Every encoder's streams decode with
// every decoder, raw and zlib-wrapped; ISA-L's inflate keeps the codec
// contract (exact size, prefixes, kCorrupt for short, long, truncated and
// damaged streams, guard bytes untouched); the level map sends level 1 to
// ISA-L and the others to libdeflate; and Python's zlib reads ISA-L's
// zlib streams (an independent decoder).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/codec/codec.h"
#include "core/codec/codec_internal.h"
#include "tests/core/codec/codec_test_util.h"
#include "tests/formats/dmg/test_data.h"
#include "tests/testing/oracles.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/zlib_stream.h"

namespace imgfs::codec::internal {
namespace {

using dmg::testing::AsBytes;
using dmg::testing::AsString;
using dmg::testing::MixedData;

class IsalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!IsalBuilt()) {
      GTEST_SKIP() << "this build has no ISA-L";
    }
  }
  static std::vector<std::byte> Isal(bool zlib_header, int level, std::span<const std::byte> in) {
    auto r = IsalDeflate(zlib_header, level, in);
    EXPECT_OK(r);
    return r.ok() ? std::move(*r) : std::vector<std::byte>{};
  }
};

// A named encoder: ISA-L 0..3, libdeflate 0, 1, 6, 12, or zlib itself.
struct Encoder {
  std::string name;
  std::vector<std::byte> (*pack)(bool zlib_header, int level, std::span<const std::byte> in);
  int level;
};

std::vector<std::byte> PackIsal(bool zlib_header, int level, std::span<const std::byte> in) {
  auto r = IsalDeflate(zlib_header, level, in);
  EXPECT_OK(r);
  return r.ok() ? std::move(*r) : std::vector<std::byte>{};
}
std::vector<std::byte> PackLibdeflate(bool zlib_header, int level, std::span<const std::byte> in) {
  auto r = LibdeflateDeflate(zlib_header, level, in);
  EXPECT_OK(r);
  return r.ok() ? std::move(*r) : std::vector<std::byte>{};
}
std::vector<std::byte> PackZlib(bool zlib_header, int level, std::span<const std::byte> in) {
  // QEMU's 4 KiB window for raw deflate; the largest for zlib streams.
  return AsBytes(imgfs::testing::ZlibDeflate(AsString(in), zlib_header ? 15 : -12, level));
}

TEST_F(IsalTest, EveryEncoderDecodesWithEveryDecoder) {
  const std::vector<Encoder> encoders = {
      {"isal0", PackIsal, 0},
      {"isal1", PackIsal, 1},
      {"isal2", PackIsal, 2},
      {"isal3", PackIsal, 3},
      {"libdeflate0", PackLibdeflate, 0},
      {"libdeflate1", PackLibdeflate, 1},
      {"libdeflate12", PackLibdeflate, 12},
      {"zlib6", PackZlib, 6},
  };
  std::vector<std::vector<std::byte>> inputs;
  for (size_t bytes :
       {size_t{1}, size_t{512}, size_t{4096}, size_t{65536} + 512, size_t{1} << 20}) {
    inputs.push_back(MixedData(bytes, static_cast<uint32_t>(bytes)));
  }
  inputs.push_back(Noise(size_t{1} << 20, 5));       // stored blocks
  inputs.push_back(std::vector<std::byte>(300000));  // one long run
  for (bool zlib_header : {false, true}) {
    for (const Encoder& e : encoders) {
      for (const auto& data : inputs) {
        SCOPED_TRACE(e.name + (zlib_header ? " zlib " : " raw ") + std::to_string(data.size()));
        const std::vector<std::byte> packed = e.pack(zlib_header, e.level, data);
        GuardedOut a(data.size());
        ASSERT_OK(IsalInflate(zlib_header, packed, a.out(), Fill::kExact));
        EXPECT_TRUE(std::equal(data.begin(), data.end(), a.out().begin()));
        GuardedOut b(data.size());
        ASSERT_OK(LibdeflateInflate(zlib_header, packed, b.out()));
        EXPECT_TRUE(std::equal(data.begin(), data.end(), b.out().begin()));
        GuardedOut p(data.size() / 3 + 1);
        ASSERT_OK(IsalInflate(zlib_header, packed, p.out(), Fill::kPrefix));
        EXPECT_TRUE(std::equal(p.out().begin(), p.out().end(), data.begin()));
        GuardedOut z(data.size() / 3 + 1);
        ASSERT_OK(ZlibInflatePrefix(zlib_header, packed, z.out()));
        EXPECT_TRUE(std::equal(z.out().begin(), z.out().end(), data.begin()));
        EXPECT_TRUE(a.GuardsIntact() && b.GuardsIntact() && p.GuardsIntact() && z.GuardsIntact());
      }
    }
  }
}

TEST_F(IsalTest, AnEmptyInputMakesAStreamOfNothing) {
  for (bool zlib_header : {false, true}) {
    const auto packed = Isal(zlib_header, 3, {});
    ASSERT_FALSE(packed.empty());
    EXPECT_OK(IsalInflate(zlib_header, packed, {}, Fill::kExact));
    EXPECT_OK(LibdeflateInflate(zlib_header, packed, {}));
  }
}

TEST_F(IsalTest, TheOutputMustBeExactlyTheStream) {
  const auto data = MixedData(100000, 7);
  for (bool zlib_header : {false, true}) {
    const auto packed = Isal(zlib_header, 3, data);
    GuardedOut shorter(data.size() - 1);
    const Status s = IsalInflate(zlib_header, packed, shorter.out(), Fill::kExact);
    EXPECT_CODE(s, kCorrupt);
    EXPECT_EQ(s.message().rfind(zlib_header ? "zlib: " : "deflate: ", 0), 0u) << s.ToString();
    GuardedOut longer(data.size() + 1);
    EXPECT_CODE(IsalInflate(zlib_header, packed, longer.out(), Fill::kExact), kCorrupt);
    GuardedOut tiny(1);
    EXPECT_CODE(IsalInflate(zlib_header, packed, tiny.out(), Fill::kExact), kCorrupt);
    EXPECT_TRUE(shorter.GuardsIntact() && longer.GuardsIntact() && tiny.GuardsIntact());
  }
}

TEST_F(IsalTest, BytesAfterTheStreamAreIgnored) {
  const auto data = MixedData(70000, 9);
  for (bool zlib_header : {false, true}) {
    auto packed = Isal(zlib_header, 1, data);
    packed.resize((packed.size() + 511) / 512 * 512 + 512, std::byte{0x55});
    GuardedOut out(data.size());
    ASSERT_OK(IsalInflate(zlib_header, packed, out.out(), Fill::kExact));
    EXPECT_TRUE(std::equal(data.begin(), data.end(), out.out().begin()));
  }
}

TEST_F(IsalTest, EveryTruncationIsCorrupt) {
  const auto data = MixedData(20000, 13);
  for (bool zlib_header : {false, true}) {
    const auto packed = Isal(zlib_header, 3, data);
    for (size_t cut = 0; cut < packed.size(); cut += std::max<size_t>(1, packed.size() / 97)) {
      SCOPED_TRACE(cut);
      GuardedOut out(data.size());
      EXPECT_CODE(IsalInflate(zlib_header, std::span(packed).first(cut), out.out(), Fill::kExact),
                  kCorrupt);
      EXPECT_TRUE(out.GuardsIntact());
    }
    // The Adler-32 alone missing, or wrong.
    GuardedOut out(data.size());
    if (zlib_header) {
      EXPECT_CODE(
          IsalInflate(true, std::span(packed).first(packed.size() - 1), out.out(), Fill::kExact),
          kCorrupt);
      auto bad = packed;
      bad.back() ^= std::byte{1};
      EXPECT_CODE(IsalInflate(true, bad, out.out(), Fill::kExact), kCorrupt);
    }
  }
}

TEST_F(IsalTest, DamagedAndMismatchedStreamsAreCorrupt) {
  const auto data = MixedData(50000, 17);
  const auto raw = Isal(false, 3, data);
  const auto wrapped = Isal(true, 3, data);
  GuardedOut out(data.size());
  // The wrong framing either way.
  EXPECT_CODE(IsalInflate(true, raw, out.out(), Fill::kExact), kCorrupt);
  EXPECT_CODE(IsalInflate(false, wrapped, out.out(), Fill::kExact), kCorrupt);
  // A zlib header that asks for a preset dictionary (FDICT), checksum fixed.
  auto dict = wrapped;
  dict[1] = std::byte{0x20};
  const unsigned cmf_flg = (unsigned{std::to_integer<uint8_t>(dict[0])} << 8) | 0x20;
  dict[1] |= static_cast<std::byte>(31 - cmf_flg % 31);
  EXPECT_CODE(IsalInflate(true, dict, out.out(), Fill::kExact), kCorrupt);
  // Flipped bits throughout must never crash, overrun or pass silently wrong.
  for (size_t at = 2; at < raw.size(); at += 37) {
    auto bad = wrapped;
    bad[at] ^= std::byte{0x5a};
    const Status s = IsalInflate(true, bad, out.out(), Fill::kExact);
    if (s.ok()) {
      EXPECT_TRUE(std::equal(data.begin(), data.end(), out.out().begin())) << at;
    } else {
      EXPECT_CODE(s, kCorrupt);
    }
  }
  EXPECT_CODE(IsalInflate(false, Noise(4096, 3), out.out(), Fill::kExact), kCorrupt);
  EXPECT_CODE(IsalInflate(true, {}, out.out(), Fill::kExact), kCorrupt);
  EXPECT_TRUE(out.GuardsIntact());
}

TEST_F(IsalTest, PrefixesStopWhereOutIsFull) {
  const auto data = MixedData(200000, 19);
  for (bool zlib_header : {false, true}) {
    const auto packed = Isal(zlib_header, 3, data);
    for (size_t n : {size_t{1}, size_t{4096}, size_t{65536}, data.size()}) {
      GuardedOut out(n);
      ASSERT_OK(IsalInflate(zlib_header, packed, out.out(), Fill::kPrefix));
      EXPECT_TRUE(std::equal(out.out().begin(), out.out().end(), data.begin()));
      EXPECT_TRUE(out.GuardsIntact());
    }
    GuardedOut longer(data.size() + 1);
    EXPECT_CODE(IsalInflate(zlib_header, packed, longer.out(), Fill::kPrefix), kCorrupt);
    GuardedOut whole(data.size());
    EXPECT_CODE(IsalInflate(zlib_header, std::span(packed).first(packed.size() / 2), whole.out(),
                            Fill::kPrefix),
                kCorrupt);
    EXPECT_CODE(IsalInflate(zlib_header, {}, whole.out(), Fill::kPrefix), kCorrupt);
    EXPECT_TRUE(longer.GuardsIntact() && whole.GuardsIntact());
  }
}

TEST_F(IsalTest, LevelsOutsideIsalsRangeAreRefused) {
  const auto data = MixedData(1000, 1);
  EXPECT_CODE(IsalDeflate(true, -1, data), kInvalidArgument);
  EXPECT_CODE(IsalDeflate(true, kIsalMaxLevel + 1, data), kInvalidArgument);
}

// The level map (deflate.cc): level 1 is ISA-L's level 3, every other level
// libdeflate's own. The streams are deterministic, so the map shows in the
// bytes.
TEST_F(IsalTest, LevelOneIsIsalLevelThreeAndTheRestLibdeflate) {
  const auto data = MixedData(300000, 23);
  for (Codec c : {Codec::kZlib, Codec::kDeflateRaw}) {
    const bool zlib_header = c == Codec::kZlib;
    auto one = Compress(c, 1, data);
    ASSERT_OK(one);
    EXPECT_TRUE(*one == Isal(zlib_header, 3, data));
    for (int level : {0, 2, 6, 9, 12}) {
      auto packed = Compress(c, level, data);
      ASSERT_OK(packed);
      auto want = LibdeflateDeflate(zlib_header, level, data);
      ASSERT_OK(want);
      EXPECT_TRUE(*packed == *want) << level;
    }
    auto dflt = Compress(c, -1, data);
    ASSERT_OK(dflt);
    EXPECT_TRUE(*dflt == *LibdeflateDeflate(zlib_header, 6, data));
  }
}

// Python's zlib (the reference implementation, a separate process) reads
// the zlib streams level 1 now makes, and writes streams ISA-L reads.
TEST_F(IsalTest, PythonZlibReadsAndWritesIsalStreams) {
  IMGFS_REQUIRE_TOOL("python3");
  imgfs::testing::TempDir dir;
  const auto data = MixedData(600 * 1024, 29);
  auto packed = Compress(Codec::kZlib, 1, data);
  ASSERT_OK(packed);
  imgfs::testing::WriteWholeFile(dir.Join("in"), AsString(*packed));
  ASSERT_TRUE(imgfs::testing::Sh(dir.path(),
                                 "python3 -c 'import zlib; d=open(\"in\",\"rb\").read(); "
                                 "open(\"out\",\"wb\").write(zlib.decompress(d))'"));
  EXPECT_TRUE(imgfs::testing::ReadWholeFile(dir.Join("out")) == AsString(data));
  imgfs::testing::WriteWholeFile(dir.Join("plain"), AsString(data));
  ASSERT_TRUE(imgfs::testing::Sh(dir.path(),
                                 "python3 -c 'import zlib; d=open(\"plain\",\"rb\").read(); "
                                 "open(\"z\",\"wb\").write(zlib.compress(d, 1))'"));
  const auto theirs = AsBytes(imgfs::testing::ReadWholeFile(dir.Join("z")));
  GuardedOut out(data.size());
  ASSERT_OK(IsalInflate(true, theirs, out.out(), Fill::kExact));
  EXPECT_TRUE(std::equal(data.begin(), data.end(), out.out().begin()));
}

}  // namespace
}  // namespace imgfs::codec::internal
