// SPDX-License-Identifier: MIT
// The bounded table loader: byte orders and widths, the file-size and cap
// checks with their messages, and cached loads under the caller's key.
#include "core/blockmap/table_loader.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

constexpr TableSpec kBig{"fmt", "grain table", ByteOrder::kBig, 64};
constexpr TableSpec kLittle{"fmt", "BAT", ByteOrder::kLittle, 64};

std::unique_ptr<File> Bytes() {
  std::string s;
  for (int i = 0; i < 32; ++i) {
    s.push_back(static_cast<char>(i + 1));
  }
  return NewMemoryFile("t", s);
}

TEST(TableLoaderTest, DecodesEveryWidthInBothOrders) {
  auto file = Bytes();
  auto be16 = ReadTable<uint16_t>(*file, 0, 2, kBig);
  ASSERT_OK(be16);
  EXPECT_EQ(*be16, (std::vector<uint16_t>{0x0102, 0x0304}));
  auto le32 = ReadTable<uint32_t>(*file, 4, 2, kLittle);
  ASSERT_OK(le32);
  EXPECT_EQ(*le32, (std::vector<uint32_t>{0x08070605, 0x0c0b0a09}));
  auto be64 = ReadTable<uint64_t>(*file, 24, 1, kBig);
  ASSERT_OK(be64);
  EXPECT_EQ(*be64, (std::vector<uint64_t>{0x191a1b1c1d1e1f20}));
  auto empty = ReadTable<uint64_t>(*file, 32, 0, kBig);
  ASSERT_OK(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(TableLoaderTest, RefusesTablesPastTheFileOrTheCap) {
  auto file = Bytes();
  auto past = ReadTable<uint32_t>(*file, 20, 4, kBig);
  EXPECT_CODE(past, kCorrupt);
  EXPECT_EQ(past.status().message(),
            "fmt: grain table at 0x14 extends past end of file (size 0x20)");
  auto big = ReadTable<uint64_t>(*file, 0, 9, kBig);  // 72 bytes > 64
  EXPECT_CODE(big, kUnsupported);
  EXPECT_EQ(big.status().message(),
            "fmt: grain table at 0x0 has 9 entries, more than the 64 bytes limit");
  EXPECT_CODE(ReadTable<uint64_t>(*file, 0, uint64_t{1} << 62, kBig), kUnsupported);
  EXPECT_CODE(ReadTable<uint16_t>(*file, UINT64_MAX, 1, kBig), kCorrupt);
  EXPECT_EQ(ByteSizeText(32 << 20), "32 MiB");
  EXPECT_EQ(ByteSizeText(8192), "8 KiB");
}

TEST(TableLoaderTest, CachedLoadsHitUnderTheSameKey) {
  auto file = Bytes();
  Cache cache(1 << 20);
  const CacheKey key{cache.NewId(), CacheKind::kTable, 7};
  auto a = LoadTable<uint32_t>(*file, cache, key, 0, 4, kBig);
  ASSERT_OK(a);
  auto b = LoadTable<uint32_t>(*file, cache, key, 0, 4, kBig);
  ASSERT_OK(b);
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ(cache.TotalCharge(), 16u);
  EXPECT_EQ((*a)->words[3], 0x0d0e0f10u);
  EXPECT_CODE(
      LoadTable<uint32_t>(*file, cache, CacheKey{key.device_id, CacheKind::kTable, 8}, 30, 4, kBig),
      kCorrupt);
  Cache none(0);  // nothing cached: still loads
  auto c = LoadTable<uint32_t>(*file, none, key, 0, 4, kBig);
  ASSERT_OK(c);
  EXPECT_EQ((*c)->words, (*a)->words);
}

}  // namespace
}  // namespace imgfs
