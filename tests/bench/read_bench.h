// SPDX-License-Identifier: MIT
// Read benchmark bodies shared by raw_read_bench.cc and qcow2_read_bench.cc:
// sequential 1 MiB reads, random 4 KiB reads with a cold cache (a fresh
// Cache and device per batch), a tiny cache, and a warm cache. The host
// page cache stays warm unless IMGFS_BENCH_DROP_PAGE_CACHE=1, so the
// figures are the CPU cost of the read path, not of the disk.
#pragma once

#include <benchmark/benchmark.h>
#include <time.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "core/codec/codec.h"
#include "core/exec/thread_pool.h"
#include "formats/open.h"
#include "fuse/cli/commands.h"
#include "tests/bench/bench_inputs.h"

namespace imgfs::bench {

inline constexpr uint64_t kSeqChunkBytes = 1 << 20;
inline constexpr uint64_t kRandBytes = 4096;
inline constexpr uint64_t kDefaultCacheBytes = cli::kDefaultCacheBytes;  // `imgfs mount` default
inline constexpr uint64_t kTinyCacheBytes = 1ULL << 20;  // holds L2 tables, few clusters
inline constexpr uint64_t kWarmCacheBytes = 2ULL << 30;  // holds the whole image
inline constexpr size_t kColdBatchReads = 256;
inline constexpr size_t kOffsetCount = 1 << 16;

// Per-read costs a benchmark reports besides its times: the process's CPU
// time (pool threads included, unlike Google Benchmark's CPU column) and
// the bytes the codecs decoded, per read. Started and reported by thread 0
// only; the figures cover every thread's reads.
class PerReadCounters {
 public:
  explicit PerReadCounters(const benchmark::State& state)
      : active_(state.thread_index() == 0),
        cpu_ns_(ProcessCpuNs()),
        decoded_(codec::DecodedBytes()) {}

  void Report(benchmark::State& state) const {
    if (!active_ || state.iterations() == 0) {
      return;
    }
    const double reads = static_cast<double>(state.iterations()) * state.threads();
    state.counters["cpu_us/read"] = static_cast<double>(ProcessCpuNs() - cpu_ns_) / 1e3 / reads;
    state.counters["decoded_B/read"] =
        static_cast<double>(codec::DecodedBytes() - decoded_) / reads;
  }

 private:
  static uint64_t ProcessCpuNs() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000 + static_cast<uint64_t>(ts.tv_nsec);
  }

  bool active_;
  uint64_t cpu_ns_;
  uint64_t decoded_;
};

// Reads the whole device once (to warm caches). Returns false on error.
inline bool ReadAll(const BlockDevice& dev) {
  std::vector<std::byte> buf(kSeqChunkBytes);
  for (uint64_t off = 0; off < dev.Size(); off += buf.size()) {
    uint64_t n = std::min<uint64_t>(buf.size(), dev.Size() - off);
    if (!dev.Read(off, std::span(buf).first(static_cast<size_t>(n))).ok()) {
      return false;
    }
  }
  return true;
}

// The timed loop of the sequential benchmarks: 1 MiB reads of `dev`,
// wrapping at the end.
inline void SeqReadLoop(benchmark::State& state, const BlockDevice& dev) {
  std::vector<std::byte> buf(kSeqChunkBytes);
  uint64_t size = dev.Size() / kSeqChunkBytes * kSeqChunkBytes;
  uint64_t off = 0;
  PerReadCounters counters(state);
  for (auto _ : state) {
    Status s = dev.Read(off, buf);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(buf.data());
    off = (off + kSeqChunkBytes) % size;
  }
  counters.Report(state);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kSeqChunkBytes));
}

// Sequential 1 MiB reads over the whole image, wrapping at the end.
// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark BM_ names
inline void BM_SeqRead(benchmark::State& state, Variant v) {
  // A cache a quarter of the image: a wrapping sequential reader must never
  // find its clusters still cached from the previous lap.
  OpenedImage img = OpenForBench(v, std::min(kDefaultCacheBytes, Inputs::Get().image_bytes() / 4));
  if (!img.error.empty()) {
    state.SkipWithError(img.error.c_str());
    return;
  }
  SeqReadLoop(state, *img.device);
}

// Random 4 KiB reads, cold imgfs cache: every iteration is a batch of
// kColdBatchReads reads through a freshly opened device with a fresh Cache
// (reopening is not timed).
// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark BM_ names
inline void BM_RandReadCold(benchmark::State& state, Variant v) {
  auto path = Inputs::Get().PathFor(v);
  auto offsets = RandomOffsets(Inputs::Get().image_bytes(), kOffsetCount, 42);
  std::vector<std::byte> buf(kRandBytes);
  size_t next = 0;
  for (auto _ : state) {
    state.PauseTiming();
    if (DropPageCacheRequested() && !path.path.empty()) {
      DropPageCache(path.path);
    }
    OpenedImage img = OpenForBench(v, kDefaultCacheBytes);
    state.ResumeTiming();
    if (!img.error.empty()) {
      state.SkipWithError(img.error.c_str());
      break;
    }
    for (size_t i = 0; i < kColdBatchReads; ++i) {
      Status s = img.device->Read(offsets[next], buf);
      next = (next + 1) % offsets.size();
      if (!s.ok()) {
        state.SkipWithError(s.ToString().c_str());
        break;
      }
      benchmark::DoNotOptimize(buf.data());
    }
    state.PauseTiming();
    img.device.reset();  // closing is not timed either; the device before its cache
    img.cache.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kColdBatchReads));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kColdBatchReads * kRandBytes));
}

// One device per (variant, cache size) shared by every thread of a
// benchmark, so that threaded runs contend on one cache as a mount does.
inline OpenedImage& SharedImage(Variant v, uint64_t cache_bytes, bool warm) {
  static std::mutex mu;
  static std::map<std::pair<int, uint64_t>, OpenedImage> images;
  std::lock_guard lock(mu);
  auto key = std::make_pair(static_cast<int>(v), cache_bytes);
  auto it = images.find(key);
  if (it == images.end()) {
    it = images.emplace(key, OpenForBench(v, cache_bytes)).first;
    if (warm && it->second.error.empty() && !ReadAll(*it->second.device)) {
      it->second.error = "cannot read the image to warm the cache";
    }
  }
  return it->second;
}

// The timed loop of the shared-device random benchmarks: 4 KiB reads of
// `dev` at offsets from a per-thread seed.
inline void RandReadLoop(benchmark::State& state, const BlockDevice& dev, uint64_t seed) {
  auto offsets =
      RandomOffsets(dev.Size(), kOffsetCount, seed + static_cast<uint64_t>(state.thread_index()));
  std::vector<std::byte> buf(kRandBytes);
  size_t next = 0;
  PerReadCounters counters(state);
  for (auto _ : state) {
    Status s = dev.Read(offsets[next], buf);
    next = (next + 1) % offsets.size();
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(buf.data());
  }
  counters.Report(state);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kRandBytes));
}

// Random 4 KiB reads against a shared device with `cache_bytes` of cache;
// run with ->Threads(n) to see contention.
inline void RandReadShared(benchmark::State& state, Variant v, uint64_t cache_bytes, bool warm) {
  OpenedImage& img = SharedImage(v, cache_bytes, warm);
  if (!img.error.empty()) {
    state.SkipWithError(img.error.c_str());
    return;
  }
  RandReadLoop(state, *img.device, 1000);
}

// Sequential 1 MiB reads like BM_SeqRead, through a device opened with a
// pool of state.range(0) workers (0: no pool), as `imgfs mount` opens it,
// so large reads decode in parallel and ahead.
// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark BM_ names
inline void BM_SeqReadPool(benchmark::State& state, Variant v) {
  auto path = Inputs::Get().PathFor(v);
  if (!path.error.empty()) {
    state.SkipWithError(path.error.c_str());
    return;
  }
  const auto workers = static_cast<unsigned>(state.range(0));
  std::unique_ptr<ThreadPool> pool;
  OpenOptions options;
  if (workers > 0) {
    pool = std::make_unique<ThreadPool>(workers);
    options.pool = pool.get();
  }
  Cache cache(std::min(kDefaultCacheBytes, Inputs::Get().image_bytes() / 4));
  auto dev = OpenImage(path.path, options, &cache);
  if (!dev.ok()) {
    state.SkipWithError(dev.status().ToString().c_str());
    return;
  }
  SeqReadLoop(state, **dev);
}

// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark BM_ names
inline void BM_RandReadWarm(benchmark::State& state, Variant v) {
  RandReadShared(state, v, kWarmCacheBytes, /*warm=*/true);
}

// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark BM_ names
inline void BM_RandReadTinyCache(benchmark::State& state, Variant v) {
  RandReadShared(state, v, kTinyCacheBytes, /*warm=*/false);
}

}  // namespace imgfs::bench

// Registers the four read benchmarks for one variant. Rates use wall-clock
// time: a device may read on helper threads, whose CPU time the benchmark
// thread's CPU clock would not see. BENCHMARK_CAPTURE pastes
// the function name into an identifier, so use it after
// `using namespace imgfs::bench;`.
#define IMGFS_READ_BENCHMARKS(tag, variant)                                                       \
  BENCHMARK_CAPTURE(BM_SeqRead, tag, variant)->Unit(benchmark::kMicrosecond)->UseRealTime();      \
  BENCHMARK_CAPTURE(BM_RandReadCold, tag, variant)->Unit(benchmark::kMicrosecond)->UseRealTime(); \
  BENCHMARK_CAPTURE(BM_RandReadTinyCache, tag, variant)->Threads(1)->Threads(2)->UseRealTime();   \
  BENCHMARK_CAPTURE(BM_RandReadWarm, tag, variant)->Threads(1)->Threads(2)->UseRealTime()

// Registers BM_SeqReadPool for one variant with pools of 0, 1 and 2 workers.
// NOLINTNEXTLINE(cppcoreguidelines-macro-usage): BENCHMARK_CAPTURE pastes names
#define IMGFS_POOL_BENCHMARK(tag, variant)        \
  BENCHMARK_CAPTURE(BM_SeqReadPool, tag, variant) \
      ->ArgName("pool")                           \
      ->Arg(0)                                    \
      ->Arg(1)                                    \
      ->Arg(2)                                    \
      ->Unit(benchmark::kMicrosecond)             \
      ->UseRealTime()
