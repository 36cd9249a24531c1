// SPDX-License-Identifier: MIT
// The shared hash match finder of the ADC, LZVN and LZFSE encoders: match
// lengths across the 8-byte compare steps, overlapping (run-length)
// matches, the distance and length limits, 3- and 4-byte minimums, and
// re-indexing inside a match.
#include "core/codec/match_finder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace imgfs::codec {
namespace {

std::vector<std::byte> B(const std::string& s) {
  std::vector<std::byte> out;
  for (char c : s) {
    out.push_back(static_cast<std::byte>(c));
  }
  return out;
}

TEST(CommonPrefixBytes, CountsAcrossWordsAndStopsAtTheLimit) {
  for (size_t same = 0; same < 40; ++same) {
    std::vector<std::byte> a(48, std::byte{'x'});
    std::vector<std::byte> b = a;
    b[same] = std::byte{'y'};
    EXPECT_EQ(CommonPrefixBytes(a.data(), b.data(), 48), same);
    EXPECT_EQ(CommonPrefixBytes(a.data(), b.data(), same / 2), same / 2);
  }
  const auto run = B(std::string(100, 'z'));
  EXPECT_EQ(CommonPrefixBytes(run.data() + 1, run.data(), 99), 99u);  // overlapping
  EXPECT_EQ(CommonPrefixBytes(run.data(), run.data(), 0), 0u);
}

TEST(HashMatchFinder, FindsTheLastEarlierOccurrence) {
  const auto in = B("abcdefgh--abcdefgh--abcdexyz");
  HashMatchFinder<12, 4> finder(in, 1000, SIZE_MAX);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(finder.FindAndInsert(i).length, 0u) << i;
  }
  const LzMatch m = finder.FindAndInsert(10);
  EXPECT_EQ(m.distance, 10u);
  EXPECT_EQ(m.length, 15u);  // "abcdefgh--abcde", overlapping its own start
  finder.InsertEvery(11, 20, 1);
  const LzMatch m2 = finder.FindAndInsert(20);
  EXPECT_EQ(m2.distance, 10u);  // the later copy, not the first
  EXPECT_EQ(m2.length, 5u);     // "abcde"
}

TEST(HashMatchFinder, RespectsDistanceLengthAndMinimum) {
  const auto in = B("abcdefgh--abcdefgh");
  HashMatchFinder<12, 4> far(in, 9, SIZE_MAX);
  for (size_t i = 0; i < 10; ++i) {
    (void)far.FindAndInsert(i);
  }
  EXPECT_EQ(far.FindAndInsert(10).length, 0u);  // 10 bytes back, limit 9

  HashMatchFinder<12, 4> shorter(in, 100, 6);
  for (size_t i = 0; i < 10; ++i) {
    (void)shorter.FindAndInsert(i);
  }
  EXPECT_EQ(shorter.FindAndInsert(10).length, 6u);

  const auto three = B("abcXabcY");
  HashMatchFinder<12, 3> adc(three, 100, 100);
  HashMatchFinder<12, 4> lz(three, 100, 100);
  for (size_t i = 0; i < 4; ++i) {
    (void)adc.FindAndInsert(i);
    (void)lz.FindAndInsert(i);
  }
  EXPECT_EQ(adc.FindAndInsert(4).length, 3u);
  EXPECT_EQ(lz.FindAndInsert(4).length, 0u);
}

TEST(HashMatchFinder, RunsMatchThemselves) {
  const auto in = B(std::string(64, 'q'));
  HashMatchFinder<12, 4> finder(in, 100, SIZE_MAX);
  EXPECT_EQ(finder.FindAndInsert(0).length, 0u);
  const LzMatch m = finder.FindAndInsert(1);
  EXPECT_EQ(m.distance, 1u);
  EXPECT_EQ(m.length, 63u);
}

}  // namespace
}  // namespace imgfs::codec
