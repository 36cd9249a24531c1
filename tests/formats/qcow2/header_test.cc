// SPDX-License-Identifier: MIT
#include "formats/qcow2/header.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>

#include "tests/formats/qcow2/image_builder.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::qcow2 {
namespace {

using testing::MiniImage;
using testing::Put32;
using testing::Put64;

Result<Header> Decode(const MiniImage& img) { return DecodeHeader(img.head(), img.bytes.size()); }

TEST(Qcow2HeaderTest, ValidV3Header) {
  MiniImage img;
  auto h = Decode(img);
  ASSERT_OK(h);
  EXPECT_EQ(h->version, 3u);
  EXPECT_EQ(h->cluster_size(), 512u);
  EXPECT_EQ(h->size_bytes, MiniImage::kSize);
  EXPECT_EQ(h->l1_size, 2u);
  EXPECT_EQ(h->l2_bits(), 6u);
  EXPECT_EQ(h->compression_type, CompressionType::kZlib);
  EXPECT_FALSE(h->extended_l2());
}

TEST(Qcow2HeaderTest, LegacyAesNeedsNoExtension) {
  MiniImage img;
  img.SetHeader32(kCryptMethodOffset, kCryptAes);
  auto h = Decode(img);
  ASSERT_OK(h);
  EXPECT_TRUE(h->encrypted());
}

TEST(Qcow2HeaderTest, ValidV2Header) {
  MiniImage img;
  img.SetHeader32(kVersionOffset, 2);
  // v2 fields past 72 bytes are not header: extensions start at 72.
  for (size_t i = kV2HeaderBytes; i < 112; ++i) {
    img.bytes[i] = 0;
  }
  auto h = Decode(img);
  ASSERT_OK(h);
  EXPECT_EQ(h->refcount_order, 4u);
  EXPECT_EQ(h->header_length, kV2HeaderBytes);
}

struct Mutation {
  const char* name;
  std::function<void(MiniImage*)> mutate;
  StatusCode code;
  const char* message_part;
};

class Qcow2HeaderMutationTest : public ::testing::TestWithParam<Mutation> {};

TEST_P(Qcow2HeaderMutationTest, IsRefused) {
  MiniImage img;
  GetParam().mutate(&img);
  auto h = Decode(img);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), GetParam().code) << h.status().ToString();
  EXPECT_NE(h.status().message().find(GetParam().message_part), std::string::npos)
      << h.status().ToString();
  EXPECT_EQ(h.status().message().rfind("qcow2: ", 0), 0u) << h.status().ToString();
}

const Mutation kMutations[] = {
    {"truncated", [](MiniImage* m) { m->bytes.resize(60); }, StatusCode::kCorrupt, "truncated"},
    {"v3_truncated", [](MiniImage* m) { m->bytes.resize(90); }, StatusCode::kCorrupt, "truncated"},
    {"bad_magic", [](MiniImage* m) { m->SetHeader32(kMagicOffset, 0x514649fa); },
     StatusCode::kCorrupt, "magic"},
    {"version_1", [](MiniImage* m) { m->SetHeader32(kVersionOffset, 1); }, StatusCode::kUnsupported,
     "version 1"},
    {"version_4", [](MiniImage* m) { m->SetHeader32(kVersionOffset, 4); }, StatusCode::kUnsupported,
     "version 4"},
    {"cluster_bits_8", [](MiniImage* m) { m->SetHeader32(kClusterBitsOffset, 8); },
     StatusCode::kCorrupt, "cluster_bits 8"},
    {"cluster_bits_22", [](MiniImage* m) { m->SetHeader32(kClusterBitsOffset, 22); },
     StatusCode::kCorrupt, "cluster_bits 22"},
    {"header_length_small", [](MiniImage* m) { m->SetHeader32(kHeaderLengthOffset, 96); },
     StatusCode::kCorrupt, "header_length"},
    {"header_length_unaligned", [](MiniImage* m) { m->SetHeader32(kHeaderLengthOffset, 109); },
     StatusCode::kCorrupt, "header_length"},
    {"header_length_huge", [](MiniImage* m) { m->SetHeader32(kHeaderLengthOffset, 1024); },
     StatusCode::kCorrupt, "header_length"},
    {"refcount_order_7", [](MiniImage* m) { m->SetHeader32(kRefcountOrderOffset, 7); },
     StatusCode::kCorrupt, "refcount_order"},
    {"compression_type_2", [](MiniImage* m) { m->bytes[kCompressionTypeOffset] = 2; },
     StatusCode::kUnsupported, "compression type 2"},
    {"zstd_without_bit", [](MiniImage* m) { m->bytes[kCompressionTypeOffset] = 1; },
     StatusCode::kCorrupt, "bit 3"},
    {"bit_without_zstd",
     [](MiniImage* m) { m->SetHeader64(kIncompatibleFeaturesOffset, kIncompatCompression); },
     StatusCode::kCorrupt, "bit 3"},
    {"corrupt_bit",
     [](MiniImage* m) { m->SetHeader64(kIncompatibleFeaturesOffset, kIncompatCorrupt); },
     StatusCode::kUnsupported, "marked corrupt"},
    {"unknown_incompatible_bit",
     [](MiniImage* m) { m->SetHeader64(kIncompatibleFeaturesOffset, 1ull << 9); },
     StatusCode::kUnsupported, "unknown (bit 9)"},
    {"luks_without_extension", [](MiniImage* m) { m->SetHeader32(kCryptMethodOffset, 2); },
     StatusCode::kCorrupt, "has no full disk encryption header extension"},
    {"crypto_extension_without_luks",
     [](MiniImage* m) { m->AddExtension(112, kExtCrypto, std::string(16, '\0')); },
     StatusCode::kCorrupt, "only LUKS (crypt_method 2) has one"},
    {"crypto_extension_over_header",
     [](MiniImage* m) {
       m->SetHeader32(kCryptMethodOffset, 2);
       std::string ext(16, '\0');
       ext[15] = static_cast<char>(0x02);  // offset 0, length 0x402
       ext[14] = static_cast<char>(0x04);
       m->AddExtension(112, kExtCrypto, ext);
     },
     StatusCode::kCorrupt, "overlaps the image header"},
    {"crypt_method_7", [](MiniImage* m) { m->SetHeader32(kCryptMethodOffset, 7); },
     StatusCode::kUnsupported, "crypt_method 7"},
    {"absurd_l1_size", [](MiniImage* m) { m->SetHeader32(kL1SizeOffset, 0xffffffff); },
     StatusCode::kUnsupported, "32 MiB"},
    {"l1_too_small", [](MiniImage* m) { m->SetHeader32(kL1SizeOffset, 1); }, StatusCode::kCorrupt,
     "too small"},
    {"l1_past_eof", [](MiniImage* m) { m->SetHeader64(kL1TableOffsetOffset, 0x100000); },
     StatusCode::kCorrupt, "L1 table at 0x100000 extends past end of file"},
    {"l1_unaligned", [](MiniImage* m) { m->SetHeader64(kL1TableOffsetOffset, 0x208); },
     StatusCode::kCorrupt, "not cluster aligned"},
    {"huge_virtual_size", [](MiniImage* m) { m->SetHeader64(kSizeOffset, ~0ull); },
     StatusCode::kCorrupt, "too small"},
    {"refcount_table_huge",
     [](MiniImage* m) { m->SetHeader32(kRefcountTableClustersOffset, 0x10000000); },
     StatusCode::kUnsupported, "8 MiB"},
    {"refcount_table_past_eof",
     [](MiniImage* m) { m->SetHeader32(kRefcountTableClustersOffset, 100); }, StatusCode::kCorrupt,
     "refcount table at 0x400 extends past end of file"},
    {"too_many_snapshots", [](MiniImage* m) { m->SetHeader32(kNbSnapshotsOffset, 65537); },
     StatusCode::kCorrupt, "65536"},
    {"snapshots_past_eof",
     [](MiniImage* m) {
       m->SetHeader32(kNbSnapshotsOffset, 1000);
       m->SetHeader64(kSnapshotsOffsetOffset, 0x800);
     },
     StatusCode::kCorrupt, "snapshot table"},
    {"extension_length_past_area",
     [](MiniImage* m) {
       m->AddExtension(112, 0x12345678, std::string(10, 'x')), Put32(&m->bytes, 116, 1000);
     },
     StatusCode::kCorrupt, "header extension 0x12345678 at 0x70 length 1000"},
    {"crypto_extension_bad_length",
     [](MiniImage* m) { m->AddExtension(112, kExtCrypto, std::string(8, '\0')); },
     StatusCode::kCorrupt, "encryption header extension"},
    {"backing_name_too_long",
     [](MiniImage* m) {
       m->SetHeader64(kBackingFileOffsetOffset, 200);
       m->SetHeader32(kBackingFileSizeOffset, 2000);
     },
     StatusCode::kCorrupt, "backing file name at 0xc8"},
    {"backing_name_outside_cluster",
     [](MiniImage* m) {
       m->SetHeader64(kBackingFileOffsetOffset, 500);
       m->SetHeader32(kBackingFileSizeOffset, 100);
     },
     StatusCode::kCorrupt, "outside the header cluster"},
};

INSTANTIATE_TEST_SUITE_P(Rules, Qcow2HeaderMutationTest, ::testing::ValuesIn(kMutations),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(Qcow2HeaderTest, UnknownIncompatibleBitIsNamedFromFeatureTable) {
  MiniImage img;
  img.SetHeader64(kIncompatibleFeaturesOffset, 1ull << 7);
  std::string table(48, '\0');
  table[0] = 0;  // incompatible
  table[1] = 7;
  table.replace(2, 11, "time travel");
  img.AddExtension(112, kExtFeatureNames, table);
  auto h = Decode(img);
  EXPECT_CODE(h, kUnsupported);
  EXPECT_NE(h.status().message().find("time travel (bit 7)"), std::string::npos)
      << h.status().ToString();
}

TEST(Qcow2HeaderTest, ExtensionsAreDecodedAndUnknownOnesSkipped) {
  MiniImage img;
  uint64_t at = img.AddExtension(112, 0x11112222, "ignored");
  at = img.AddExtension(at, kExtBackingFormat, "raw");
  at = img.AddExtension(at, kExtDataFile, "disk.data");
  at = img.AddExtension(at, kExtBitmaps, std::string(24, '\0'));
  img.SetHeader64(kBackingFileOffsetOffset, 400);
  img.SetHeader32(kBackingFileSizeOffset, 8);
  testing::PutBytes(&img.bytes, 400, "base.img");
  auto h = Decode(img);
  ASSERT_OK(h);
  EXPECT_EQ(h->backing_format, "raw");
  EXPECT_EQ(h->data_file, "disk.data");
  EXPECT_TRUE(h->bitmaps.has_value());
  EXPECT_FALSE(h->crypto_header.has_value());
  EXPECT_EQ(h->backing_file, "base.img");
}

TEST(Qcow2HeaderTest, ExtensionCountIsBounded) {
  // Zero-length unknown extensions are 8 bytes each; a 2 MiB header
  // cluster could hold 262144 of them.
  MiniImage img;
  img.SetHeader32(kClusterBitsOffset, 21);
  img.SetHeader32(kL1TableOffsetOffset, 0);
  img.SetHeader64(kL1TableOffsetOffset, 0);
  img.SetHeader32(kL1SizeOffset, 1);
  img.SetHeader64(kRefcountTableOffsetOffset, 0);
  img.SetHeader32(kRefcountTableClustersOffset, 0);
  img.bytes.resize(2u << 20);
  std::fill(img.bytes.begin() + 112, img.bytes.end(), '\0');
  for (uint64_t at = 112; at + 8 <= img.bytes.size(); at += 8) {
    Put32(&img.bytes, at, 0x99);
  }
  auto h = DecodeHeader({reinterpret_cast<const std::byte*>(img.bytes.data()), img.bytes.size()},
                        img.bytes.size());
  EXPECT_CODE(h, kCorrupt);
  EXPECT_NE(h.status().message().find("1024"), std::string::npos) << h.status().ToString();
}

TEST(Qcow2HeaderTest, CompressionAndFeatureFlags) {
  MiniImage img;
  img.SetHeader64(kIncompatibleFeaturesOffset,
                  kIncompatCompression | kIncompatExtendedL2 | kIncompatDirty);
  img.bytes[kCompressionTypeOffset] = 1;
  // 16-byte L2 entries halve what an L1 entry covers: 32 KiB here.
  EXPECT_CODE(Decode(img), kCorrupt);
  Put64(&img.bytes, kSizeOffset, 2 * (512ull << 5));
  auto h = Decode(img);
  ASSERT_OK(h);
  EXPECT_EQ(h->compression_type, CompressionType::kZstd);
  EXPECT_TRUE(h->extended_l2());
  EXPECT_TRUE(h->dirty());
  EXPECT_EQ(h->l2_bits(), 5u);
  Put64(&img.bytes, kSizeOffset, 2 * (512ull << 5) + 512);
  EXPECT_CODE(Decode(img), kCorrupt);  // two L1 entries no longer cover it
}

}  // namespace
}  // namespace imgfs::qcow2
