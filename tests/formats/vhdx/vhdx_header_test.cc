// SPDX-License-Identifier: MIT
// VHDX structure decoders from bytes: one valid case each (cut from a
// builder image), then one mutation per validation rule.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "formats/vhdx/header.h"
#include "tests/formats/vhdx/test_vhdx_builder.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::vhdx {
namespace {

using testing::TestCrc32c;
using testing::VhdxBuilder;

std::vector<std::byte> Bytes(const std::string& s) {
  std::vector<std::byte> v(s.size());
  std::memcpy(v.data(), s.data(), s.size());
  return v;
}

void Put32(std::string* s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    (*s)[at + i] = static_cast<char>(v >> (8 * i));
  }
}

// Recomputes the CRC-32C of a structure of `n` bytes with its checksum at 4.
void Reseal(std::string* s, size_t n) {
  Put32(s, 4, 0);
  Put32(s, 4, TestCrc32c(s->substr(0, n)));
}

class VhdxHeaderTest : public ::testing::Test {
 protected:
  VhdxHeaderTest() : builder_(8 << 20) {
    builder_.WriteBlock(0, std::string(4096, 'x'));
    file_ = builder_.Build();
  }
  std::string HeaderBytes() const { return file_.substr(128 * 1024, kHeaderBytes); }
  std::string RegionBytes() const { return file_.substr(192 * 1024, kRegionTableBytes); }

  VhdxBuilder builder_;
  std::string file_;
};

TEST_F(VhdxHeaderTest, DecodesTheHeader) {
  auto h = DecodeHeader(Bytes(HeaderBytes()), file_.size());
  ASSERT_OK(h);
  EXPECT_EQ(h->sequence_number, 11u);
  EXPECT_EQ(h->version, 1);
  EXPECT_EQ(h->log_offset_bytes, 1u << 20);
  EXPECT_EQ(h->log_length_bytes, 1u << 20);
  EXPECT_TRUE(IsNullGuid(h->log_guid));
  EXPECT_EQ(NormalizeGuidText(builder_.DataWriteGuidText()), GuidToString(h->data_write_guid));
}

TEST_F(VhdxHeaderTest, EachHeaderRule) {
  struct Case {
    size_t at;
    uint32_t value;
    bool reseal;
    StatusCode code;
  };
  const Case cases[] = {
      {0, 0x12345678, true, StatusCode::kCorrupt},       // signature
      {200, 1, false, StatusCode::kCorrupt},             // checksum
      {64, 0x00020000, true, StatusCode::kUnsupported},  // version 2
      {64, 0x00010001, true, StatusCode::kUnsupported},  // log version 1
      {68, 4096, true, StatusCode::kCorrupt},            // log length not 1 MiB aligned
      {72, 4096, true, StatusCode::kCorrupt},            // log offset in the header section
      {72 + 4, 1, true, StatusCode::kCorrupt},           // log past end of file
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.at);
    std::string h = HeaderBytes();
    Put32(&h, c.at, c.value);
    if (c.reseal) {
      Reseal(&h, kHeaderBytes);
    }
    auto r = DecodeHeader(Bytes(h), file_.size());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), c.code) << r.status().message();
  }
}

TEST_F(VhdxHeaderTest, DecodesTheRegionTable) {
  auto rt = DecodeRegionTable(Bytes(RegionBytes()), file_.size());
  ASSERT_OK(rt);
  EXPECT_EQ(rt->bat_offset_bytes, builder_.bat_offset());
  EXPECT_EQ(rt->metadata_offset_bytes, builder_.metadata_offset());
  EXPECT_EQ(rt->metadata_length_bytes, 1u << 20);
}

TEST_F(VhdxHeaderTest, EachRegionTableRule) {
  struct Case {
    size_t at;
    uint32_t value;
    bool reseal;
    StatusCode code;
  };
  const Case cases[] = {
      {0, 0, true, StatusCode::kCorrupt},                // signature
      {1000, 1, false, StatusCode::kCorrupt},            // checksum
      {8, 2048, true, StatusCode::kCorrupt},             // entry count
      {8, 1, true, StatusCode::kCorrupt},                // no metadata region
      {32, 4096, true, StatusCode::kCorrupt},            // BAT not aligned
      {36, 1, true, StatusCode::kCorrupt},               // BAT past end of file
      {16, 0x11111111, true, StatusCode::kUnsupported},  // unknown required region
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.at);
    std::string rt = RegionBytes();
    Put32(&rt, c.at, c.value);
    if (c.reseal) {
      Reseal(&rt, kRegionTableBytes);
    }
    auto r = DecodeRegionTable(Bytes(rt), file_.size());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), c.code) << r.status().message();
  }
}

TEST_F(VhdxHeaderTest, MetadataTableAndItems) {
  const std::string table = file_.substr(builder_.metadata_offset(), kMetadataTableBytes);
  auto entries = DecodeMetadataTable(Bytes(table), 1 << 20);
  ASSERT_OK(entries);
  ASSERT_EQ(entries->size(), 5u);
  EXPECT_EQ(GuidToString((*entries)[0].item_id), kFileParametersGuid);
  EXPECT_TRUE((*entries)[0].is_required);
  // An item reaching past the region.
  std::string bad = table;
  Put32(&bad, 32 + 20, 2 << 20);
  EXPECT_CODE(DecodeMetadataTable(Bytes(bad), 1 << 20), kCorrupt);
  // An item inside the table itself.
  bad = table;
  Put32(&bad, 32 + 16, 100);
  EXPECT_CODE(DecodeMetadataTable(Bytes(bad), 1 << 20), kCorrupt);
  bad = table;
  bad[0] = 'M';
  EXPECT_CODE(DecodeMetadataTable(Bytes(bad), 1 << 20), kCorrupt);
}

TEST(VhdxLocatorTest, DecodesKeysAndValues) {
  VhdxBuilder b(4 << 20);
  b.SetParent({{"parent_linkage", "{01234567-89AB-CDEF-0123-456789ABCDEF}"},
               {"relative_path", "..\\base.vhdx"}});
  const std::string f = b.Build();
  // The locator is the sixth item; find it through the table.
  const uint64_t m = b.metadata_offset();
  auto entries = DecodeMetadataTable(Bytes(f.substr(m, kMetadataTableBytes)), 1 << 20);
  ASSERT_OK(entries);
  ASSERT_EQ(entries->size(), 6u);
  const MetadataEntry& e = (*entries)[5];
  const std::string item = f.substr(m + e.offset_bytes, e.length_bytes);
  auto loc = DecodeParentLocator(Bytes(item));
  ASSERT_OK(loc);
  EXPECT_EQ(GuidToString(loc->type), kVhdxLocatorTypeGuid);
  EXPECT_EQ(loc->Find("relative_path"), "..\\base.vhdx");
  EXPECT_EQ(NormalizeGuidText(*loc->Find("parent_linkage")),
            "01234567-89AB-CDEF-0123-456789ABCDEF");
  EXPECT_FALSE(loc->Find("volume_path"));
  // An entry pointing past the item, a count past the cap, a short item.
  std::string bad = item;
  Put32(&bad, 20, 100000);
  EXPECT_CODE(DecodeParentLocator(Bytes(bad)), kCorrupt);
  bad = item;
  Put32(&bad, 16, 0xffff0000);
  EXPECT_CODE(DecodeParentLocator(Bytes(bad)), kUnsupported);
  EXPECT_CODE(DecodeParentLocator(Bytes(item.substr(0, 10))), kCorrupt);
}

TEST(VhdxGuidTextTest, Normalizes) {
  EXPECT_EQ(NormalizeGuidText("{abcdef01-2345-6789-abcd-ef0123456789}"),
            "ABCDEF01-2345-6789-ABCD-EF0123456789");
  EXPECT_EQ(NormalizeGuidText("ABCDEF01-2345-6789-ABCD-EF0123456789"),
            "ABCDEF01-2345-6789-ABCD-EF0123456789");
  EXPECT_FALSE(NormalizeGuidText("{abcdef01-2345-6789-abcd-ef012345678}"));
  EXPECT_FALSE(NormalizeGuidText("abcdef01x2345-6789-abcd-ef0123456789"));
}

TEST(VhdxGeometryTest, BatEntriesFollowTheSpec) {
  Metadata m;
  m.block_bytes = 1 << 20;
  m.logical_sector_bytes = 512;
  m.virtual_bytes = uint64_t{5} << 30;  // 5120 blocks, chunk ratio 4096
  Geometry g = GeometryOf(m);
  EXPECT_EQ(g.chunk_ratio, 4096u);
  EXPECT_EQ(g.data_blocks, 5120u);
  EXPECT_EQ(g.bat_entries, 5121u);
  EXPECT_EQ(g.PayloadIndex(4096), 4097u);
  EXPECT_EQ(g.BitmapIndex(0), 4096u);
  m.has_parent = true;
  EXPECT_EQ(GeometryOf(m).bat_entries, 2u * 4097u);
  m.has_parent = false;
  m.logical_sector_bytes = 4096;
  m.block_bytes = 256 << 20;
  EXPECT_EQ(GeometryOf(m).chunk_ratio, 128u);
}

}  // namespace
}  // namespace imgfs::vhdx
