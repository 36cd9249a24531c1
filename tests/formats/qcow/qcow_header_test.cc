// SPDX-License-Identifier: MIT
// qcow (version 1) header decoding from bytes: one valid header, then one
// mutation per validation rule.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "formats/qcow/header.h"
#include "tests/formats/qcow/test_qcow_builder.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::qcow {
namespace {

using imgfs::testing::BuildQcow;
using imgfs::testing::QcowSpec;

QcowSpec Small() {
  QcowSpec s;
  s.size_bytes = 3 << 20;
  s.backing = "base.img";
  s.clusters[1] = "abc";
  return s;
}

std::string Image() { return BuildQcow(Small()); }

void Put(std::string& s, size_t at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    s[at + static_cast<size_t>(i)] = static_cast<char>(v >> (8 * (bytes - 1 - i)));
  }
}

Result<Header> Decode(const std::string& s, uint64_t file_size = 0) {
  std::vector<std::byte> b(std::min<size_t>(s.size(), kHeaderBytes));
  std::memcpy(b.data(), s.data(), b.size());
  return DecodeHeader(b, file_size != 0 ? file_size : s.size());
}

TEST(QcowHeader, DecodesValid) {
  auto h = Decode(Image());
  ASSERT_OK(h);
  EXPECT_EQ(h->size_bytes, 3u << 20);
  EXPECT_EQ(h->cluster_bits, 12u);
  EXPECT_EQ(h->l2_bits, 9u);
  EXPECT_EQ(h->l1_entries, 2u);  // 2 MiB per L2 table
  EXPECT_EQ(h->l1_offset, 512u);
  EXPECT_TRUE(h->has_backing());
  EXPECT_EQ(h->backing_name_offset, 48u);
  EXPECT_EQ(h->backing_name_bytes, 8u);
}

TEST(QcowHeader, CompressedEntrySplitsAtClusterBits) {
  const uint64_t entry = (uint64_t{1} << 63) | (uint64_t{300} << (63 - 12)) | 0x12345;
  const CompressedCluster c = DecodeCompressed(entry, 12);
  EXPECT_EQ(c.host_offset, 0x12345u);
  EXPECT_EQ(c.stored_bytes, 300u);
}

TEST(QcowHeader, SizeRoundsDownToSectors) {
  std::string s = Image();
  Put(s, kSizeOffset, 5000, 8);
  auto h = Decode(s);
  ASSERT_OK(h);
  EXPECT_EQ(h->disk_bytes(), 4608u);
}

struct Mutation {
  const char* name;
  size_t at;
  uint64_t value;
  int bytes;
  StatusCode code;
  const char* text;
};

class QcowHeaderMutation : public ::testing::TestWithParam<Mutation> {};

TEST_P(QcowHeaderMutation, IsRefused) {
  const Mutation& m = GetParam();
  std::string s = Image();
  Put(s, m.at, m.value, m.bytes);
  auto h = Decode(s);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), m.code) << h.status().ToString();
  EXPECT_NE(h.status().message().find(m.text), std::string::npos) << h.status().message();
  EXPECT_EQ(h.status().message().find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, QcowHeaderMutation,
    ::testing::Values(
        Mutation{"Magic", kMagicOffset, 0x514649fa, 4, StatusCode::kCorrupt, "bad magic"},
        Mutation{"Version2", kVersionOffset, 2, 4, StatusCode::kUnsupported, "version 2"},
        Mutation{"Crypt7", kCryptMethodOffset, 7, 4, StatusCode::kUnsupported, "encryption"},
        Mutation{"ClusterBits8", kClusterBitsOffset, 8, 1, StatusCode::kUnsupported,
                 "cluster_bits 8"},
        Mutation{"ClusterBits17", kClusterBitsOffset, 17, 1, StatusCode::kUnsupported,
                 "cluster_bits 17"},
        Mutation{"ClusterBits255", kClusterBitsOffset, 255, 1, StatusCode::kUnsupported,
                 "cluster_bits 255"},
        Mutation{"L2Bits5", kL2BitsOffset, 5, 1, StatusCode::kUnsupported, "l2_bits 5"},
        Mutation{"L2Bits14", kL2BitsOffset, 14, 1, StatusCode::kUnsupported, "l2_bits 14"},
        Mutation{"BackingLong", kBackingSizeOffset, 1024, 4, StatusCode::kUnsupported,
                 "longer than 1023"},
        Mutation{"BackingPastEof", kBackingOffsetOffset, 1 << 30, 8, StatusCode::kCorrupt,
                 "backing file name at 0x40000000"},
        Mutation{"L1PastEof", kL1OffsetOffset, 1 << 20, 8, StatusCode::kCorrupt,
                 "L1 table at 0x100000 extends past end of file"},
        Mutation{"L1Huge", kSizeOffset, uint64_t{1} << 62, 8, StatusCode::kUnsupported,
                 "32 MiB limit"},
        Mutation{"SizeMax", kSizeOffset, ~uint64_t{0}, 8, StatusCode::kUnsupported, "limit"}),
    [](const ::testing::TestParamInfo<Mutation>& p) { return p.param.name; });

TEST(QcowHeader, TruncatedHeaderIsCorrupt) {
  auto h = Decode(Image().substr(0, 40));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(h.status().message().find("header truncated"), std::string::npos);
}

}  // namespace
}  // namespace imgfs::qcow
