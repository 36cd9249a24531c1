// SPDX-License-Identifier: MIT
// Oracle tests for parallel qcow2 reads: an image opened with a ThreadPool
// in OpenOptions (large reads are cut into pieces that inflate and read the
// host in parallel, and sequential readers prefetch) must give the same
// bytes as `qemu-img convert` and as the same image opened without a pool,
// for zlib, zstd, uncompressed and mixed images over a backing file. The
// device's pieces_read() counter shows that the pooled reads really were
// split into parallel pieces (and the unpooled ones were not).
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/blockmap/block_map_device.h"
#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "formats/open.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::ReadWholeFile;
using testing::Sh;
using testing::TempDir;

constexpr uint64_t kMiB = uint64_t{1} << 20;

// 6 MiB of data, zeros and holes: a raw base under `src.qcow2` so that
// unallocated ranges read the base. Writes straddle clusters at odd
// offsets; `extra` adds qemu-io commands (e.g. compressed writes).
void MakeSource(const TempDir& dir, const std::string& cluster_size, const std::string& extra) {
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f raw base.raw 6M && "
                 "qemu-io -f raw -c 'write -P 0xb1 0 6M' -c 'write -z 2M 128k' base.raw"));
  ASSERT_TRUE(Sh(dir.path(), "qemu-img create -q -f qcow2 -o cluster_size=" + cluster_size +
                                 " -b base.raw -F raw src.qcow2 6M"));
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-io -c 'write -P 0x11 0 1M' -c 'write -P 0x22 1234567 1500000' "
                 "-c 'write -z 3M 200k' -c 'write -P 0x33 4100000 700001' " +
                     extra + " src.qcow2"));
}

// Reads all of `dev` in `chunk`-byte requests from `start` and compares
// with `want`; returns the first differing request offset or -1.
int64_t FirstMismatch(const BlockDevice& dev, const std::string& want, uint64_t start,
                      uint64_t chunk) {
  std::vector<std::byte> buf(chunk);
  for (uint64_t off = start; off < want.size(); off += chunk) {
    uint64_t n = std::min<uint64_t>(chunk, want.size() - off);
    std::span<std::byte> dst(buf.data(), n);
    if (!dev.Read(off, dst).ok() || std::memcmp(dst.data(), want.data() + off, n) != 0) {
      return static_cast<int64_t>(off);
    }
  }
  return -1;
}

// The parallel pieces `dev` (a qcow2 BlockMapDevice) has read: some when
// it has a pool, none without one.
void ExpectPieces(const BlockDevice& dev, bool pooled) {
  const auto* map = dynamic_cast<const BlockMapDevice*>(&dev);
  ASSERT_NE(map, nullptr) << "qcow2 is no longer a BlockMapDevice";
  if (pooled) {
    EXPECT_GT(map->pieces_read(), 0u) << "the pool never got a piece";
  } else {
    EXPECT_EQ(map->pieces_read(), 0u);
  }
}

// Opens `image` with and without a pool and compares both, at several
// request sizes and alignments, with `qemu-img convert`'s bytes.
void ExpectPoolMatches(const TempDir& dir, const std::string& image) {
  SCOPED_TRACE(image);
  ASSERT_TRUE(Sh(dir.path(), "qemu-img convert -O raw '" + image + "' ref.raw"));
  std::string want = ReadWholeFile(dir.Join("ref.raw"));
  ThreadPool pool(3);
  for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
    SCOPED_TRACE(p == nullptr ? "no pool" : "pool of 3");
    OpenOptions options;
    options.pool = p;
    Cache cache(256 << 10);  // small: decompressed clusters come and go
    auto dev = OpenImage(dir.Join(image), options, &cache);
    ASSERT_OK(dev);
    EXPECT_EQ((*dev)->Describe().format, "qcow2");
    const uint64_t kCases[][2] = {{0, kMiB},     {0, 2 * kMiB + 4096}, {4097, kMiB + 12345},
                                  {511, 300000}, {65536, 131072},      {3, 6 * kMiB}};
    for (const auto& c : kCases) {
      EXPECT_EQ(FirstMismatch(**dev, want, c[0], c[1]), -1)
          << "start " << c[0] << ", requests of " << c[1] << " bytes";
    }
    ExpectPieces(**dev, p != nullptr);
  }
}

class Qcow2ParallelRead : public ::testing::TestWithParam<std::string> {};

// Whole-image compressed copies (zlib and zstd) at 64 KiB and 4 KiB
// clusters, and an uncompressed one at 512 B clusters.
TEST_P(Qcow2ParallelRead, CompressedImagesMatchWithAndWithoutPool) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  MakeSource(dir, "65536", "");
  const std::string& type = GetParam();
  for (const char* cs : {"65536", "4096"}) {
    std::string out = "c" + std::string(cs) + ".qcow2";
    ASSERT_TRUE(Sh(dir.path(), "qemu-img convert -c -O qcow2 -o compression_type=" + type +
                                   ",cluster_size=" + cs + " src.qcow2 " + out));
    ExpectPoolMatches(dir, out);
  }
}

INSTANTIATE_TEST_SUITE_P(ZlibAndZstd, Qcow2ParallelRead, ::testing::Values("zlib", "zstd"));

TEST(Qcow2ParallelReadOracle, UncompressedOverBacking) {
  IMGFS_REQUIRE_QEMU();
  for (const char* cs : {"65536", "512"}) {
    TempDir dir;
    MakeSource(dir, cs, "");
    ExpectPoolMatches(dir, "src.qcow2");
  }
}

// Compressed, uncompressed, zero and unallocated (backing) clusters in one
// image, so that one large read mixes every kind of piece.
TEST(Qcow2ParallelReadOracle, MixedClustersOverBacking) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  MakeSource(dir, "65536",
             "-c 'write -c -P 0x44 3407872 512k' -c 'write -c -P 0x55 5M 256k' "
             "-c 'write -c -P 0x66 2752512 65536'");
  ExpectPoolMatches(dir, "src.qcow2");
}

// Several threads stream and read at random through one pooled device (as
// FUSE workers do), with a cache small enough to evict while they read.
TEST(Qcow2ParallelReadOracle, ConcurrentLargeReadersShareOnePool) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  MakeSource(dir, "65536", "-c 'write -c -P 0x44 3407872 512k'");
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img convert -c -O qcow2 -o compression_type=zstd src.qcow2 z.qcow2 && "
                 "qemu-img convert -O raw z.qcow2 ref.raw"));
  std::string want = ReadWholeFile(dir.Join("ref.raw"));
  ThreadPool pool(2);
  OpenOptions options;
  options.pool = &pool;
  Cache cache(128 << 10);
  auto dev = OpenImage(dir.Join("z.qcow2"), options, &cache);
  ASSERT_OK(dev);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      uint64_t chunk = kMiB + t * 70001;
      if (FirstMismatch(**dev, want, t * 4099, chunk) != -1) {
        ++mismatches;
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(mismatches.load(), 0);
  ExpectPieces(**dev, /*pooled=*/true);
}

}  // namespace
}  // namespace imgfs
