// SPDX-License-Identifier: MIT
// VHD footer, dynamic header, size rule and parent locator names, from
// bytes built in the test: one valid case, then one mutation per rule.
#include <gtest/gtest.h>

#include "core/util/endian.h"
#include "formats/vpc/header.h"
#include "formats/vpc/parent.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::vpc {
namespace {

Footer QemuFooter() {
  Footer f;
  f.creator_app = FourCc("qemu");
  f.current_size = 10514432;
  f.original_size = 10514432;
  f.cylinders = 302;
  f.heads = 4;
  f.sectors_per_track = 17;
  f.disk_type = static_cast<uint32_t>(DiskType::kDynamic);
  f.data_offset = 512;
  return f;
}

TEST(VpcFooter, RoundTrips) {
  Footer f = QemuFooter();
  f.unique_id[3] = std::byte{7};
  f.saved_state = 1;
  std::vector<std::byte> bytes = EncodeFooter(f);
  ASSERT_EQ(bytes.size(), kFooterBytes);
  auto d = DecodeFooter(bytes);
  ASSERT_OK(d);
  EXPECT_TRUE(d->checksum_ok);
  EXPECT_EQ(d->creator_app, FourCc("qemu"));
  EXPECT_EQ(d->current_size, 10514432u);
  EXPECT_EQ(d->cylinders, 302);
  EXPECT_EQ(d->heads, 4);
  EXPECT_EQ(d->sectors_per_track, 17);
  EXPECT_EQ(d->data_offset, 512u);
  EXPECT_EQ(d->unique_id, f.unique_id);
  EXPECT_EQ(d->saved_state, 1);
}

TEST(VpcFooter, ChecksumIsOnesComplementOfByteSum) {
  std::vector<std::byte> bytes = EncodeFooter(QemuFooter());
  uint32_t sum = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    sum += i >= 64 && i < 68 ? 0 : std::to_integer<uint32_t>(bytes[i]);
  }
  EXPECT_EQ(LoadBE32(bytes.data() + 64), ~sum);
}

TEST(VpcFooter, BadChecksumIsReportedNotRefused) {
  std::vector<std::byte> bytes = EncodeFooter(QemuFooter());
  bytes[100] = std::byte{1};
  auto d = DecodeFooter(bytes);
  ASSERT_OK(d);
  EXPECT_FALSE(d->checksum_ok);
}

TEST(VpcFooter, MissingCookieIsCorrupt) {
  std::vector<std::byte> bytes = EncodeFooter(QemuFooter());
  bytes[0] = std::byte{'C'};
  EXPECT_CODE(DecodeFooter(bytes), kCorrupt);
}

TEST(VpcFooter, TruncatedIsCorrupt) {
  std::vector<std::byte> bytes = EncodeFooter(QemuFooter());
  bytes.resize(511);
  EXPECT_CODE(DecodeFooter(bytes), kCorrupt);
}

TEST(VpcDynamicHeader, RoundTrips) {
  DynamicHeader h;
  h.table_offset = 1536;
  h.max_table_entries = 6;
  h.block_bytes = 2 << 20;
  h.parent_name = "base.vhd";
  h.parent_unique_id[0] = std::byte{0x42};
  h.locators[1] = ParentLocator{FourCc("W2ru"), 512, 20, 4096};
  auto d = DecodeDynamicHeader(EncodeDynamicHeader(h));
  ASSERT_OK(d);
  EXPECT_TRUE(d->checksum_ok);
  EXPECT_EQ(d->table_offset, 1536u);
  EXPECT_EQ(d->max_table_entries, 6u);
  EXPECT_EQ(d->block_bytes, 2u << 20);
  EXPECT_EQ(d->parent_name, "base.vhd");
  EXPECT_EQ(d->parent_unique_id, h.parent_unique_id);
  EXPECT_EQ(d->locators[1].platform_code, FourCc("W2ru"));
  EXPECT_EQ(d->locators[1].data_length, 20u);
  EXPECT_EQ(d->locators[1].data_offset, 4096u);
}

TEST(VpcDynamicHeader, MissingCookieIsCorrupt) {
  DynamicHeader h;
  h.block_bytes = 4096;
  std::vector<std::byte> bytes = EncodeDynamicHeader(h);
  bytes[1] = std::byte{'X'};
  EXPECT_CODE(DecodeDynamicHeader(bytes), kCorrupt);
}

TEST(VpcDynamicHeader, TruncatedIsCorrupt) {
  DynamicHeader h;
  h.block_bytes = 4096;
  std::vector<std::byte> bytes = EncodeDynamicHeader(h);
  bytes.resize(1000);
  EXPECT_CODE(DecodeDynamicHeader(bytes), kCorrupt);
}

TEST(VpcDynamicHeader, AbsurdBlockSizesAreCorrupt) {
  for (uint32_t bad : {0u, 256u, 3000u, 0x80000001u}) {
    DynamicHeader h;
    h.block_bytes = bad;
    SCOPED_TRACE(bad);
    EXPECT_CODE(DecodeDynamicHeader(EncodeDynamicHeader(h)), kCorrupt);
  }
}

TEST(VpcVirtualSize, QemuAndVirtualPcUseGeometry) {
  Footer f = QemuFooter();
  f.current_size = 10 << 20;  // larger than the geometry, as QEMU writes it
  for (const char* app : {"qemu", "vpc ", "xyz "}) {
    f.creator_app = LoadBE32(reinterpret_cast<const std::byte*>(app));
    auto v = DecideVirtualSize(f);
    ASSERT_OK(v);
    EXPECT_TRUE(v->from_geometry) << app;
    EXPECT_EQ(v->bytes, uint64_t{302} * 4 * 17 * 512) << app;
  }
}

TEST(VpcVirtualSize, HyperVAndOthersUseCurrentSize) {
  Footer f = QemuFooter();
  f.current_size = (10 << 20) + 700;  // whole sectors only
  for (uint32_t app :
       {FourCc("win "), FourCc("qem2"), FourCc("d2v "), FourCc("CTXS"), uint32_t{0x74617000}}) {
    f.creator_app = app;
    auto v = DecideVirtualSize(f);
    ASSERT_OK(v);
    EXPECT_FALSE(v->from_geometry) << FourCcText(app);
    EXPECT_EQ(v->bytes, (uint64_t{10} << 20) + 512) << FourCcText(app);
    EXPECT_NE(v->reason.find("current_size"), std::string::npos);
  }
  EXPECT_EQ(FourCcText(0x74617000), "tap\\0");
}

TEST(VpcVirtualSize, MaximumGeometryMeansCurrentSize) {
  Footer f = QemuFooter();
  f.cylinders = 65535;
  f.heads = 16;
  f.sectors_per_track = 255;
  f.current_size = uint64_t{300} << 30;
  auto v = DecideVirtualSize(f);
  ASSERT_OK(v);
  EXPECT_FALSE(v->from_geometry);
  EXPECT_EQ(v->bytes, uint64_t{300} << 30);
}

TEST(VpcVirtualSize, OverTheVhdLimitIsUnsupported) {
  Footer f = QemuFooter();
  f.creator_app = FourCc("win ");
  f.current_size = uint64_t{2041} << 30;
  EXPECT_CODE(DecideVirtualSize(f), kUnsupported);
  f.current_size = uint64_t{2040} << 30;
  EXPECT_OK(DecideVirtualSize(f));
}

TEST(VpcBitmap, IsOneBitPerSectorInWholeSectors) {
  EXPECT_EQ(BitmapBytes(512), 512u);
  EXPECT_EQ(BitmapBytes(2 << 20), 512u);
  EXPECT_EQ(BitmapBytes(4 << 20), 1024u);
  EXPECT_EQ(BitmapBytes(1u << 31), 512u * 1024);
}

TEST(VpcParent, CandidatesPreferRelativeThenUrlThenAbsoluteThenName) {
  std::vector<LocatorPath> l = {
      {FourCc("W2ku"), 0, "C:\\VMs\\base.vhd"},
      {FourCc("MacX"), 0, "file://localhost/Users/me/base.vhd"},
      {FourCc("W2ru"), 0, ".\\sub\\base.vhd"},
      {FourCc("Mac "), 0, ""},
  };
  EXPECT_EQ(ParentCandidates(l, "base.vhd"),
            (std::vector<std::string>{"sub/base.vhd", "/Users/me/base.vhd", "base.vhd"}));
  EXPECT_EQ(ParentCandidates({}, "C:\\x\\p.vhd"), (std::vector<std::string>{"p.vhd"}));
  EXPECT_TRUE(ParentCandidates({}, "").empty());
}

TEST(VpcUniqueId, PrintsBytesInOrder) {
  UniqueId id{};
  for (size_t i = 0; i < id.size(); ++i) {
    id[i] = std::byte(static_cast<uint8_t>(0x10 + i));
  }
  EXPECT_EQ(UniqueIdText(id), "10111213-1415-1617-1819-1a1b1c1d1e1f");
}

}  // namespace
}  // namespace imgfs::vpc
