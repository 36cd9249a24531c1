// SPDX-License-Identifier: MIT
// CRC-32C against published check values (RFC 3720 B.4, the "123456789"
// check value of the Castagnoli CRC catalogue) and incremental use.
#include "core/util/crc32c.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace imgfs {
namespace {

std::vector<std::byte> Bytes(std::string_view s) {
  std::vector<std::byte> v(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    v[i] = static_cast<std::byte>(s[i]);
  }
  return v;
}

TEST(Crc32cTest, CheckValue) { EXPECT_EQ(Crc32c(Bytes("123456789")), 0xE3069283U); }

TEST(Crc32cTest, Rfc3720Vectors) {
  std::vector<std::byte> zeros(32, std::byte{0});
  EXPECT_EQ(Crc32c(zeros), 0x8A9136AAU);
  std::vector<std::byte> ones(32, std::byte{0xff});
  EXPECT_EQ(Crc32c(ones), 0x62A8AB43U);
  std::vector<std::byte> inc(32);
  std::vector<std::byte> dec(32);
  for (size_t i = 0; i < 32; ++i) {
    inc[i] = static_cast<std::byte>(i);
    dec[i] = static_cast<std::byte>(31 - i);
  }
  EXPECT_EQ(Crc32c(inc), 0x46DD794EU);
  EXPECT_EQ(Crc32c(dec), 0x113FDB5CU);
}

TEST(Crc32cTest, EmptyAndIncremental) {
  EXPECT_EQ(Crc32c({}), 0U);
  const auto all = Bytes("The quick brown fox jumps over the lazy dog");
  const std::span<const std::byte> s(all);
  EXPECT_EQ(Crc32c(s.subspan(10), Crc32c(s.first(10))), Crc32c(s));
}

}  // namespace
}  // namespace imgfs
