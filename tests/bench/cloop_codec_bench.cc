// SPDX-License-Identifier: MIT
// cloop block decode throughput through the codec library: one row per
// compressor cloop 4.x stores (zlib, xz, lz4, lzo1x), on 64 KiB blocks of
// disk-like data (bench_inputs.h), as formats/cloop/device.cc decodes them.
// A codec this build lacks reports an error row instead.
//   ./cloop_codec_bench
#include <benchmark/benchmark.h>

#include <map>
#include <vector>

#include "core/codec/codec.h"
#include "tests/bench/bench_inputs.h"

namespace imgfs::codec {
namespace {

constexpr size_t kBlockBytes = 64 << 10;
constexpr size_t kBlocks = 256;  // 16 MiB

struct Packed {
  Status status = Status::Ok();
  std::vector<std::vector<std::byte>> blocks;
};

const Packed& PackedFor(Codec c) {
  static std::map<Codec, Packed> cache;
  auto [it, fresh] = cache.try_emplace(c);
  if (fresh) {
    std::vector<std::byte> data(kBlocks * kBlockBytes);
    bench::FillDiskLikeData(0x636c6f6f, 0, data);
    for (size_t i = 0; i < kBlocks && it->second.status.ok(); ++i) {
      auto packed = Compress(c, -1, std::span(data).subspan(i * kBlockBytes, kBlockBytes));
      if (!packed.ok()) {
        it->second.status = packed.status();
      } else {
        it->second.blocks.push_back(std::move(*packed));
      }
    }
  }
  return it->second;
}

// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark BM_ names
void BM_CloopBlockDecode(benchmark::State& state, Codec c) {
  const Packed& packed = PackedFor(c);
  if (!packed.status.ok()) {
    state.SkipWithError(packed.status.ToString().c_str());
    return;
  }
  std::vector<std::byte> out(kBlockBytes);
  size_t i = 0;
  for (auto _ : state) {
    Status s = Decompress(c, packed.blocks[i++ % kBlocks], out);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBlockBytes));
}
BENCHMARK_CAPTURE(BM_CloopBlockDecode, zlib, Codec::kZlib)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_CloopBlockDecode, xz, Codec::kXz)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_CloopBlockDecode, lz4, Codec::kLz4)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_CloopBlockDecode, lzo, Codec::kLzo)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace imgfs::codec

BENCHMARK_MAIN();
