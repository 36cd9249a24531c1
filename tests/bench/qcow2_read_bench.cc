// SPDX-License-Identifier: MIT
// qcow2 read throughput through OpenImage: uncompressed (64 KiB clusters),
// zlib-compressed and zstd-compressed images made by `qemu-img convert`
// from the same disk-like data (about 2x compressible). Skips with a reason
// when qemu-img is missing or the qcow2 driver is not in this tree.
//
// The */pool:N cases open the image with a ThreadPool of N workers in
// OpenOptions (as `imgfs mount` does), so large reads inflate and read the
// host in parallel; pool:0 is the same code path without a pool.
#include "core/exec/thread_pool.h"
#include "formats/open.h"
#include "tests/bench/read_bench.h"

using namespace imgfs::bench;  // NOLINT(google-build-using-namespace): see the macro

namespace {

// Sequential 1 MiB reads like BM_SeqRead, through a device opened with a
// pool of state.range(0) workers (0: no pool).
// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark BM_ names
void BM_SeqReadPool(benchmark::State& state, Variant v) {
  auto path = Inputs::Get().PathFor(v);
  if (!path.error.empty()) {
    state.SkipWithError(path.error.c_str());
    return;
  }
  const auto workers = static_cast<unsigned>(state.range(0));
  std::unique_ptr<imgfs::ThreadPool> pool;
  imgfs::OpenOptions options;
  if (workers > 0) {
    pool = std::make_unique<imgfs::ThreadPool>(workers);
    options.pool = pool.get();
  }
  imgfs::Cache cache(std::min(kDefaultCacheBytes, Inputs::Get().image_bytes() / 4));
  auto dev = imgfs::OpenImage(path.path, options, &cache);
  if (!dev.ok()) {
    state.SkipWithError(dev.status().ToString().c_str());
    return;
  }
  SeqReadLoop(state, **dev);
}

}  // namespace

IMGFS_READ_BENCHMARKS(qcow2, Variant::kQcow2);
IMGFS_READ_BENCHMARKS(qcow2_zlib, Variant::kQcow2Zlib);
IMGFS_READ_BENCHMARKS(qcow2_zstd, Variant::kQcow2Zstd);

// NOLINTNEXTLINE(cppcoreguidelines-macro-usage): BENCHMARK_CAPTURE pastes names
#define IMGFS_POOL_BENCHMARK(tag, variant)        \
  BENCHMARK_CAPTURE(BM_SeqReadPool, tag, variant) \
      ->ArgName("pool")                           \
      ->Arg(0)                                    \
      ->Arg(1)                                    \
      ->Arg(2)                                    \
      ->Unit(benchmark::kMicrosecond)             \
      ->UseRealTime()

IMGFS_POOL_BENCHMARK(qcow2, Variant::kQcow2);
IMGFS_POOL_BENCHMARK(qcow2_zlib, Variant::kQcow2Zlib);
IMGFS_POOL_BENCHMARK(qcow2_zstd, Variant::kQcow2Zstd);

BENCHMARK_MAIN();
