// SPDX-License-Identifier: MIT
// The vmdk sparse header and descriptor decoders, from bytes: one valid
// case, then one mutation per rule.
#include <gtest/gtest.h>

#include <string>

#include "core/util/endian.h"
#include "formats/vmdk/descriptor.h"
#include "formats/vmdk/header.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::vmdk {
namespace {

SparseHeader Valid() {
  SparseHeader h;
  h.capacity_sectors = 8192;
  h.descriptor_sector = 1;
  h.descriptor_sectors = 20;
  h.rgd_sector = 21;
  h.gd_sector = 26;
  h.overhead_sectors = 128;
  return h;
}

TEST(VmdkHeader, RoundTrips) {
  auto h = DecodeSparseHeader(EncodeSparseHeader(Valid()));
  ASSERT_OK(h);
  EXPECT_EQ(h->capacity_sectors, 8192u);
  EXPECT_EQ(h->grain_bytes(), 65536u);
  EXPECT_EQ(h->gd_entries(), 1u);
  EXPECT_EQ(h->gd_sector, 26u);
  EXPECT_FALSE(h->compressed());
}

// Decodes Valid() with `edit` applied to its bytes.
Status DecodeMutated(const std::function<void(std::byte*)>& edit) {
  std::vector<std::byte> b = EncodeSparseHeader(Valid());
  edit(b.data());
  return DecodeSparseHeader(b).status();
}

TEST(VmdkHeader, EachRuleRefuses) {
  EXPECT_CODE(DecodeSparseHeader(std::vector<std::byte>(100)), kCorrupt);
  EXPECT_CODE(DecodeMutated([](std::byte* p) { StoreLE32(p, 0x44574f43); }), kCorrupt);
  EXPECT_CODE(DecodeMutated([](std::byte* p) { StoreLE32(p + 4, 4); }), kUnsupported);
  EXPECT_CODE(DecodeMutated([](std::byte* p) { StoreLE32(p + 4, 0); }), kUnsupported);
  EXPECT_CODE(DecodeMutated([](std::byte* p) { StoreLE32(p + 8, 1u << 20); }), kUnsupported);
  EXPECT_CODE(DecodeMutated([](std::byte* p) { StoreLE64(p + 20, 0); }), kCorrupt);
  EXPECT_CODE(DecodeMutated([](std::byte* p) { StoreLE64(p + 20, 96); }), kCorrupt);
  EXPECT_CODE(DecodeMutated([](std::byte* p) { StoreLE64(p + 20, uint64_t{1} << 17); }), kCorrupt);
  EXPECT_CODE(DecodeMutated([](std::byte* p) { StoreLE32(p + 44, 0); }), kCorrupt);
  EXPECT_CODE(DecodeMutated([](std::byte* p) { StoreLE32(p + 44, 1u << 17); }), kCorrupt);
  EXPECT_CODE(DecodeMutated([](std::byte* p) { StoreLE64(p + 12, uint64_t{1} << 60); }), kCorrupt);
  EXPECT_CODE(DecodeMutated([](std::byte* p) {
                StoreLE64(p + 12, uint64_t{1} << 50);
                StoreLE64(p + 20, 1);
                StoreLE32(p + 44, 1);
              }),
              kUnsupported);
  // A text-mode transfer turned "\r\n" into "\n".
  EXPECT_CODE(DecodeMutated([](std::byte* p) { p[75] = std::byte{'\n'}; }), kCorrupt);
  // Compressed with an unknown algorithm.
  EXPECT_CODE(DecodeMutated([](std::byte* p) {
                StoreLE32(p + 8, kFlagNewlineTest | kFlagCompressed | kFlagMarkers);
                StoreLE16(p + 77, 2);
              }),
              kUnsupported);
  EXPECT_CODE(DecodeMutated([](std::byte* p) { StoreLE64(p + 36, uint64_t{1} << 60); }), kCorrupt);
}

TEST(VmdkHeader, CompressedStreamHeader) {
  SparseHeader h = Valid();
  h.version = 3;
  h.flags = kFlagNewlineTest | kFlagCompressed | kFlagMarkers;
  h.compress_algorithm = kCompressDeflate;
  h.gd_sector = kGdAtEnd;
  auto d = DecodeSparseHeader(EncodeSparseHeader(h));
  ASSERT_OK(d);
  EXPECT_TRUE(d->compressed());
  EXPECT_TRUE(d->markers());
  EXPECT_EQ(d->gd_sector, kGdAtEnd);
}

constexpr std::string_view kDescriptor =
    "# Disk DescriptorFile\r\n"
    "version=1\n"
    "encoding=\"UTF-8\"\n"
    "CID=0badc0de\n"
    "parentCID=12345678\n"
    "createType=\"twoGbMaxExtentSparse\"\n"
    "parentFileNameHint=\"C:\\VMs\\my base.vmdk\"\n"
    "\n"
    "# Extent description\n"
    "RW 4192256 SPARSE \"disk name-s001.vmdk\"\n"
    "RDONLY 100 FLAT \"flat.vmdk\" 2048\n"
    "NOACCESS 8 VMFS \"v.vmdk\"\n"
    "RW 16 ZERO\n"
    "RW 32 VMFSSPARSE \"d-delta.vmdk\"\n"
    "RW 64 SESPARSE \"d-sesparse.vmdk\"\n"
    "\n"
    "# The Disk Data Base\n"
    "#DDB\n"
    "ddb.virtualHWVersion = \"6\"\n"
    "ddb.adapterType = \"lsilogic\"\n";

TEST(VmdkDescriptor, ParsesEveryExtentTypeAndAccess) {
  auto d = ParseDescriptor(kDescriptor);
  ASSERT_OK(d);
  EXPECT_EQ(d->cid, 0x0badc0deu);
  EXPECT_EQ(d->parent_cid, 0x12345678u);
  EXPECT_EQ(d->create_type, "twoGbMaxExtentSparse");
  EXPECT_EQ(d->parent_hint, "C:\\VMs\\my base.vmdk");
  ASSERT_EQ(d->extents.size(), 6u);
  EXPECT_EQ(d->extents[0].filename, "disk name-s001.vmdk");
  EXPECT_EQ(d->extents[0].type, ExtentType::kSparse);
  EXPECT_EQ(d->extents[1].access, Access::kReadOnly);
  EXPECT_EQ(d->extents[1].offset_sectors, 2048u);
  EXPECT_EQ(d->extents[2].access, Access::kNoAccess);
  EXPECT_EQ(d->extents[2].type, ExtentType::kVmfs);
  EXPECT_EQ(d->extents[3].type, ExtentType::kZero);
  EXPECT_TRUE(d->extents[3].filename.empty());
  EXPECT_EQ(d->extents[4].type, ExtentType::kVmfsSparse);
  EXPECT_EQ(d->extents[5].type, ExtentType::kSeSparse);
  EXPECT_EQ(d->sectors(), 4192256u + 100 + 8 + 16 + 32 + 64);
  EXPECT_EQ(d->Ddb("ddb.virtualHWVersion"), "6");
  EXPECT_EQ(d->Ddb("ddb.adapterType"), "lsilogic");
  EXPECT_EQ(d->Ddb("ddb.nothere"), "");
  EXPECT_TRUE(LooksLikeDescriptor(kDescriptor));
  EXPECT_FALSE(LooksLikeDescriptor("KDMV"));
}

Status ParseWith(const std::string& extent_line) {
  return ParseDescriptor("version=1\ncreateType=\"custom\"\n" + extent_line + "\n").status();
}

TEST(VmdkDescriptor, EachRuleRefuses) {
  EXPECT_OK(ParseWith("RW 8 FLAT \"a\" 0"));
  EXPECT_OK(ParseWith("RW 8 FLAT \"a\""));
  EXPECT_CODE(ParseWith("RW 8 VMFSRDM \"a\""), kUnsupported);
  EXPECT_CODE(ParseWith("RW 8 FOO \"a\""), kUnsupported);
  EXPECT_CODE(ParseWith("RW 0 FLAT \"a\" 0"), kCorrupt);
  EXPECT_CODE(ParseWith("RW -8 FLAT \"a\" 0"), kCorrupt);
  EXPECT_CODE(ParseWith("RW 8 FLAT a 0"), kCorrupt);
  EXPECT_CODE(ParseWith("RW 8 FLAT \"a 0"), kCorrupt);
  EXPECT_CODE(ParseWith("RW 8 FLAT \"\" 0"), kCorrupt);
  EXPECT_CODE(ParseWith("RW 8 FLAT \"a\" x"), kCorrupt);
  EXPECT_CODE(ParseWith("RW 8 FLAT \"a\" 0 9"), kCorrupt);
  EXPECT_CODE(ParseWith("RW 8 SPARSE \"a\" 5"), kCorrupt);
  EXPECT_CODE(ParseWith("RW 18014398509481985 FLAT \"a\" 0"), kCorrupt);
  EXPECT_CODE(ParseWith("WR 8 FLAT \"a\" 0"), kCorrupt);  // neither key=value nor extent
  EXPECT_CODE(ParseWith("CID=xyz"), kCorrupt);
  EXPECT_CODE(ParseWith("parentCID=123456789"), kCorrupt);
  EXPECT_CODE(ParseDescriptor("version=1\nRW 8 ZERO\n"), kCorrupt);  // no createType
  EXPECT_CODE(ParseDescriptor(std::string(kMaxDescriptorBytes + 1, '#')), kUnsupported);
  std::string many = "createType=\"custom\"\n";
  for (size_t i = 0; i <= kMaxExtents; ++i) {
    many += "RW 1 ZERO\n";
  }
  EXPECT_CODE(ParseDescriptor(many), kUnsupported);
}

TEST(VmdkDescriptor, TextEndsAtFirstNul) {
  std::string text = "createType=\"monolithicSparse\"\nRW 8 ZERO\n";
  text += std::string(10, '\0') + "garbage that is not a descriptor";
  auto d = ParseDescriptor(text);
  ASSERT_OK(d);
  EXPECT_EQ(d->extents.size(), 1u);
}

}  // namespace
}  // namespace imgfs::vmdk
