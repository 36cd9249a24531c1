// SPDX-License-Identifier: MIT
// vmdk streamOptimized read cost in-process: a disk made by `qemu-img
// convert -O vmdk -o subformat=streamOptimized` (64 KiB zlib grains with
// markers) from the disk-like data (about 2x compressible). Besides times,
// each case reports cpu_us/read (the process's CPU, pool threads included)
// and decoded_B/read (bytes inflated per read): a random 4 KiB read should
// inflate one grain at most. Run with IMGFS_BENCH_MIB=1024 or more so that
// the mount's 64 MiB cache holds little of the image, as for the FUSE
// benchmark's 2 GiB disk.
//
//   SeqRead / SeqReadPool   1 MiB reads over the whole image (pool 0/1/2)
//   RandReadMount           4 KiB random reads, 1 and 2 threads, on one
//                           device opened as `imgfs mount` opens it (a
//                           2-worker pool, the default 64 MiB cache)
#include <memory>

#include "tests/bench/read_bench.h"

using namespace imgfs::bench;  // NOLINT(google-build-using-namespace): see the macro

namespace {

struct MountLike {
  std::unique_ptr<imgfs::ThreadPool> pool;
  std::unique_ptr<imgfs::Cache> cache;
  std::unique_ptr<imgfs::BlockDevice> device;
  std::string error;
};

MountLike& SharedMountLike(Variant v) {
  static MountLike* img = [v] {
    auto* out = new MountLike;  // NOLINT(cppcoreguidelines-owning-memory): lives for the process
    auto path = Inputs::Get().PathFor(v);
    if (!path.error.empty()) {
      out->error = path.error;
      return out;
    }
    out->pool = std::make_unique<imgfs::ThreadPool>(2);
    out->cache = std::make_unique<imgfs::Cache>(kDefaultCacheBytes);
    imgfs::OpenOptions options;
    options.pool = out->pool.get();
    auto dev = imgfs::OpenImage(path.path, options, out->cache.get());
    if (!dev.ok()) {
      out->error = dev.status().ToString();
      return out;
    }
    out->device = std::move(*dev);
    return out;
  }();
  return *img;
}

// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark BM_ names
void BM_RandReadMount(benchmark::State& state, Variant v) {
  MountLike& img = SharedMountLike(v);
  if (!img.error.empty()) {
    state.SkipWithError(img.error.c_str());
    return;
  }
  RandReadLoop(state, *img.device, 2000);
}

}  // namespace

IMGFS_READ_BENCHMARKS(vmdk_stream, Variant::kVmdkStream);
IMGFS_POOL_BENCHMARK(vmdk_stream, Variant::kVmdkStream);
BENCHMARK_CAPTURE(BM_RandReadMount, vmdk_stream, Variant::kVmdkStream)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

BENCHMARK_MAIN();
