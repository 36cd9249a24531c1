// SPDX-License-Identifier: MIT
// UDZO read throughput in-process: an image of disk-like data (about 2x
// compressible) in 1 MiB zlib chunks, as hdiutil writes UDZO, built once by
// the test builder into a temp file. Sequential reads of 128 KiB (the FUSE
// request size), 1 MiB (one chunk) and 8 MiB (chunks decompressed in
// parallel on a 2-thread pool); random 4 KiB reads with a cold (tiny) and
// a warm cache. $IMGFS_BENCH_MIB sets the image size (default 256).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "core/io/file.h"
#include "formats/open.h"
#include "tests/bench/bench_inputs.h"
#include "tests/formats/dmg/test_dmg_builder.h"

namespace {

using imgfs::BlockDevice;
using imgfs::Cache;

constexpr uint64_t kChunkSectors = 2048;  // 1 MiB, hdiutil's UDZO chunk
constexpr uint64_t kRandBytes = 4096;

uint64_t ImageBytes() {
  const char* env = std::getenv("IMGFS_BENCH_MIB");  // NOLINT(concurrency-mt-unsafe): setup only
  const uint64_t mib = env != nullptr ? std::strtoull(env, nullptr, 10) : 256;
  return (mib == 0 ? 256 : mib) << 20;
}

// The UDZO file, made once per process and removed at exit.
class Image {
 public:
  static Image& Get() {
    static Image image;
    return image;
  }
  Image(const Image&) = delete;
  Image& operator=(const Image&) = delete;
  const std::string& path() const { return path_; }
  const std::string& error() const { return error_; }
  uint64_t bytes() const { return bytes_; }

 private:
  Image() : bytes_(ImageBytes()) {
    std::vector<std::byte> data(static_cast<size_t>(bytes_));
    imgfs::bench::FillDiskLikeData(7, 0, data);
    auto chunks = imgfs::dmg::testing::CompressIntoChunks(imgfs::dmg::ChunkType::kZlib, data,
                                                          kChunkSectors, /*allow_raw=*/true);
    if (!chunks.ok()) {
      error_ = chunks.status().ToString();
      return;
    }
    const std::vector<std::byte> dmg = imgfs::dmg::testing::BuildTestDmg(*chunks);
    const char* tmp = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe): setup only
    path_ = std::string(tmp != nullptr ? tmp : "/tmp") + "/imgfs-dmg-bench-" +
            std::to_string(::getpid()) + ".dmg";
    auto file = imgfs::CreatePosixFile(path_);
    if (!file.ok() || !(*file)->WriteAt(0, dmg).ok()) {
      error_ = "cannot write " + path_;
    }
  }
  ~Image() {
    if (!path_.empty()) {
      std::remove(path_.c_str());
    }
  }

  uint64_t bytes_;
  std::string path_;
  std::string error_;
};

struct Opened {
  std::unique_ptr<imgfs::ThreadPool> pool;
  std::unique_ptr<Cache> cache;
  std::unique_ptr<BlockDevice> device;  // destroyed first
  std::string error;
};

Opened Open(uint64_t cache_bytes, unsigned threads) {
  Opened o;
  if (!Image::Get().error().empty()) {
    o.error = Image::Get().error();
    return o;
  }
  o.pool = threads > 0 ? std::make_unique<imgfs::ThreadPool>(threads) : nullptr;
  o.cache = std::make_unique<Cache>(cache_bytes);
  imgfs::OpenOptions options;
  options.pool = o.pool.get();
  auto dev = imgfs::OpenImage(Image::Get().path(), options, o.cache.get());
  if (!dev.ok()) {
    o.error = dev.status().ToString();
  } else {
    o.device = std::move(*dev);
  }
  return o;
}

// Sequential reads of `state.range(0)` bytes, wrapping; a cache a quarter
// of the image so a lap never finds the previous lap's chunks.
void BM_DmgSeqRead(benchmark::State& state) {  // NOLINT(readability-identifier-naming)
  Opened o = Open(Image::Get().bytes() / 4, static_cast<unsigned>(state.range(1)));
  if (!o.error.empty()) {
    state.SkipWithError(o.error.c_str());
    return;
  }
  const auto step = static_cast<uint64_t>(state.range(0));
  std::vector<std::byte> buf(static_cast<size_t>(step));
  const uint64_t size = o.device->Size() / step * step;
  uint64_t off = 0;
  for (auto _ : state) {
    imgfs::Status s = o.device->Read(off, buf);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(buf.data());
    off = (off + step) % size;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * step));
}

// Random 4 KiB reads; range(0) is the cache size in MiB.
void BM_DmgRandRead4K(benchmark::State& state) {  // NOLINT(readability-identifier-naming)
  const uint64_t cache_bytes = static_cast<uint64_t>(state.range(0)) << 20;
  Opened o = Open(cache_bytes, 0);
  if (!o.error.empty()) {
    state.SkipWithError(o.error.c_str());
    return;
  }
  if (cache_bytes >= Image::Get().bytes()) {
    std::vector<std::byte> warm(1 << 20);
    for (uint64_t at = 0; at + warm.size() <= o.device->Size(); at += warm.size()) {
      for (uint64_t part = 0; part < warm.size(); part += 65536) {  // cached, not streamed
        (void)o.device->Read(at + part, std::span(warm).first(65536));
      }
    }
  }
  auto offsets = imgfs::bench::RandomOffsets(o.device->Size(), 1 << 16, 42);
  std::vector<std::byte> buf(kRandBytes);
  size_t next = 0;
  for (auto _ : state) {
    imgfs::Status s = o.device->Read(offsets[next], buf);
    next = (next + 1) % offsets.size();
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kRandBytes));
}

}  // namespace

// Sequential: {request bytes, pool threads}.
BENCHMARK(BM_DmgSeqRead)
    ->Args({128 << 10, 0})
    ->Args({1 << 20, 0})
    ->Args({8 << 20, 0})
    ->Args({8 << 20, 2})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
// Random: cache MiB (1 = cold-ish, one chunk fits; 4096 = warm, all cached).
BENCHMARK(BM_DmgRandRead4K)->Arg(1)->Arg(4096)->UseRealTime();

BENCHMARK_MAIN();
