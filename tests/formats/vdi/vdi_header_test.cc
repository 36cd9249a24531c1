// SPDX-License-Identifier: MIT
// VDI header decoding from bytes: one valid header per layout, then one
// mutation per validation rule.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "formats/vdi/header.h"
#include "tests/formats/vdi/test_vdi_builder.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::vdi {
namespace {

using testing::BuildVdi;
using testing::VdiSpec;

std::vector<std::byte> Bytes(const std::string& s) {
  std::vector<std::byte> b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

void Put32(std::vector<std::byte>& b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); }

VdiSpec Small() {
  VdiSpec s;
  s.block_bytes = 4096;
  s.disk_bytes = 5 * 4096;
  s.blocks[1] = "abc";
  return s;
}

Result<Header> Decode(const std::vector<std::byte>& b, uint64_t file_size = 0) {
  const size_t n = std::min<size_t>(b.size(), kHeaderReadBytes);
  return DecodeHeader(std::span(b.data(), n), file_size != 0 ? file_size : b.size());
}

TEST(VdiHeader, DecodesV11) {
  auto b = Bytes(BuildVdi(Small()));
  auto h_or = Decode(b);
  ASSERT_OK(h_or);
  const Header& h = *h_or;
  EXPECT_EQ(h.version, kVersion1_1);
  EXPECT_EQ(h.header_bytes, 0x190u);
  EXPECT_EQ(h.type, ImageType::kDynamic);
  EXPECT_EQ(h.map_offset, 0x200u);
  EXPECT_EQ(h.data_offset, 0x400u);
  EXPECT_EQ(h.disk_bytes, 5u * 4096);
  EXPECT_EQ(h.block_bytes, 4096u);
  EXPECT_EQ(h.blocks_in_image, 5u);
  EXPECT_EQ(h.blocks_allocated, 1u);
  EXPECT_EQ(h.comment, "test image");
  EXPECT_FALSE(h.has_parent());
  EXPECT_EQ(h.BlockHostOffset(0), 0x400u);
}

TEST(VdiHeader, DecodesV10AndV0Layouts) {
  VdiSpec s = Small();
  s.version = 0x00010000;
  s.header_bytes = 0x180;
  auto v10_or = Decode(Bytes(BuildVdi(s)));
  ASSERT_OK(v10_or);
  const Header& v10 = *v10_or;
  EXPECT_EQ(v10.major(), 1u);
  EXPECT_EQ(v10.minor(), 0u);
  EXPECT_EQ(v10.blocks_in_image, 5u);

  s.version = kVersion0;
  auto v0_or = Decode(Bytes(BuildVdi(s)));
  ASSERT_OK(v0_or);
  const Header& v0 = *v0_or;
  EXPECT_EQ(v0.map_offset, 0x1a4u);
  EXPECT_EQ(v0.data_offset, 0x1a4u + 5 * 4);
  EXPECT_EQ(v0.block_extra_bytes, 0u);
  EXPECT_EQ(v0.disk_bytes, 5u * 4096);
  EXPECT_EQ(v0.comment, "test image v0");
}

TEST(VdiHeader, DecodesDiffParentAndBlockExtra) {
  VdiSpec s = Small();
  s.type = 4;
  s.block_extra_bytes = 512;
  s.parent_uuid = testing::SeededUuid(9);
  s.parent_modification_uuid = testing::SeededUuid(10);
  auto h_or = Decode(Bytes(BuildVdi(s)));
  ASSERT_OK(h_or);
  const Header& h = *h_or;
  EXPECT_EQ(h.type, ImageType::kDiff);
  EXPECT_TRUE(h.has_parent());
  EXPECT_EQ(std::memcmp(h.parent_uuid.data(), s.parent_uuid.data(), 16), 0);
  EXPECT_EQ(h.block_stride(), 4096u + 512);
  EXPECT_EQ(h.BlockHostOffset(2), 0x400u + 2 * 4608 + 512);
}

TEST(VdiHeader, OddDiskSizeRoundsUpToASector) {
  VdiSpec s = Small();
  s.disk_bytes = 5 * 4096 - 1000;
  auto h_or = Decode(Bytes(BuildVdi(s)));
  ASSERT_OK(h_or);
  const Header& h = *h_or;
  EXPECT_EQ(h.disk_bytes_stored, 5u * 4096 - 1000);
  EXPECT_EQ(h.disk_bytes, 5u * 4096 - 512);
}

TEST(VdiHeader, UuidIsSpelledLikeVirtualBox) {
  // From a qemu-made image; 7-Zip and VBoxManage print it this way.
  const uint8_t raw[16] = {0xf7, 0x45, 0xfa, 0x30, 0xdb, 0xd6, 0x5f, 0x48,
                           0x80, 0x11, 0xc0, 0xb7, 0x80, 0x3a, 0x58, 0x49};
  Uuid u;
  std::memcpy(u.data(), raw, 16);
  EXPECT_EQ(FormatUuid(u), "30fa45f7-d6db-485f-8011-c0b7803a5849");
  EXPECT_FALSE(IsNullUuid(u));
  EXPECT_TRUE(IsNullUuid(Uuid{}));
}

TEST(VdiHeader, TruncatedHeadersAreCorrupt) {
  auto b = Bytes(BuildVdi(Small()));
  EXPECT_CODE(DecodeHeader(std::span(b.data(), 0x40), 0x40), kCorrupt);
  EXPECT_CODE(DecodeHeader(std::span(b.data(), 0x1c0), 0x1c0), kCorrupt);
  VdiSpec s = Small();
  s.version = kVersion0;
  auto v0 = Bytes(BuildVdi(s));
  EXPECT_CODE(DecodeHeader(std::span(v0.data(), 0x1a0), 0x1a0), kCorrupt);
}

TEST(VdiHeader, BadSignatureIsCorrupt) {
  auto b = Bytes(BuildVdi(Small()));
  Put32(b, 0x40, 0xbeda1070);
  EXPECT_CODE(Decode(b), kCorrupt);
}

TEST(VdiHeader, UnknownVersionsAreUnsupported) {
  auto b = Bytes(BuildVdi(Small()));
  for (uint32_t v : {0x00020001u, 0x00000001u, 0x00000003u, 0xffffffffu}) {
    Put32(b, 0x44, v);
    SCOPED_TRACE(v);
    EXPECT_CODE(Decode(b), kUnsupported);
  }
}

TEST(VdiHeader, ShortV1HeaderSizeIsCorrupt) {
  auto b = Bytes(BuildVdi(Small()));
  Put32(b, 0x48, 0x17c);
  EXPECT_CODE(Decode(b), kCorrupt);
}

TEST(VdiHeader, UnknownTypesAreUnsupported) {
  auto b = Bytes(BuildVdi(Small()));
  for (uint32_t t : {0u, 5u, 0x80000001u}) {
    Put32(b, 0x4c, t);
    SCOPED_TRACE(t);
    EXPECT_CODE(Decode(b), kUnsupported);
  }
}

TEST(VdiHeader, AbsurdBlockSizesAreUnsupported) {
  auto b = Bytes(BuildVdi(Small()));
  for (uint32_t size : {0u, 256u, 3000u, 3u << 20, 256u << 20, 0x80000000u}) {
    Put32(b, 0x178, size);
    SCOPED_TRACE(size);
    EXPECT_CODE(Decode(b), kUnsupported);
  }
  b = Bytes(BuildVdi(Small()));
  Put32(b, 0x17c, 0x80000000u);
  EXPECT_CODE(Decode(b), kUnsupported);
}

TEST(VdiHeader, DiskLargerThanItsBlocksIsCorrupt) {
  auto b = Bytes(BuildVdi(Small()));
  const uint64_t disk = 5 * 4096 + 1;
  std::memcpy(b.data() + 0x170, &disk, 8);
  EXPECT_CODE(Decode(b), kCorrupt);
}

TEST(VdiHeader, MoreAllocatedThanBlocksIsCorrupt) {
  auto b = Bytes(BuildVdi(Small()));
  Put32(b, 0x184, 6);
  EXPECT_CODE(Decode(b), kCorrupt);
}

TEST(VdiHeader, BlockMapPastEndOfFileIsCorrupt) {
  auto b = Bytes(BuildVdi(Small()));
  // An absurd block count whose map the file cannot hold.
  Put32(b, 0x180, 0xfffffff0u);
  EXPECT_CODE(Decode(b), kCorrupt);
  b = Bytes(BuildVdi(Small()));
  Put32(b, 0x154, 0xfffffe00u);
  EXPECT_CODE(Decode(b), kCorrupt);
  // The map itself needs 20 bytes from 0x200.
  b = Bytes(BuildVdi(Small()));
  EXPECT_CODE(Decode(b, 0x210), kCorrupt);
}

TEST(VdiHeader, MapOverlappingTheHeaderIsCorrupt) {
  auto b = Bytes(BuildVdi(Small()));
  Put32(b, 0x154, 0x100);
  EXPECT_CODE(Decode(b), kCorrupt);
}

TEST(VdiHeader, DataInsideTheMapIsCorrupt) {
  auto b = Bytes(BuildVdi(Small()));
  Put32(b, 0x158, 0x200 + 4);
  EXPECT_CODE(Decode(b), kCorrupt);
}

TEST(VdiHeader, DiffWithoutParentIsCorrupt) {
  VdiSpec s = Small();
  s.type = 4;
  EXPECT_CODE(Decode(Bytes(BuildVdi(s))), kCorrupt);
}

TEST(VdiHeader, EmptyDiskIsAccepted) {
  // qemu-img create -f vdi x.vdi 0 writes no blocks at all.
  VdiSpec s;
  s.disk_bytes = 0;
  auto h_or = Decode(Bytes(BuildVdi(s)));
  ASSERT_OK(h_or);
  const Header& h = *h_or;
  EXPECT_EQ(h.disk_bytes, 0u);
  EXPECT_EQ(h.blocks_in_image, 0u);
}

TEST(VdiHeader, CommentIsMadeValidUtf8) {
  // Found by vdi_fuzzer: a comment that is not UTF-8 broke info's JSON.
  auto b = Bytes(BuildVdi(Small()));
  const char comment[] = "ok \xe2\x82\xac, bad \xff\xc0\xaf \xed\xa0\x80 \xe2\x82";
  std::memcpy(b.data() + 0x54, comment, sizeof comment);
  auto h = Decode(b);
  ASSERT_OK(h);
  // Utf8Safe (core/util/utf8.h): each byte that is not part of a
  // well-formed sequence becomes '?'.
  EXPECT_EQ(h->comment, "ok \xe2\x82\xac, bad ??? ??? ??");
}

}  // namespace
}  // namespace imgfs::vdi
