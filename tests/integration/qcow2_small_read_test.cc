// SPDX-License-Identifier: MIT
// Oracle tests for small reads of compressed qcow2 clusters: a small zlib
// read inflates only the prefix of its cluster it needs and caches that
// prefix; later reads must get the same bytes as `qemu-img convert` however
// they overlap, continue or outrun a cached prefix, in any order.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::ReadWholeFile;
using testing::Sh;
using testing::TempDir;

constexpr uint64_t kCluster = 65536;
constexpr uint64_t kDiskBytes = 4 * 1024 * 1024;

// A zlib-compressed qcow2 of 4 MiB of varied bytes (text-like runs mixed
// with pseudo-random ones, so clusters hold several deflate blocks), and
// qemu-img's raw view of it.
class Qcow2SmallReads : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE_QEMU();
    std::string data(kDiskBytes, '\0');
    std::mt19937 rng(7);
    for (uint64_t i = 0; i < kDiskBytes; ++i) {
      uint32_t r = rng();
      data[i] = (i / 3000) % 3 == 0 ? static_cast<char>(r) : static_cast<char>('a' + (r % 9));
    }
    std::ofstream(dir_.Join("src.raw"), std::ios::binary).write(data.data(), kDiskBytes);
    ASSERT_TRUE(Sh(dir_.path(), std::string("qemu-img convert -c -f raw -O qcow2 -o "
                                            "compression_type=") +
                                    GetParam() +
                                    " src.raw z.qcow2 && "
                                    "qemu-img convert -O raw z.qcow2 ref.raw"));
    want_ = ReadWholeFile(dir_.Join("ref.raw"));
    ASSERT_EQ(want_, data);
  }

  // Reads [offset, offset + length) and compares it with the oracle.
  ::testing::AssertionResult Matches(const BlockDevice& dev, uint64_t offset, uint64_t length) {
    std::vector<std::byte> buf(length);
    Status s = dev.Read(offset, buf);
    if (!s.ok()) {
      return ::testing::AssertionFailure() << "read at " << offset << ": " << s.message();
    }
    if (std::memcmp(buf.data(), want_.data() + offset, length) != 0) {
      return ::testing::AssertionFailure() << length << " bytes at " << offset << " differ";
    }
    return ::testing::AssertionSuccess();
  }

  TempDir dir_;
  std::string want_;
};

// 4 KiB reads of every block in a shuffled order, with a cache that holds
// everything and one that holds only a few clusters.
TEST_P(Qcow2SmallReads, ShuffledBlocksMatchQemu) {
  for (size_t cache_bytes : {size_t{64} << 20, size_t{192} << 10}) {
    SCOPED_TRACE(cache_bytes);
    Cache cache(cache_bytes);
    auto dev = OpenImage(dir_.Join("z.qcow2"), {}, &cache);
    ASSERT_OK(dev);
    std::vector<uint64_t> blocks(kDiskBytes / 4096);
    for (size_t i = 0; i < blocks.size(); ++i) {
      blocks[i] = i * 4096;
    }
    std::shuffle(blocks.begin(), blocks.end(), std::mt19937(3));
    for (uint64_t b : blocks) {
      ASSERT_TRUE(Matches(**dev, b, 4096));
    }
  }
}

// Reads that outgrow a cached prefix: after a small read near the start of
// a cluster, reads further in, across its end, of all of it, and again near
// its start, each from a fresh device so the prefix is the only thing cached.
TEST_P(Qcow2SmallReads, ReadsBeyondACachedPrefixMatchQemu) {
  const uint64_t c = 5 * kCluster;
  const uint64_t kFollowUps[][2] = {
      {c + 4096, 4096}, {c + 40000, 3000}, {c + 60000, 10000}, {c, kCluster},
      {c - 100, 200},   {c + 1, 20000},    {c + 32767, 2},     {c + 8192, kCluster - 8192}};
  for (const auto& f : kFollowUps) {
    SCOPED_TRACE(::testing::Message() << "follow-up " << f[0] << "+" << f[1]);
    Cache cache(16 << 20);
    auto dev = OpenImage(dir_.Join("z.qcow2"), {}, &cache);
    ASSERT_OK(dev);
    ASSERT_TRUE(Matches(**dev, c + 100, 1000));  // caches a prefix of ~1 KiB
    ASSERT_TRUE(Matches(**dev, f[0], f[1]));
    ASSERT_TRUE(Matches(**dev, c + 100, 1000));
    ASSERT_TRUE(Matches(**dev, f[0], f[1]));
  }
}

// Small sequential readers (4 KiB and 3000-byte steps, the latter unaligned)
// continue where they ended and read whole clusters.
TEST_P(Qcow2SmallReads, SmallSequentialReadsMatchQemu) {
  for (uint64_t step : {uint64_t{4096}, uint64_t{3000}, uint64_t{40000}}) {
    SCOPED_TRACE(step);
    Cache cache(1 << 20);
    auto dev = OpenImage(dir_.Join("z.qcow2"), {}, &cache);
    ASSERT_OK(dev);
    for (uint64_t off = 0; off < kDiskBytes; off += step) {
      ASSERT_TRUE(Matches(**dev, off, std::min(step, kDiskBytes - off)));
    }
  }
}

// zstd clusters are always inflated whole; they run the same reads.
INSTANTIATE_TEST_SUITE_P(ZlibAndZstd, Qcow2SmallReads, ::testing::Values("zlib", "zstd"));

}  // namespace
}  // namespace imgfs
