// SPDX-License-Identifier: MIT
// LZFSE and LZVN: hand-made streams for each block kind and opcode form,
// malformed streams, and encoder round trips for every block kind. The
// independent oracle, 7-Zip reading DMGs whose chunks our encoder wrote
// block kind by block kind, is in tests/formats/dmg/codec_oracle_test.cc.
#include "core/codec/lzfse/lzfse.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/codec/adc.h"
#include "core/codec/lzfse/lzvn.h"
#include "tests/formats/dmg/test_data.h"
#include "tests/testing/oracles.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::codec {
namespace {

using dmg::testing::AsString;
using dmg::testing::MixedData;

std::vector<std::byte> B(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int x : v) {
    out.push_back(static_cast<std::byte>(x));
  }
  return out;
}
std::vector<std::byte> Cat(std::initializer_list<std::vector<std::byte>> parts) {
  std::vector<std::byte> out;
  for (const auto& p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}
const std::vector<std::byte> kEnd = B({'b', 'v', 'x', '$'});
std::vector<std::byte> LzvnBlock(uint32_t raw, const std::vector<std::byte>& payload) {
  const auto n = static_cast<uint32_t>(payload.size());
  return Cat({B({'b', 'v', 'x', 'n', static_cast<int>(raw & 0xff), static_cast<int>(raw >> 8), 0, 0,
                 static_cast<int>(n & 0xff), static_cast<int>(n >> 8), 0, 0}),
              payload});
}
const std::vector<std::byte> kLzvnEos = B({0x06, 0, 0, 0, 0, 0, 0, 0});

std::string Decode(const std::vector<std::byte>& in, size_t out_bytes, Status* status) {
  std::vector<std::byte> out(out_bytes);
  *status = LzfseDecompress(in, out);
  return AsString(out);
}

TEST(LzfseDecode, RawBlock) {
  Status s;
  const auto in = Cat({B({'b', 'v', 'x', '-', 5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'}), kEnd});
  EXPECT_EQ(Decode(in, 5, &s), "hello");
  EXPECT_OK(s);
  (void)Decode(in, 6, &s);
  EXPECT_CODE(s, kCorrupt);
  (void)Decode(in, 4, &s);
  EXPECT_CODE(s, kCorrupt);
}

TEST(LzfseDecode, EmptyStream) {
  std::vector<std::byte> out;
  EXPECT_OK(LzfseDecompress(kEnd, out));
  std::vector<std::byte> one(1);
  EXPECT_CODE(LzfseDecompress(kEnd, one), kCorrupt);
  EXPECT_CODE(LzfseDecompress({}, out), kCorrupt);
}

TEST(LzfseDecode, UnknownMagicAndMissingEnd) {
  std::vector<std::byte> out(5);
  EXPECT_CODE(LzfseDecompress(B({'b', 'v', 'x', '3', 0, 0, 0, 0}), out), kCorrupt);
  EXPECT_CODE(LzfseDecompress(B({'b', 'v', 'x', '-', 5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'}), out),
              kCorrupt);
}

TEST(LzvnDecode, EveryOpcodeForm) {
  Status s;
  // Small literal "abcd"; small distance L=0 M=3 D=4 ("abc"); no-op;
  // previous distance L=1 ('x') M=3; medium distance L=0 M=4 D=8;
  // large distance L=0 M=3 D=2; large literal of 16 'z'; match only M=2 at
  // D=2; large match M=16 at D=2; end.
  std::vector<std::byte> payload =
      Cat({B({0xe4, 'a', 'b', 'c', 'd'}), B({0x00, 0x04}), B({0x0e}), B({0x46, 'x'}),
           B({0xa0, (8 << 2) | 1, 0}), B({0x07, 0x02, 0x00}), B({0xe0, 0x00})});
  for (int i = 0; i < 16; ++i) {
    payload.push_back(std::byte{'z'});
  }
  payload = Cat({payload, B({0xf2}), B({0xf0, 0x00}), kLzvnEos});
  const std::string want =
      "abcd"
      "abc"
      "x"
      "abc"
      "dabc"
      "bcb" +
      std::string(34, 'z');
  const auto in = Cat({LzvnBlock(static_cast<uint32_t>(want.size()), payload), kEnd});
  EXPECT_EQ(Decode(in, want.size(), &s), want);
  EXPECT_OK(s);
}

TEST(LzvnDecode, MalformedStreams) {
  Status s;
  // Invalid opcodes.
  for (int op : {0x1e, 0x70, 0x7f, 0xd0, 0xdf}) {
    const auto in = Cat({LzvnBlock(1, Cat({B({0xe1, 'a', op}), kLzvnEos})), kEnd});
    (void)Decode(in, 1, &s);
    EXPECT_CODE(s, kCorrupt);
  }
  // Distance before the start, and the previous distance before any.
  for (const auto& bad : {B({0xe1, 'a', 0x00, 0x02}), B({0xe1, 'a', 0xf3}), B({0x46, 'a'})}) {
    const auto in = Cat({LzvnBlock(4, Cat({bad, kLzvnEos})), kEnd});
    (void)Decode(in, 4, &s);
    EXPECT_CODE(s, kCorrupt);
  }
  // No end opcode; truncated end; block larger than its content.
  (void)Decode(Cat({LzvnBlock(1, B({0xe1, 'a'})), kEnd}), 1, &s);
  EXPECT_CODE(s, kCorrupt);
  (void)Decode(Cat({LzvnBlock(1, B({0xe1, 'a', 0x06, 0})), kEnd}), 1, &s);
  EXPECT_CODE(s, kCorrupt);
  (void)Decode(Cat({LzvnBlock(2, Cat({B({0xe1, 'a'}), kLzvnEos})), kEnd}), 2, &s);
  EXPECT_CODE(s, kCorrupt);
}

class LzfseKindTest : public ::testing::TestWithParam<LzfseBlockKind> {};

TEST_P(LzfseKindTest, RoundTrips) {
  for (size_t bytes : {size_t{1}, size_t{7}, size_t{100}, size_t{5000}, size_t{300000}}) {
    SCOPED_TRACE(bytes);
    const auto data = MixedData(bytes, static_cast<uint32_t>(bytes) + 3);
    const auto packed = LzfseCompress(data, GetParam());
    std::vector<std::byte> out(bytes);
    ASSERT_OK(LzfseDecompress(packed, out));
    EXPECT_TRUE(out == data);
  }
}

TEST_P(LzfseKindTest, EveryTruncationIsCorrupt) {
  const auto data = MixedData(3000, 41);
  const auto packed = LzfseCompress(data, GetParam());
  std::vector<std::byte> out(data.size());
  for (size_t n = 0; n < packed.size(); ++n) {
    SCOPED_TRACE(n);
    EXPECT_CODE(LzfseDecompress(std::span(packed).first(n), out), kCorrupt);
  }
}

TEST_P(LzfseKindTest, BitFlipsNeverCrash) {
  const auto data = MixedData(3000, 43);
  const auto packed = LzfseCompress(data, GetParam());
  std::vector<std::byte> out(data.size());
  for (size_t i = 0; i < packed.size(); ++i) {
    std::vector<std::byte> bad = packed;
    bad[i] ^= static_cast<std::byte>(1u << (i % 8));
    (void)LzfseDecompress(bad, out);
  }
}

std::string KindName(const ::testing::TestParamInfo<LzfseBlockKind>& param_info) {
  return std::string(LzfseBlockKindName(param_info.param));
}

INSTANTIATE_TEST_SUITE_P(Kinds, LzfseKindTest,
                         ::testing::Values(LzfseBlockKind::kAuto, LzfseBlockKind::kV2,
                                           LzfseBlockKind::kV1, LzfseBlockKind::kLzvn,
                                           LzfseBlockKind::kRaw),
                         KindName);

TEST(LzfseEncode, ManyBlocksAndLongMatches) {
  // Long runs (M split over several triples), long literal runs (L split),
  // and more than 10000 triples (several blocks).
  std::vector<std::byte> data = MixedData(1 << 20, 47);
  data.insert(data.begin() + 1000, 50000, std::byte{0x41});
  const auto packed = LzfseCompress(data, LzfseBlockKind::kV2);
  EXPECT_LT(packed.size(), data.size() / 2);
  std::vector<std::byte> out(data.size());
  ASSERT_OK(LzfseDecompress(packed, out));
  EXPECT_TRUE(out == data);
}

// Writes the seed corpora of the codec fuzzers (tests/fuzz/codec_fuzz.h
// layout) into $IMGFS_FUZZ_CORPUS_DIR/{adc,lzfse,lzvn}/. Run by hand:
//   IMGFS_FUZZ_CORPUS_DIR=tests/fuzz/corpus build/tests/core/lzfse_test
//     --gtest_also_run_disabled_tests --gtest_filter='*WriteFuzzSeeds*'
TEST(LzfseSeeds, DISABLED_WriteFuzzSeeds) {
  const char* dir = std::getenv("IMGFS_FUZZ_CORPUS_DIR");
  if (dir == nullptr) {
    GTEST_SKIP() << "IMGFS_FUZZ_CORPUS_DIR not set";
  }
  auto write = [&](const std::string& sub, const std::string& name,
                   std::span<const std::byte> plain, const std::vector<std::byte>& packed) {
    const size_t n = plain.size();
    std::string bytes = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                         static_cast<char>((n >> 16) & 0xff)};
    bytes += AsString(packed);
    ASSERT_EQ(imgfs::testing::RunIn(".", "mkdir -p " + std::string(dir) + "/" + sub), 0);
    imgfs::testing::WriteWholeFile(std::string(dir) + "/" + sub + "/" + name, bytes);
  };
  for (size_t bytes : {size_t{64}, size_t{1000}, size_t{6000}, size_t{30000}}) {
    const auto data = MixedData(bytes, static_cast<uint32_t>(bytes));
    const std::string tag = std::to_string(bytes);
    write("adc", "mixed-" + tag, data, AdcCompress(data));
    write("lzvn", "mixed-" + tag, data, lzfse::LzvnEncode(data));
    write("lzfse", "v2-" + tag, data, LzfseCompress(data, LzfseBlockKind::kV2));
    write("lzfse", "lzvn-" + tag, data, LzfseCompress(data, LzfseBlockKind::kLzvn));
  }
  const auto small = MixedData(2000, 7);
  write("lzfse", "v1-2000", small, LzfseCompress(small, LzfseBlockKind::kV1));
  write("lzfse", "raw-2000", small, LzfseCompress(small, LzfseBlockKind::kRaw));
  const std::vector<std::byte> zeros(100000);
  write("lzfse", "zeros", zeros, LzfseCompress(zeros, LzfseBlockKind::kV2));
  write("adc", "zeros", zeros, AdcCompress(zeros));
}

}  // namespace
}  // namespace imgfs::codec
