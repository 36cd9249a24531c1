// SPDX-License-Identifier: MIT
// ADC decoder from hand-made token bytes, one case per rule, plus encoder
// round trips and prefixes.
#include "core/codec/adc.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "tests/formats/dmg/test_data.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::codec {
namespace {

std::vector<std::byte> B(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int x : v) {
    out.push_back(static_cast<std::byte>(x));
  }
  return out;
}

TEST(AdcDecode, LiteralShortAndLongMatches) {
  // "abcd" literal; short match length 3 offset 4 ("abc"); long match
  // length 5 offset 1 (an overlapping run of 'c').
  const auto in = B({0x83, 'a', 'b', 'c', 'd', 0x00, 0x03, 0x41, 0x00, 0x00});
  std::vector<std::byte> out(12);
  ASSERT_OK(AdcDecompress(in, out));
  EXPECT_EQ(dmg::testing::AsString(out), "abcdabcccccc");
}

TEST(AdcDecode, ShortMatchFieldLimits) {
  // Short match: length code 15 -> 18 bytes, offset field 0x3ff -> 1024.
  std::vector<std::byte> in = {std::byte{0xff}};
  for (int i = 0; i < 128; ++i) {
    in.push_back(static_cast<std::byte>(i));
  }
  for (int r = 0; r < 7; ++r) {  // 8 * 128 = 1024 literal bytes
    in.push_back(std::byte{0xff});
    for (int i = 0; i < 128; ++i) {
      in.push_back(static_cast<std::byte>(i + r + 1));
    }
  }
  in.push_back(std::byte{0x3f});
  in.push_back(std::byte{0xff});
  std::vector<std::byte> out(1024 + 18);
  ASSERT_OK(AdcDecompress(in, out));
  for (int i = 0; i < 18; ++i) {
    EXPECT_EQ(out[1024 + static_cast<size_t>(i)], out[static_cast<size_t>(i)]);
  }
}

TEST(AdcDecode, MatchBeforeStartIsCorrupt) {
  std::vector<std::byte> out(8);
  EXPECT_CODE(AdcDecompress(B({0x00, 0x00}), out), kCorrupt);
  EXPECT_CODE(AdcDecompress(B({0x80, 'a', 0x00, 0x01}), out), kCorrupt);
  EXPECT_CODE(AdcDecompress(B({0x80, 'a', 0x40, 0x00, 0x01}), out), kCorrupt);
}

TEST(AdcDecode, RunPastEndIsCorrupt) {
  std::vector<std::byte> out(3);
  EXPECT_CODE(AdcDecompress(B({0x83, 'a', 'b', 'c', 'd'}), out), kCorrupt);
  EXPECT_CODE(AdcDecompress(B({0x80, 'a', 0x00, 0x00}), out), kCorrupt);
}

TEST(AdcDecode, TruncatedTokensAreCorrupt) {
  std::vector<std::byte> out(16);
  EXPECT_CODE(AdcDecompress(B({}), out), kCorrupt);
  EXPECT_CODE(AdcDecompress(B({0x83, 'a'}), out), kCorrupt);
  EXPECT_CODE(AdcDecompress(B({0x80, 'a', 0x00}), out), kCorrupt);
  EXPECT_CODE(AdcDecompress(B({0x80, 'a', 0x40, 0x00}), out), kCorrupt);
  EXPECT_CODE(AdcDecompress(B({0x80, 'a', 0x04, 0x00}), out), kCorrupt);  // 4 of 16
}

TEST(AdcDecode, EmptyOutputNeedsNoInput) {
  std::vector<std::byte> out;
  EXPECT_OK(AdcDecompress({}, out));
}

TEST(AdcDecode, PrefixesCutTheLastToken) {
  // The same stream as above; every prefix ends inside or after a token.
  const auto in = B({0x83, 'a', 'b', 'c', 'd', 0x00, 0x03, 0x41, 0x00, 0x00});
  const std::string want = "abcdabcccccc";
  for (size_t n = 0; n <= want.size(); ++n) {
    std::vector<std::byte> out(n);
    ASSERT_OK(AdcDecompressPrefix(in, out));
    EXPECT_EQ(dmg::testing::AsString(out), want.substr(0, n));
  }
  std::vector<std::byte> longer(want.size() + 1);
  EXPECT_CODE(AdcDecompressPrefix(in, longer), kCorrupt);
  std::vector<std::byte> out(8);
  EXPECT_CODE(AdcDecompressPrefix(B({0x80, 'a', 0x00, 0x01}), out), kCorrupt);
}

TEST(AdcEncode, UsesAllTokenKinds) {
  const auto data = dmg::testing::MixedData(200000, 21);
  const auto packed = AdcCompress(data);
  bool literal = false, short_match = false, long_match = false;
  for (size_t i = 0; i < packed.size();) {
    const unsigned b = std::to_integer<unsigned>(packed[i]);
    if (b & 0x80) {
      literal = true;
      i += 1 + (b & 0x7f) + 1;
    } else if (b & 0x40) {
      long_match = true;
      i += 3;
    } else {
      short_match = true;
      i += 2;
    }
  }
  EXPECT_TRUE(literal && short_match && long_match);
  std::vector<std::byte> out(data.size());
  ASSERT_OK(AdcDecompress(packed, out));
  EXPECT_TRUE(out == data);
}

TEST(AdcEncode, TinyInputs) {
  for (size_t n = 0; n < 40; ++n) {
    std::vector<std::byte> data(n, std::byte{'x'});
    const auto packed = AdcCompress(data);
    std::vector<std::byte> out(n);
    ASSERT_OK(AdcDecompress(packed, out));
    EXPECT_TRUE(out == data) << n;
  }
}

}  // namespace
}  // namespace imgfs::codec
