// SPDX-License-Identifier: MIT
// QED header decoding from bytes: one valid header, then one mutation per
// validation rule of docs/interop/qed_spec.rst.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "formats/qed/header.h"
#include "tests/formats/qcow/test_qcow_builder.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::qed {
namespace {

using imgfs::testing::BuildQed;
using imgfs::testing::QedSpec;

std::string Image() {
  QedSpec s;
  s.cluster_bytes = 4096;
  s.table_clusters = 2;
  s.image_bytes = 10 << 20;
  s.backing = "base.raw";
  s.features = kFeatureBackingFormatNoProbe;
  s.clusters[3] = "abc";
  s.zero_clusters = {5};
  return BuildQed(s);
}

void Put(std::string& s, size_t at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    s[at + static_cast<size_t>(i)] = static_cast<char>(v >> (8 * i));
  }
}

Result<Header> Decode(const std::string& s) {
  std::vector<std::byte> b(std::min<size_t>(s.size(), kHeaderBytes));
  std::memcpy(b.data(), s.data(), b.size());
  return DecodeHeader(b, s.size());
}

TEST(QedHeader, DecodesValid) {
  auto h = Decode(Image());
  ASSERT_OK(h);
  EXPECT_EQ(h->cluster_bytes(), 4096u);
  EXPECT_EQ(h->table_bytes(), 8192u);
  EXPECT_EQ(h->l2_entry_bits, 10u);  // 1024 entries
  EXPECT_EQ(h->l1_entries, 3u);      // 4 MiB per L2 table
  EXPECT_EQ(h->l1_offset, 4096u);
  EXPECT_TRUE(h->has_backing());
  EXPECT_TRUE(h->backing_raw());
  EXPECT_FALSE(h->need_check());
  EXPECT_EQ(h->backing_name_offset, 64u);
}

TEST(QedHeader, NeedCheckIsReadable) {
  std::string s = Image();
  Put(s, kFeaturesOffset, kFeatureBackingFile | kFeatureNeedCheck, 8);
  auto h = Decode(s);
  ASSERT_OK(h);
  EXPECT_TRUE(h->need_check());
  EXPECT_FALSE(h->backing_raw());
}

struct Mutation {
  const char* name;
  size_t at;
  uint64_t value;
  int bytes;
  StatusCode code;
  const char* text;
};

class QedHeaderMutation : public ::testing::TestWithParam<Mutation> {};

TEST_P(QedHeaderMutation, IsRefused) {
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
    Rules, QedHeaderMutation,
    ::testing::Values(
        Mutation{"Magic", kMagicOffset, 0x00444552, 4, StatusCode::kCorrupt, "bad magic"},
        Mutation{"ClusterNotPow2", kClusterSizeOffset, 3000, 4, StatusCode::kUnsupported,
                 "cluster size 3000"},
        Mutation{"ClusterSmall", kClusterSizeOffset, 2048, 4, StatusCode::kUnsupported,
                 "cluster size 2048"},
        Mutation{"ClusterHuge", kClusterSizeOffset, 1u << 27, 4, StatusCode::kUnsupported,
                 "cluster size"},
        Mutation{"ClusterZero", kClusterSizeOffset, 0, 4, StatusCode::kUnsupported,
                 "cluster size 0"},
        Mutation{"Table3", kTableSizeOffset, 3, 4, StatusCode::kUnsupported, "table size 3"},
        Mutation{"Table32", kTableSizeOffset, 32, 4, StatusCode::kUnsupported, "table size 32"},
        Mutation{"Table0", kTableSizeOffset, 0, 4, StatusCode::kUnsupported, "table size 0"},
        Mutation{"HeaderZero", kHeaderSizeOffset, 0, 4, StatusCode::kUnsupported, "header size"},
        Mutation{"HeaderHuge", kHeaderSizeOffset, 0xffffffff, 4, StatusCode::kUnsupported,
                 "header size"},
        Mutation{"UnknownFeature", kFeaturesOffset, 0x11, 8, StatusCode::kUnsupported,
                 "unknown feature bits 0x10"},
        Mutation{"OddSize", kImageSizeOffset, 1000, 8, StatusCode::kCorrupt,
                 "not a multiple of 512"},
        Mutation{"TooBig", kImageSizeOffset, uint64_t{1} << 50, 8, StatusCode::kCorrupt,
                 "larger than the tables can map"},
        Mutation{"L1Misaligned", kL1OffsetOffset, 4100, 8, StatusCode::kCorrupt,
                 "L1 table offset 0x1004"},
        Mutation{"L1InHeader", kL1OffsetOffset, 0, 8, StatusCode::kCorrupt, "L1 table offset 0x0"},
        Mutation{"L1PastEof", kL1OffsetOffset, 1 << 30, 8, StatusCode::kCorrupt,
                 "extends past end of file"},
        Mutation{"BackingLong", kBackingNameSizeOffset, 5000, 4, StatusCode::kUnsupported,
                 "longer than 4095"},
        Mutation{"BackingOutside", kBackingNameOffsetOffset, 4090, 4, StatusCode::kCorrupt,
                 "outside the header clusters"}),
    [](const ::testing::TestParamInfo<Mutation>& p) { return p.param.name; });

TEST(QedHeader, TruncatedHeaderIsCorrupt) {
  auto h = Decode(Image().substr(0, 63));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(h.status().message().find("header truncated"), std::string::npos);
}

}  // namespace
}  // namespace imgfs::qed
