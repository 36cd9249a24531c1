// SPDX-License-Identifier: MIT
// qcow2 compression types on the codec library: the zlib type is raw
// deflate, the zstd type zstd; the codecs themselves are tested in
// tests/core/codec/.
#include "formats/qcow2/decompress.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace imgfs::qcow2 {
namespace {

TEST(Qcow2DecompressTest, CompressionTypesMapToCodecs) {
  EXPECT_EQ(ClusterCodec(CompressionType::kZlib), codec::Codec::kDeflateRaw);
  EXPECT_EQ(ClusterCodec(CompressionType::kZstd), codec::Codec::kZstd);
}

TEST(Qcow2DecompressTest, ClustersAndPrefixesRoundTrip) {
  std::vector<std::byte> data(4096);
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<std::byte>(i % 7 == 0 ? i : 0);
  }
  for (CompressionType type : {CompressionType::kZlib, CompressionType::kZstd}) {
    auto packed = codec::Compress(ClusterCodec(type), -1, data);
    ASSERT_OK(packed);
    packed->resize(packed->size() + 100, std::byte{0});  // sector padding
    std::vector<std::byte> out(data.size());
    ASSERT_OK(DecompressCluster(type, *packed, out));
    EXPECT_TRUE(out == data);
    std::vector<std::byte> small(data.size() / 2);
    EXPECT_CODE(DecompressCluster(type, *packed, small), kCorrupt);
    if (type == CompressionType::kZlib) {
      ASSERT_OK(InflatePrefix(*packed, small));
      EXPECT_TRUE(std::equal(small.begin(), small.end(), data.begin()));
    }
  }
}

}  // namespace
}  // namespace imgfs::qcow2
