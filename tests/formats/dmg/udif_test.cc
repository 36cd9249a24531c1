// SPDX-License-Identifier: MIT
// koly trailer and mish table decoding: one valid case, then one mutation per
// validation rule; Encode* are checked to be exact inverses of Decode*.
#include "formats/dmg/udif.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "core/util/endian.h"
#include "formats/dmg/plist.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::dmg {
namespace {

Koly SampleKoly() {
  Koly k;
  k.flags = 1;
  k.data_fork_length = 0x1234;
  k.rsrc_fork_offset = 0;
  k.xml_offset = 0x1234;
  k.xml_length = 0x800;
  k.segment_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  k.data_checksum.type = kChecksumCrc32;
  k.data_checksum.bit_count = 32;
  k.data_checksum.data[0] = 0xdeadbeef;
  k.master_checksum.type = kChecksumCrc32;
  k.master_checksum.bit_count = 32;
  k.master_checksum.data[0] = 0xcafef00d;
  k.image_variant = kVariantDevice;
  k.sector_count = 2048;
  return k;
}

TEST(KolyTest, RoundTrips) {
  auto bytes = EncodeKoly(SampleKoly());
  EXPECT_EQ(std::memcmp(bytes.data(), "koly", 4), 0);
  EXPECT_EQ(LoadBE64(bytes.data() + 492), 2048u);  // sector count field
  EXPECT_EQ(LoadBE32(bytes.data() + 88), 0xdeadbeefu);
  auto k = DecodeKoly(bytes);
  ASSERT_OK(k);
  EXPECT_EQ(k->xml_offset, 0x1234u);
  EXPECT_EQ(k->xml_length, 0x800u);
  EXPECT_EQ(k->data_checksum.data[0], 0xdeadbeefu);
  EXPECT_EQ(k->master_checksum.data[0], 0xcafef00du);
  EXPECT_EQ(k->segment_id[15], 16);
  EXPECT_EQ(EncodeKoly(*k), bytes);
}

TEST(KolyTest, Mutations) {
  auto good = EncodeKoly(SampleKoly());
  auto mutate = [&](size_t off, uint32_t v) {
    auto b = good;
    StoreBE32(b.data() + off, v);
    return DecodeKoly(b);
  };
  EXPECT_CODE(DecodeKoly(std::span(good).first(511)), kCorrupt);
  EXPECT_CODE(mutate(0, 0x6b6f6c7a), kCorrupt);    // signature
  EXPECT_CODE(mutate(4, 3), kUnsupported);         // version
  EXPECT_CODE(mutate(8, 256), kCorrupt);           // header size
  EXPECT_CODE(mutate(56, 0), kCorrupt);            // segment number 0
  EXPECT_CODE(mutate(56, 2), kCorrupt);            // segment 2 of 1
  EXPECT_OK(mutate(60, 2));                        // segment 1 of 2
  EXPECT_OK(mutate(60, 0));                        // 1 of 0: unsegmented
  EXPECT_CODE(mutate(84, 1025), kCorrupt);         // data checksum bits
  EXPECT_CODE(mutate(356, 2000), kCorrupt);        // master checksum bits
  EXPECT_CODE(mutate(492, 0x01000000), kCorrupt);  // sector count high word: absurd
  auto b = good;
  StoreBE64(b.data() + 216, ~uint64_t{0});  // xml offset + length overflows
  EXPECT_CODE(DecodeKoly(b), kCorrupt);
}

// The field values of the koly trailer of a UDZO image that hdiutil on
// macOS 15 made (`hdiutil create -srcfolder ... -fs "MS-DOS FAT32" -format
// UDZO`, 74814 bytes, 67647 sectors), as published base64-encoded in a public
// test suite: it says segment 0 of 0 with no segment UUID and no data-fork
// checksum, where older hdiutil versions wrote 1 of 1, a UUID and a CRC32.
TEST(KolyTest, DecodesAMacOs15HdiutilTrailer) {
  std::array<std::byte, kKolyBytes> b{};
  std::memcpy(b.data(), "koly", 4);
  StoreBE32(b.data() + 4, 4);
  StoreBE32(b.data() + 8, 512);
  StoreBE32(b.data() + 12, 1);         // flags: flattened
  StoreBE64(b.data() + 32, 0x1142e);   // data fork length
  StoreBE64(b.data() + 216, 0x1142e);  // XML offset
  StoreBE64(b.data() + 224, 0xe10);    // XML length
  StoreBE32(b.data() + 352, 2);        // master checksum: CRC32
  StoreBE32(b.data() + 356, 32);
  StoreBE32(b.data() + 360, 0xbde7889c);
  StoreBE32(b.data() + 488, 1);        // image variant: device
  StoreBE64(b.data() + 492, 0x1083f);  // sectors
  auto k = DecodeKoly(b);
  ASSERT_OK(k);
  EXPECT_EQ(k->segment_number, 1u);
  EXPECT_EQ(k->segment_count, 1u);
  EXPECT_EQ(k->data_checksum.type, kChecksumNone);
  EXPECT_EQ(k->master_checksum.data[0], 0xbde7889cu);
  EXPECT_EQ(k->sector_count, 67647u);
  EXPECT_EQ(k->xml_length, 3600u);
  StoreBE32(b.data() + 56, 2);  // segment 2 of 0
  EXPECT_CODE(DecodeKoly(b), kCorrupt);
}

// The "Protective Master Boot Record (MBR : 0)" blkx of a real hdiutil-made
// GPT image, as quoted (XML plist and all) in the UDIF format description of
// libyal's libmodi (documentation/Mac OS disk image types.asciidoc). What it
// shows of hdiutil's conventions: buffers-needed 0x808 for 2048-sector
// chunks, block descriptors 0 for the table hdiutil numbers -1, a CRC-32
// checksum, and a nonzero chunk comment field (3) that a decoder must keep.
TEST(BlkxTest, DecodesAnHdiutilMishTable) {
  constexpr std::string_view kPlist = R"(<plist version="1.0"><data>
      bWlzaAAAAAEAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAA
      AAgIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
      AAIAAAAgQfL6MwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
      AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
      AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
      AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
      AAAAAAACgAAABQAAAAMAAAAAAAAAAAAAAAAAAAABAAAA
      AAAAIA0AAAAAAAAAH/////8AAAAAAAAAAAAAAAEAAAAA
      AAAAAAAAAAAAAAAAAAAAAAAAAAA=
      </data></plist>)";
  auto doc = plist::Parse(kPlist);
  ASSERT_OK(doc);
  ASSERT_EQ(doc->type, plist::Type::kData);
  const std::string& raw = doc->text;
  ASSERT_EQ(raw.size(), 284u);  // 204-byte header, two 40-byte chunks
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(raw.data()),
                                         raw.size());
  auto t = DecodeBlkx(bytes);
  ASSERT_OK(t);
  EXPECT_EQ(t->first_sector, 0u);
  EXPECT_EQ(t->sector_count, 1u);
  EXPECT_EQ(t->data_offset, 0u);
  EXPECT_EQ(t->buffers_needed, 0x808u);
  EXPECT_EQ(t->block_descriptors, 0u);
  EXPECT_EQ(t->checksum.type, kChecksumCrc32);
  EXPECT_EQ(t->checksum.bit_count, 32u);
  EXPECT_EQ(t->checksum.data[0], 0x41f2fa33u);
  ASSERT_EQ(t->chunks.size(), 2u);
  const Chunk& z = t->chunks[0];
  EXPECT_EQ(z.type, ChunkType::kZlib);
  EXPECT_EQ(z.comment, 3u);
  EXPECT_EQ(z.sector_number, 0u);
  EXPECT_EQ(z.sector_count, 1u);
  EXPECT_EQ(z.compressed_offset, 8205u);  // hdiutil stored this table's data after others
  EXPECT_EQ(z.compressed_length, 31u);
  const Chunk& end = t->chunks[1];
  EXPECT_EQ(end.type, ChunkType::kTerminator);
  EXPECT_EQ(end.sector_number, 1u);
  EXPECT_EQ(end.compressed_offset, 0u);
  EXPECT_EQ(end.compressed_length, 0u);
  // The encoder is the exact inverse on hdiutil's own bytes too.
  const std::vector<std::byte> again = EncodeBlkx(*t);
  EXPECT_TRUE(std::equal(again.begin(), again.end(), bytes.begin(), bytes.end()));
}

BlkxTable SampleTable() {
  BlkxTable t;
  t.first_sector = 100;
  t.sector_count = 300;
  t.buffers_needed = 208;
  t.checksum.type = kChecksumCrc32;
  t.checksum.bit_count = 32;
  t.checksum.data[0] = 0x11223344;
  t.chunks.push_back({ChunkType::kZlib, 0, 0, 200, 0, 1000});
  t.chunks.push_back({ChunkType::kZeroFill, 0, 200, 100, 1000, 0});
  t.chunks.push_back({ChunkType::kTerminator, 0, 300, 0, 1000, 0});
  return t;
}

TEST(BlkxTest, RoundTrips) {
  auto bytes = EncodeBlkx(SampleTable());
  ASSERT_EQ(bytes.size(), kMishHeaderBytes + 3 * kMishChunkBytes);
  EXPECT_EQ(std::memcmp(bytes.data(), "mish", 4), 0);
  auto t = DecodeBlkx(bytes);
  ASSERT_OK(t);
  EXPECT_EQ(t->first_sector, 100u);
  EXPECT_EQ(t->sector_count, 300u);
  EXPECT_EQ(t->buffers_needed, 208u);
  EXPECT_EQ(t->checksum.data[0], 0x11223344u);
  ASSERT_EQ(t->chunks.size(), 3u);
  EXPECT_EQ(t->chunks[0].type, ChunkType::kZlib);
  EXPECT_EQ(t->chunks[0].compressed_length, 1000u);
  EXPECT_EQ(t->chunks[2].type, ChunkType::kTerminator);
  EXPECT_EQ(EncodeBlkx(*t), bytes);
}

TEST(BlkxTest, Mutations) {
  const auto good = EncodeBlkx(SampleTable());
  auto mutate32 = [&](size_t off, uint32_t v) {
    auto b = good;
    StoreBE32(b.data() + off, v);
    return DecodeBlkx(b);
  };
  auto mutate64 = [&](size_t off, uint64_t v) {
    auto b = good;
    StoreBE64(b.data() + off, v);
    return DecodeBlkx(b);
  };
  EXPECT_CODE(DecodeBlkx(std::span(good).first(203)), kCorrupt);
  EXPECT_CODE(mutate32(0, 0), kCorrupt);                    // signature
  EXPECT_CODE(mutate32(4, 2), kUnsupported);                // version
  EXPECT_CODE(mutate64(16, uint64_t{1} << 60), kCorrupt);   // absurd sector count
  EXPECT_CODE(mutate64(8, ~uint64_t{0}), kCorrupt);         // first + count overflows
  EXPECT_CODE(mutate32(68, 4096), kCorrupt);                // checksum bits
  EXPECT_CODE(mutate32(200, 4), kCorrupt);                  // more chunks than bytes
  EXPECT_CODE(mutate32(200, 0xffffffff), kCorrupt);         // absurd chunk count
  EXPECT_CODE(mutate32(204, 0x80000009), kUnsupported);     // unknown chunk type
  EXPECT_CODE(mutate64(204 + 16, 301), kCorrupt);           // chunk leaves its table
  EXPECT_CODE(mutate64(204 + 8, ~uint64_t{0}), kCorrupt);   // chunk start overflow
  EXPECT_CODE(mutate64(204 + 24, ~uint64_t{0}), kCorrupt);  // offset + length overflows
  // Fewer chunks than present is fine (trailing bytes are ignored).
  EXPECT_OK(mutate32(200, 2));
}

}  // namespace
}  // namespace imgfs::dmg
