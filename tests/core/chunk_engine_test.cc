// SPDX-License-Identifier: MIT
// The compressed-chunk engine (core/chunk/chunk_engine.h) over a fake chunk
// source that counts its decodes: single flight, the Cache, whole-chunk
// reads, stream data leaving the Cache, read-ahead and its bounds, dropped
// read-ahead errors, chunks the Cache cannot keep, helping while waiting,
// and closing with pool tasks queued or running. Deterministic: overlap is
// forced by the fake decoder waiting on the engine's own state, and the
// pool is drained with WaitIdle() or by destroying it. Run under TSan too.
#include "core/chunk/chunk_engine.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

constexpr uint64_t kChunkBytes = uint64_t{64} << 10;
constexpr size_t kChunks = 64;

std::byte Pattern(uint64_t pos) { return static_cast<std::byte>((pos * 7 + pos / 4099) & 0xff); }

// Chunk i holds device bytes [i * kChunkBytes, (i + 1) * kChunkBytes), each
// Pattern(its device offset); odd chunks are "stored" (not compressed)
// when `sparse`, so read-ahead must skip them.
class FakeSource : public ChunkSource {
 public:
  explicit FakeSource(bool sparse = false) : sparse_(sparse) {}

  Status Decode(const ChunkInfo& info, std::span<std::byte> out) const override {
    const uint64_t chunk = info.index;
    if (info.locator != Locator(chunk)) {
      return InternalError("fake: wrong locator for chunk " + std::to_string(chunk));
    }
    decodes_[chunk].fetch_add(1);
    {
      std::lock_guard lock(mu_);
      decoders_[chunk] = std::this_thread::get_id();
    }
    if (hook) {
      hook(chunk);
    }
    if (failing.contains(chunk)) {
      return CorruptError("fake: chunk " + std::to_string(chunk) + " is corrupt");
    }
    for (size_t i = 0; i < out.size(); ++i) {
      out[i] = Pattern(chunk * kChunkBytes + i);
    }
    return Status::Ok();
  }

  void ForEachChunkIn(uint64_t from_bytes, uint64_t to_bytes,
                      const std::function<bool(const ChunkInfo&)>& visit) const override {
    for (uint64_t i = (from_bytes + kChunkBytes - 1) / kChunkBytes;
         i < kChunks && i * kChunkBytes < to_bytes; ++i) {
      if ((!sparse_ || i % 2 == 0) && !visit(Info(i))) {
        return;
      }
    }
  }

  static uint64_t Locator(uint64_t i) { return i * 1000 + 7; }
  static ChunkInfo Info(uint64_t i) {
    return ChunkInfo{i, i * kChunkBytes, kChunkBytes, Locator(i)};
  }

  unsigned decodes(uint64_t chunk) const { return decodes_[chunk].load(); }
  unsigned total_decodes() const {
    unsigned n = 0;
    for (const auto& d : decodes_) {
      n += d.load();
    }
    return n;
  }
  std::thread::id decoder(uint64_t chunk) const {
    std::lock_guard lock(mu_);
    return decoders_[chunk];
  }

  // Called inside Decode before it fills; set before reads start.
  std::function<void(uint64_t)> hook;
  std::set<uint64_t> failing;

 private:
  const bool sparse_;
  mutable std::array<std::atomic<unsigned>, kChunks> decodes_{};
  mutable std::mutex mu_;
  mutable std::array<std::thread::id, kChunks> decoders_{};  // guarded by mu_
};

// A source, a Cache, a pool (none when threads is 0) and an engine over
// them; the engine closes first, then the pool drains.
struct Rig {
  explicit Rig(uint64_t cache_bytes, unsigned threads = 0, size_t max_pending = 8,
               bool sparse = false)
      : src(sparse),
        cache(cache_bytes),
        pool(threads == 0 ? nullptr : std::make_unique<ThreadPool>(threads)) {
    ChunkEngine::Options o;
    o.cache = &cache;
    o.pool = pool.get();
    o.cache_id = cache.NewId();
    o.max_chunk_bytes = kChunkBytes;
    o.max_pending = max_pending;
    engine = std::make_unique<ChunkEngine>(&src, o);
  }
  ~Rig() { engine.reset(); }

  FakeSource src;
  Cache cache;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<ChunkEngine> engine;
};

// Reads [offset, offset + length) through the engine as a device would
// (every chunk compressed) and checks the bytes.
Status ReadAndCheck(const ChunkEngine& engine, uint64_t offset, uint64_t length) {
  std::vector<std::byte> buf(length);
  std::vector<ChunkPiece> pieces;
  for (uint64_t pos = offset; pos < offset + length;) {
    const uint64_t chunk = pos / kChunkBytes;
    const uint64_t in_chunk = pos % kChunkBytes;
    const uint64_t n = std::min(kChunkBytes - in_chunk, offset + length - pos);
    pieces.push_back({FakeSource::Info(chunk), in_chunk,
                      std::span(buf.data() + (pos - offset), static_cast<size_t>(n))});
    pos += n;
  }
  IMGFS_RETURN_IF_ERROR(engine.Read(offset, length, pieces));
  for (uint64_t i = 0; i < length; ++i) {
    if (buf[i] != Pattern(offset + i)) {
      return InternalError("wrong byte at " + std::to_string(offset + i));
    }
  }
  return Status::Ok();
}

// Three whole-chunk reads: a stream confirmed on chunk 2.
void StartStream(const ChunkEngine& engine) {
  for (uint64_t i = 0; i < 3; ++i) {
    ASSERT_OK(ReadAndCheck(engine, i * kChunkBytes, kChunkBytes));
  }
}

TEST(ChunkEngineTest, PartialReadsHitTheCache) {
  Rig r(16 << 20);
  FakeSource& src = r.src;
  Cache& cache = r.cache;
  const ChunkEngine& engine = *r.engine;
  EXPECT_EQ(engine.read_ahead_limit(), 0u);
  ASSERT_OK(ReadAndCheck(engine, 3 * kChunkBytes + 100, 4096));
  ASSERT_OK(ReadAndCheck(engine, 3 * kChunkBytes + 9000, 4096));
  EXPECT_EQ(src.decodes(3), 1u);
  EXPECT_EQ(cache.TotalCharge(), kChunkBytes);
  // Across a boundary: chunk 4 is decoded, chunk 3 comes from the Cache.
  ASSERT_OK(ReadAndCheck(engine, 4 * kChunkBytes - 100, 4096));
  EXPECT_EQ(src.decodes(3), 1u);
  EXPECT_EQ(src.decodes(4), 1u);
}

TEST(ChunkEngineTest, WholeChunkReadsDecodeIntoTheCallersBuffer) {
  Rig r(16 << 20);
  FakeSource& src = r.src;
  Cache& cache = r.cache;
  const ChunkEngine& engine = *r.engine;
  ASSERT_OK(ReadAndCheck(engine, 0, 2 * kChunkBytes));
  EXPECT_EQ(cache.TotalCharge(), 0u);
  ASSERT_OK(ReadAndCheck(engine, 0, kChunkBytes));
  EXPECT_EQ(src.decodes(0), 2u);
}

TEST(ChunkEngineTest, PieceOutsideItsChunkIsRefused) {
  Rig r(16 << 20);
  FakeSource& src = r.src;
  const ChunkEngine& engine = *r.engine;
  std::vector<std::byte> buf(8);
  EXPECT_CODE(engine.ReadPiece({FakeSource::Info(0), kChunkBytes - 4, buf}), kInternal);
  EXPECT_EQ(src.total_decodes(), 0u);
}

// N readers of one chunk: the first decodes it only once the others all
// wait for it (or once a second decode shows single flight is broken).
void SingleFlight(uint64_t cache_bytes) {
  constexpr size_t kReaders = 4;
  Rig r(cache_bytes);
  FakeSource& src = r.src;
  const ChunkEngine& engine = *r.engine;
  src.hook = [&](uint64_t) {
    while (engine.waiting_readers() < kReaders - 1 && src.decodes(5) == 1) {
      std::this_thread::yield();
    }
  };
  std::vector<std::thread> threads;
  std::vector<Status> results(kReaders);
  for (size_t t = 0; t < kReaders; ++t) {
    threads.emplace_back(
        [&, t] { results[t] = ReadAndCheck(engine, 5 * kChunkBytes + t * 512, 1000); });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (const Status& s : results) {
    EXPECT_OK(s);
  }
  EXPECT_EQ(src.decodes(5), 1u);
}

TEST(ChunkEngineTest, SingleFlight) { SingleFlight(16 << 20); }

// A Cache that cannot keep the chunk: the waiting readers still share it.
TEST(ChunkEngineTest, SingleFlightWithoutRoomInTheCache) {
  SingleFlight(0);
  Rig r(0);
  FakeSource& src = r.src;
  Cache& cache = r.cache;
  const ChunkEngine& engine = *r.engine;
  ASSERT_OK(ReadAndCheck(engine, 100, 4096));
  ASSERT_OK(ReadAndCheck(engine, 100, 4096));
  EXPECT_EQ(src.decodes(0), 2u);
  EXPECT_EQ(cache.TotalCharge(), 0u);
}

TEST(ChunkEngineTest, StreamDataLeavesTheCacheOnceRead) {
  Rig r(16 << 20);
  FakeSource& src = r.src;
  Cache& cache = r.cache;
  const ChunkEngine& engine = *r.engine;
  // Large reads (>= 64 KiB) that split chunks: each chunk is cached until
  // both of its halves have been read, in any order.
  ASSERT_OK(ReadAndCheck(engine, kChunkBytes / 2, kChunkBytes));
  EXPECT_EQ(cache.TotalCharge(), 2 * kChunkBytes);
  ASSERT_OK(ReadAndCheck(engine, 3 * kChunkBytes / 2, kChunkBytes));
  EXPECT_EQ(cache.TotalCharge(), 2 * kChunkBytes);  // chunk 1 left, chunk 2 came
  ASSERT_OK(ReadAndCheck(engine, 0, kChunkBytes / 2));
  EXPECT_EQ(cache.TotalCharge(), kChunkBytes);  // a small read: chunk 0 left too
  EXPECT_EQ(src.decodes(0), 1u);
  EXPECT_EQ(src.decodes(1), 1u);
}

TEST(ChunkEngineTest, ReadAheadFollowsAStream) {
  Rig r(64 << 20, 1, 3);
  FakeSource& src = r.src;
  Cache& cache = r.cache;
  const ChunkEngine& engine = *r.engine;
  EXPECT_EQ(engine.read_ahead_limit(), 3u);
  StartStream(engine);
  engine.WaitIdle();
  for (uint64_t i = 0; i < 6; ++i) {
    EXPECT_EQ(src.decodes(i), 1u) << i;
  }
  EXPECT_EQ(src.decodes(6), 0u);
  EXPECT_EQ(cache.TotalCharge(), 3 * kChunkBytes);
  // Chunk 3 comes from the Cache, then leaves it; the stream moves on.
  ASSERT_OK(ReadAndCheck(engine, 3 * kChunkBytes, kChunkBytes));
  engine.WaitIdle();
  EXPECT_EQ(src.decodes(3), 1u);
  for (uint64_t i = 6; i < 9; ++i) {
    EXPECT_EQ(src.decodes(i), 1u) << i;
  }
  EXPECT_EQ(src.total_decodes(), 9u);
  EXPECT_EQ(cache.TotalCharge(), 5 * kChunkBytes);
}

TEST(ChunkEngineTest, ReadAheadSkipsWhatTheSourceDoesNotList) {
  Rig r(64 << 20, 1, 2, /*sparse=*/true);
  FakeSource& src = r.src;
  const ChunkEngine& engine = *r.engine;
  StartStream(engine);
  engine.WaitIdle();
  EXPECT_EQ(src.decodes(3), 0u);
  EXPECT_EQ(src.decodes(4), 1u);
  EXPECT_EQ(src.decodes(5), 0u);
  EXPECT_EQ(src.decodes(6), 1u);
  EXPECT_EQ(src.total_decodes(), 5u);
}

TEST(ChunkEngineTest, SmallReadsStartNoReadAhead) {
  Rig r(64 << 20, 2);
  FakeSource& src = r.src;
  const ChunkEngine& engine = *r.engine;
  for (uint64_t pos = 0; pos < 4 * kChunkBytes; pos += 32 << 10) {
    ASSERT_OK(ReadAndCheck(engine, pos, 32 << 10));
  }
  engine.WaitIdle();
  EXPECT_EQ(src.total_decodes(), 4u);
}

// Runs `body` while the pool's only worker is blocked, then unblocks it.
template <typename F>
void WithPoolBlocked(ThreadPool& pool, F body) {
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  pool.Submit([open] { open.wait(); });
  body();
  gate.set_value();
}

TEST(ChunkEngineTest, PendingBoundRespected) {
  // By max_pending (8), by the pool (4 per thread and the reader: 8), and
  // by a quarter of the Cache (a 512 KiB Cache: 2 chunks).
  for (const auto& [cache_bytes, expected] :
       {std::pair<uint64_t, unsigned>{64 << 20, 8}, std::pair<uint64_t, unsigned>{512 << 10, 2}}) {
    Rig r(cache_bytes, 1);
    const FakeSource& src = r.src;
    const ChunkEngine& engine = *r.engine;
    EXPECT_EQ(engine.read_ahead_limit(), expected);
    WithPoolBlocked(*r.pool, [&] {
      StartStream(engine);
      // A stream read while the pool is blocked takes its queued chunk
      // itself and queues no more than the bound.
      ASSERT_OK(ReadAndCheck(engine, 3 * kChunkBytes, kChunkBytes));
    });
    engine.WaitIdle();
    // Chunks 0-2 and 3 by the reader, 4 to 2 + expected by the pool.
    EXPECT_EQ(src.total_decodes(), 3 + expected) << cache_bytes;
    for (uint64_t i = 0; i < 3 + expected; ++i) {
      EXPECT_EQ(src.decodes(i), 1u) << i;
    }
  }
}

TEST(ChunkEngineTest, ReadAheadErrorIsDroppedAndTheReaderGetsIt) {
  Rig r(64 << 20, 1);
  FakeSource& src = r.src;
  src.failing = {4};
  const ChunkEngine& engine = *r.engine;
  StartStream(engine);
  engine.WaitIdle();
  EXPECT_EQ(src.decodes(4), 1u);
  EXPECT_EQ(src.decodes(5), 1u);
  ASSERT_OK(ReadAndCheck(engine, 3 * kChunkBytes, kChunkBytes));
  EXPECT_CODE(ReadAndCheck(engine, 4 * kChunkBytes + 512, 4096), kCorrupt);
  EXPECT_EQ(src.decodes(4), 2u);
  engine.WaitIdle();
  ASSERT_OK(ReadAndCheck(engine, 5 * kChunkBytes, 4096));
  EXPECT_EQ(src.decodes(5), 1u);
}

TEST(ChunkEngineTest, WaitingReaderHelpsWithQueuedChunks) {
  Rig r(64 << 20, 1, 4);
  FakeSource& src = r.src;
  const ChunkEngine& engine = *r.engine;
  // The worker decodes chunk 3 only once chunks 4-6 (queued behind it)
  // were decoded, which only the reader waiting for chunk 3 can do.
  std::promise<void> entered;
  src.hook = [&](uint64_t chunk) {
    if (chunk == 3) {
      entered.set_value();
      while (src.decodes(6) == 0) {
        std::this_thread::yield();
      }
    }
  };
  StartStream(engine);
  entered.get_future().wait();
  ASSERT_OK(ReadAndCheck(engine, 3 * kChunkBytes + 512, 4096));
  engine.WaitIdle();
  for (uint64_t i = 4; i <= 6; ++i) {
    EXPECT_EQ(src.decodes(i), 1u) << i;
    EXPECT_EQ(src.decoder(i), std::this_thread::get_id()) << i;
  }
  EXPECT_NE(src.decoder(3), std::this_thread::get_id());
}

TEST(ChunkEngineTest, ClosingWithTasksQueuedDecodesNothingMore) {
  Rig r(64 << 20, 1);
  WithPoolBlocked(*r.pool, [&] {
    StartStream(*r.engine);
    r.engine.reset();  // 8 tasks queued, none running: returns at once
  });
  r.pool.reset();  // runs the queued tasks, which find the engine closed
  EXPECT_EQ(r.src.total_decodes(), 3u);
  EXPECT_EQ(r.cache.TotalCharge(), 0u);
}

TEST(ChunkEngineTest, ClosingWaitsForRunningTasks) {
  Rig r(64 << 20, 1);
  FakeSource& src = r.src;
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> finished{false};
  src.hook = [&](uint64_t chunk) {
    if (chunk == 3) {
      entered.set_value();
      released.wait();
      finished = true;
    }
  };
  StartStream(*r.engine);
  entered.get_future().wait();  // the worker decodes chunk 3
  std::thread releaser([&] { release.set_value(); });
  r.engine.reset();
  EXPECT_TRUE(finished.load());
  // Chunks 4-10 may have started before the engine closed (the releaser
  // races with it), but none after.
  const unsigned decoded = src.total_decodes();
  releaser.join();
  r.pool.reset();
  EXPECT_EQ(src.total_decodes(), decoded);
}

TEST(ChunkEngineTest, ConcurrentStreamsAndRandomReads) {
  Rig r(2 << 20, 2);
  Cache& cache = r.cache;
  const ChunkEngine& engine = *r.engine;
  std::vector<std::thread> threads;
  std::vector<Status> results(4);
  for (size_t t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t pos = t * 5 * kChunkBytes; pos + (96 << 10) <= kChunks * kChunkBytes;
           pos += 96 << 10) {
        results[t] = ReadAndCheck(engine, pos, 96 << 10);
        if (!results[t].ok()) {
          return;
        }
      }
    });
  }
  threads.emplace_back([&] {
    uint32_t x = 12345;
    for (int i = 0; i < 200 && results[3].ok(); ++i) {
      x = x * 1103515245u + 12345u;
      results[3] = ReadAndCheck(engine, x % (kChunks * kChunkBytes - 4096), 4096);
    }
  });
  for (std::thread& t : threads) {
    t.join();
  }
  for (const Status& s : results) {
    EXPECT_OK(s);
  }
  engine.WaitIdle();
  EXPECT_LE(cache.TotalCharge(), cache.capacity_bytes());
}

}  // namespace
}  // namespace imgfs
