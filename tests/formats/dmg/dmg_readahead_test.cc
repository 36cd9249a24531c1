// SPDX-License-Identifier: MIT
// Sequential read-ahead of the UDIF device (formats/dmg/device.h): bytes
// read through a pool equal the image's known content, read-ahead really
// fills the Cache (and only for streams), several streams at once, closing
// the device while inflations are queued or running, a small Cache, and a
// corrupt chunk met by read-ahead. Run under TSan too (scripts/test.sh).
// Nothing here sleeps: checks of what read-ahead did first drain the pool.
#include <gtest/gtest.h>

#include <cstring>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/exec/thread_pool.h"
#include "formats/dmg/device.h"
#include "formats/open.h"
#include "tests/formats/dmg/test_data.h"
#include "tests/formats/dmg/test_dmg_builder.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::dmg {
namespace {

using testing::AsString;
using testing::BuildTestDmg;
using testing::CompressIntoChunks;
using testing::MixedData;
using testing::TestChunk;

constexpr size_t kChunkSectors = 128;  // 64 KiB chunks: many per MiB
constexpr size_t kChunkBytes = kChunkSectors * 512;

struct Image {
  std::vector<std::byte> disk;
  std::vector<TestChunk> chunks;
  std::string dmg;
};

Image MakeImage(size_t bytes, uint32_t seed, size_t chunk_sectors = kChunkSectors) {
  Image img;
  img.disk = MixedData(bytes, seed);
  auto chunks = CompressIntoChunks(ChunkType::kZlib, img.disk, chunk_sectors);
  EXPECT_OK(chunks);
  img.chunks = std::move(*chunks);
  img.dmg = AsString(BuildTestDmg(img.chunks));
  return img;
}

std::unique_ptr<BlockDevice> Open(const std::string& dmg, Cache* cache, ThreadPool* pool) {
  OpenOptions options;
  options.pool = pool;
  auto dev = OpenImageFile(NewMemoryFile("t.dmg", dmg), options, cache);
  EXPECT_OK(dev);
  return dev.ok() ? std::move(*dev) : nullptr;
}

// A device on its own pool and Cache; the device closes first.
struct Opened {
  Opened(const Image& img, unsigned threads, uint64_t cache_bytes)
      : pool(threads), cache(cache_bytes), dev(Open(img.dmg, &cache, &pool)) {}
  ThreadPool pool;
  Cache cache;
  std::unique_ptr<BlockDevice> dev;
};

// Reads [offset, end) in `step`-byte requests and compares with `disk`.
void ReadSequentially(const BlockDevice& dev, const std::vector<std::byte>& disk, size_t offset,
                      size_t end, size_t step) {
  std::vector<std::byte> got(step);
  for (size_t pos = offset; pos < end; pos += step) {
    const size_t n = std::min(step, end - pos);
    const Status s = dev.Read(pos, std::span(got.data(), n));
    ASSERT_TRUE(s.ok()) << "at " << pos << ": " << s.message();
    ASSERT_EQ(0, std::memcmp(got.data(), disk.data() + pos, n)) << "at " << pos;
  }
}

// Returns once every task submitted to `pool` before the call has finished:
// one barrier task per worker, all of which must be running at once, so the
// (FIFO) queue ahead of them is empty and no worker is still busy. The
// engine submits read-ahead only from inside a Read, so after the reads
// return this drains it deterministically, without sleeping.
void DrainPool(ThreadPool& pool) {
  const std::ptrdiff_t n = pool.size();
  auto all_running = std::make_shared<std::latch>(n);
  auto done = std::make_shared<std::latch>(n);
  for (std::ptrdiff_t i = 0; i < n; ++i) {
    pool.Submit([all_running, done] {
      all_running->arrive_and_wait();
      done->count_down();
    });
  }
  done->wait();
}

TEST(DmgReadAheadTest, SequentialReadsWithPoolMatchContent) {
  const Image img = MakeImage(6 << 20, 21);
  for (size_t step : {size_t{64} << 10, size_t{100000}, size_t{1} << 20}) {
    Opened o(img, 2, 64 << 20);
    ASSERT_NE(o.dev, nullptr);
    const BlockDevice& dev = *o.dev;
    ReadSequentially(dev, img.disk, 0, img.disk.size(), step);
    // Stream data leaves the Cache once read: a pass keeps nothing.
    EXPECT_EQ(o.cache.TotalCharge(), 0u) << "step " << step;
    ReadSequentially(dev, img.disk, 0, img.disk.size(), step);
  }
}

TEST(DmgReadAheadTest, StreamFillsCacheAhead) {
  const Image img = MakeImage(4 << 20, 22);
  Opened o(img, 1, 64 << 20);
  ASSERT_NE(o.dev, nullptr);
  Cache& cache = o.cache;
  const BlockDevice& dev = *o.dev;
  // Whole-chunk reads inflate into the caller's buffer and cache nothing;
  // three make a confirmed stream, whose next chunks go to the Cache.
  ReadSequentially(dev, img.disk, 0, 3 * kChunkBytes, kChunkBytes);
  // Once the pool is drained: exactly 8 chunks ahead (the device's cap).
  DrainPool(o.pool);
  EXPECT_EQ(cache.TotalCharge(), 8 * kChunkBytes);
  const uint64_t hits = cache.hits();
  ReadSequentially(dev, img.disk, 3 * kChunkBytes, 4 * kChunkBytes, kChunkBytes);
  EXPECT_EQ(cache.hits(), hits + 1);
}

TEST(DmgReadAheadTest, SmallReadsStartNoReadAhead) {
  const Image img = MakeImage(2 << 20, 23);
  Opened o(img, 2, 64 << 20);
  ASSERT_NE(o.dev, nullptr);
  Cache& cache = o.cache;
  const BlockDevice& dev = *o.dev;
  // 4 KiB reads over the first three chunks: only those three are cached.
  ReadSequentially(dev, img.disk, 0, 3 * kChunkBytes, 4096);
  DrainPool(o.pool);
  EXPECT_EQ(cache.TotalCharge(), 3 * kChunkBytes);
}

TEST(DmgReadAheadTest, NoPoolNoReadAhead) {
  const Image img = MakeImage(2 << 20, 24);
  Cache cache(64 << 20);
  auto dev = Open(img.dmg, &cache, nullptr);
  ASSERT_NE(dev, nullptr);
  ReadSequentially(*dev, img.disk, 0, img.disk.size(), kChunkBytes);
  EXPECT_EQ(cache.TotalCharge(), 0u);
}

TEST(DmgReadAheadTest, ConcurrentStreamsAndRandomReads) {
  const Image img = MakeImage(8 << 20, 25);
  Opened o(img, 2, 16 << 20);
  ASSERT_NE(o.dev, nullptr);
  Cache& cache = o.cache;
  const BlockDevice& dev = *o.dev;
  std::vector<std::thread> threads;
  const size_t quarter = img.disk.size() / 4;
  for (size_t t = 0; t < 4; ++t) {
    // Overlapping ranges: streams meet each other's chunks in flight.
    threads.emplace_back([&, t] {
      const size_t from = t * quarter / 2;
      ReadSequentially(dev, img.disk, from, from + 2 * quarter, 96 << 10);
    });
  }
  threads.emplace_back([&] {
    std::vector<std::byte> got(4096);
    uint32_t x = 12345;
    for (int i = 0; i < 300; ++i) {
      x = x * 1103515245u + 12345u;
      const size_t pos = x % (img.disk.size() - got.size());
      ASSERT_OK(dev.Read(pos, got));
      ASSERT_EQ(0, std::memcmp(got.data(), img.disk.data() + pos, got.size())) << pos;
    }
  });
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_LE(cache.TotalCharge(), cache.capacity_bytes());
}

TEST(DmgReadAheadTest, CloseWhileReadAheadInFlight) {
  // 1 MiB chunks take long enough to inflate that the device closes while
  // pool tasks are queued and running.
  const Image img = MakeImage(12 << 20, 26, 2048);
  std::vector<std::byte> got(1 << 20);
  for (int round = 0; round < 10; ++round) {
    ThreadPool pool(2);
    Cache cache(256 << 20);
    {
      auto dev = Open(img.dmg, &cache, &pool);
      ASSERT_NE(dev, nullptr);
      for (size_t i = 0; i < 3; ++i) {
        ASSERT_OK(dev->Read(i << 20, got));
      }
    }                                    // closes with up to 8 inflations pending
    EXPECT_EQ(cache.TotalCharge(), 0u);  // nothing inserted after closing
  }
  // The pool may also go first: its destructor runs the queued tasks while
  // the device still exists.
  for (int round = 0; round < 5; ++round) {
    Cache cache(256 << 20);
    std::unique_ptr<BlockDevice> dev;
    {
      ThreadPool pool(2);
      dev = Open(img.dmg, &cache, &pool);
      ASSERT_NE(dev, nullptr);
      for (size_t i = 0; i < 3; ++i) {
        ASSERT_OK(dev->Read(i << 20, got));
      }
    }
    dev.reset();
  }
}

TEST(DmgReadAheadTest, SmallCacheCapHonoured) {
  const Image img = MakeImage(4 << 20, 27);
  // 256 KiB: a quarter holds one 64 KiB chunk, so at most one ahead.
  for (uint64_t capacity : {uint64_t{0}, uint64_t{128} << 10, uint64_t{256} << 10}) {
    Opened o(img, 2, capacity);
    ASSERT_NE(o.dev, nullptr);
    Cache& cache = o.cache;
    const BlockDevice& dev = *o.dev;
    std::vector<std::byte> got(96 << 10);
    for (size_t pos = 0; pos < img.disk.size(); pos += got.size()) {
      const size_t n = std::min(got.size(), img.disk.size() - pos);
      ASSERT_OK(dev.Read(pos, std::span(got.data(), n)));
      ASSERT_EQ(0, std::memcmp(got.data(), img.disk.data() + pos, n)) << pos;
      ASSERT_LE(cache.TotalCharge(), capacity);
    }
  }
}

TEST(DmgReadAheadTest, CorruptChunkFailsOnlyItsReader) {
  Image img = MakeImage(2 << 20, 28);
  const size_t bad = 6;
  ASSERT_GT(img.chunks.size(), bad + 4);
  for (std::byte& b : img.chunks[bad].payload) {
    b = std::byte{0xff};
  }
  img.dmg = AsString(BuildTestDmg(img.chunks));
  for (int round = 0; round < 3; ++round) {
    Opened o(img, 2, 64 << 20);
    ASSERT_NE(o.dev, nullptr);
    Cache& cache = o.cache;
    const BlockDevice& dev = *o.dev;
    // The stream is confirmed on chunk 2; read-ahead then meets chunk 6.
    ReadSequentially(dev, img.disk, 0, bad * kChunkBytes, kChunkBytes);
    DrainPool(o.pool);
    ASSERT_GE(cache.TotalCharge(), 4 * kChunkBytes);
    std::vector<std::byte> got(kChunkBytes);
    EXPECT_CODE(dev.Read(bad * kChunkBytes, got), kCorrupt);
    EXPECT_CODE(dev.Read(bad * kChunkBytes + 512, std::span(got.data(), 4096)), kCorrupt);
    ReadSequentially(dev, img.disk, (bad + 1) * kChunkBytes, img.disk.size(), kChunkBytes);
  }
}

}  // namespace
}  // namespace imgfs::dmg
