// SPDX-License-Identifier: MIT
#include "formats/qcow2/tables.h"

#include <gtest/gtest.h>

#include "tests/formats/qcow2/image_builder.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::qcow2 {
namespace {

Geometry Geo(uint32_t cluster_bits, bool extended = false, bool external = false) {
  Geometry g;
  g.cluster_bits = cluster_bits;
  g.l2_bits = cluster_bits - (extended ? 4 : 3);
  g.extended_l2 = extended;
  g.external_data = external;
  return g;
}

TEST(Qcow2TablesTest, StandardEntries) {
  Geometry g = Geo(16);
  L2Table l2{{0, 0x30000 | kCopied, 0x30000 | kL2ZeroFlag, kL2ZeroFlag, 0x30200}};
  auto u = DecodeUnit(g, l2, 0x10000, 0);
  ASSERT_OK(u);
  EXPECT_EQ(u->kind, UnitKind::kUnallocated);
  u = DecodeUnit(g, l2, 0x10000, 1);
  ASSERT_OK(u);
  EXPECT_EQ(u->kind, UnitKind::kData);
  EXPECT_EQ(u->host_offset, 0x30000u);
  u = DecodeUnit(g, l2, 0x10000, 2);
  ASSERT_OK(u);
  EXPECT_EQ(u->kind, UnitKind::kZero);  // zero flag wins over an allocation
  u = DecodeUnit(g, l2, 0x10000, 3);
  ASSERT_OK(u);
  EXPECT_EQ(u->kind, UnitKind::kZero);
  auto bad = DecodeUnit(g, l2, 0x10000, 4);
  EXPECT_CODE(bad, kCorrupt);
  EXPECT_NE(bad.status().message().find("L2 table at 0x10000 entry 4"), std::string::npos);
}

TEST(Qcow2TablesTest, HostOffsetZeroIsDataOnlyWithExternalFile) {
  L2Table l2{{kCopied}};
  auto u = DecodeUnit(Geo(16), l2, 0, 0);
  ASSERT_OK(u);
  EXPECT_EQ(u->kind, UnitKind::kUnallocated);
  u = DecodeUnit(Geo(16, false, true), l2, 0, 0);
  ASSERT_OK(u);
  EXPECT_EQ(u->kind, UnitKind::kData);
  EXPECT_EQ(u->host_offset, 0u);
}

TEST(Qcow2TablesTest, CompressedDescriptor) {
  // cluster_bits 16: offset in bits 0..53, extra sectors in 54..61.
  uint64_t word = kL2Compressed | (3ull << 54) | 0x12345;
  L2Table l2{{word}};
  auto u = DecodeUnit(Geo(16), l2, 0, 0);
  ASSERT_OK(u);
  EXPECT_EQ(u->kind, UnitKind::kCompressed);
  EXPECT_EQ(u->host_offset, 0x12345u);
  // The stream ends at the end of the 4th sector from 0x12200.
  EXPECT_EQ(u->host_offset + u->compressed_bytes, 0x12200u + 4 * 512);
  // cluster_bits 9: offset in bits 0..60, one sector-count bit.
  word = kL2Compressed | (1ull << 61) | 0x400;
  L2Table small{{word}};
  u = DecodeUnit(Geo(9), small, 0, 0);
  ASSERT_OK(u);
  EXPECT_EQ(u->compressed_bytes, 1024u);
  EXPECT_CODE(DecodeUnit(Geo(16, false, true), l2, 0, 0), kCorrupt);
}

TEST(Qcow2TablesTest, ExtendedL2Subclusters) {
  Geometry g = Geo(16, true);
  // sc 0 allocated, sc 1 zero, sc 2 unallocated, sc 3 both (invalid).
  uint64_t bitmap = 0b1001 | (0b1010ull << 32);
  L2Table l2{{0x50000, bitmap, 0, 1}};
  auto u = DecodeUnit(g, l2, 0, 0);
  ASSERT_OK(u);
  EXPECT_EQ(u->kind, UnitKind::kData);
  EXPECT_EQ(u->host_offset, 0x50000u);
  u = DecodeUnit(g, l2, 0, 1);
  ASSERT_OK(u);
  EXPECT_EQ(u->kind, UnitKind::kZero);
  u = DecodeUnit(g, l2, 0, 2);
  ASSERT_OK(u);
  EXPECT_EQ(u->kind, UnitKind::kUnallocated);
  EXPECT_CODE(DecodeUnit(g, l2, 0, 3), kCorrupt);
  // Entry 1: subcluster 0 allocated without a host cluster.
  EXPECT_CODE(DecodeUnit(g, l2, 0, 32), kCorrupt);
  L2Table l2b{{0x50000, 1ull << 31}};
  u = DecodeUnit(g, l2b, 0, 31);
  ASSERT_OK(u);
  EXPECT_EQ(u->host_offset, 0x50000u + 31 * 2048);
}

TEST(Qcow2TablesTest, LoadL2RefusesTablesPastEndOfFile) {
  testing::MiniImage img;
  auto file = NewMemoryFile("m", img.bytes);
  Cache cache(1 << 20);
  Geometry g = Geo(9);
  EXPECT_OK(LoadL2(*file, g, &cache, 1, testing::MiniImage::kL2));
  EXPECT_CODE(LoadL2(*file, g, &cache, 1, 0x1000), kCorrupt);
  EXPECT_CODE(LoadL2(*file, g, &cache, 1, 0x810), kCorrupt);
  EXPECT_CODE(LoadL1(*file, g, 0x200, 1ull << 30, "L1 table"), kUnsupported);
  EXPECT_CODE(LoadL1(*file, g, 0x200, 1000, "L1 table"), kCorrupt);
}

TEST(Qcow2TablesTest, RefcountWidths) {
  for (uint32_t order = 0; order <= 6; ++order) {
    SCOPED_TRACE(order);
    testing::MiniImage img;
    img.SetHeader32(kRefcountOrderOffset, order);
    // Refcount block: entries 0..3 = 1, 0, 1, max for the width.
    img.bytes.replace(testing::MiniImage::kRefBlock, 512, std::string(512, '\0'));
    uint32_t bits = 1u << order;
    uint64_t max = bits == 64 ? ~0ull : (1ull << bits) - 1;
    auto set = [&](uint64_t i, uint64_t v) {
      for (uint32_t b = 0; b < bits; ++b) {
        uint64_t bit_index = i * bits + b;
        bool on = (v >> b) & 1;
        if (!on) {
          continue;
        }
        if (bits >= 8) {  // big-endian within the entry
          uint64_t byte = i * (bits / 8) + (bits / 8 - 1 - b / 8);
          img.bytes[testing::MiniImage::kRefBlock + byte] |= static_cast<char>(1 << (b % 8));
        } else {
          img.bytes[testing::MiniImage::kRefBlock + bit_index / 8] |=
              static_cast<char>(1 << (bit_index % 8));
        }
      }
    };
    set(0, 1);
    set(2, 1);
    set(3, max);
    auto file = NewMemoryFile("m", img.bytes);
    auto h = DecodeHeader(img.head(), img.bytes.size());
    ASSERT_OK(h);
    auto reader = RefcountReader::Load(*file, *h);
    ASSERT_OK(reader);
    EXPECT_EQ(*reader->Get(0), 1u);
    EXPECT_EQ(*reader->Get(1), 0u);
    EXPECT_EQ(*reader->Get(2), 1u);
    EXPECT_EQ(*reader->Get(3), max);
    EXPECT_EQ(*reader->Get(1ull << 40), 0u);  // past the table
  }
}

}  // namespace
}  // namespace imgfs::qcow2
