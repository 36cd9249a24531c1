// SPDX-License-Identifier: MIT
// CRC-32 helpers against zlib's crc32 over real bytes.
#include "core/util/crc32.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <vector>

namespace imgfs {
namespace {

// Crc32 may be ISA-L's (crc32.cc); zlib's crc32 is the oracle, whole and
// continued from a previous value, at lengths around the SIMD block sizes.
TEST(Crc32Test, MatchesZlibWholeAndContinued) {
  std::vector<std::byte> data(300000);
  uint32_t seed = 7;
  for (auto& b : data) {
    seed = seed * 1103515245 + 12345;
    b = static_cast<std::byte>(seed >> 24);
  }
  const auto* p = reinterpret_cast<const Bytef*>(data.data());
  for (size_t n : {0, 1, 15, 16, 63, 64, 65, 255, 256, 4097, 65536, 300000}) {
    EXPECT_EQ(Crc32(std::span(data).first(n)), crc32(0, p, static_cast<uInt>(n))) << n;
    for (size_t cut : {size_t{0}, n / 3, n}) {
      const uint32_t head = Crc32(std::span(data).first(cut));
      EXPECT_EQ(Crc32(std::span(data).subspan(cut, n - cut), head),
                crc32(0, p, static_cast<uInt>(n)))
          << n << " cut " << cut;
    }
  }
}

TEST(Crc32Test, OfZerosMatchesDirectCrc) {
  for (uint64_t n : {0, 1, 2, 3, 511, 512, 4096, 1000003}) {
    std::vector<std::byte> zeros(n);
    EXPECT_EQ(Crc32OfZeros(n), Crc32(zeros)) << n;
  }
}

TEST(Crc32Test, ZeroExtendMatchesDirectCrc) {
  std::vector<std::byte> data(777);
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<std::byte>(i * 37 + 11);
  }
  const uint32_t head = Crc32(data);
  for (uint64_t n : {0, 1, 5, 4096, 65537}) {
    std::vector<std::byte> padded = data;
    padded.resize(data.size() + n);
    EXPECT_EQ(Crc32ZeroExtend(head, n), Crc32(padded)) << n;
  }
}

TEST(Crc32Test, ZeroExtendSplitsHugeRuns) {
  // Lengths past 2^62 are applied in steps; the result must not depend on
  // how a run is split.
  const uint64_t huge = (uint64_t{1} << 63) + 12345;
  const uint32_t whole = Crc32ZeroExtend(0x1234abcdU, huge);
  const uint32_t split = Crc32ZeroExtend(Crc32ZeroExtend(0x1234abcdU, huge - 999), 999);
  EXPECT_EQ(whole, split);
  EXPECT_EQ(Crc32ZeroExtend(0x1234abcdU, UINT64_MAX),
            Crc32ZeroExtend(Crc32ZeroExtend(0x1234abcdU, UINT64_MAX - 1), 1));
}

TEST(Crc32Test, CombineMatchesDirectCrc) {
  std::vector<std::byte> a(100, std::byte{7});
  std::vector<std::byte> b(333, std::byte{9});
  std::vector<std::byte> ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  EXPECT_EQ(CrcCombine(Crc32(a), Crc32(b), b.size()), Crc32(ab));
}

}  // namespace
}  // namespace imgfs
