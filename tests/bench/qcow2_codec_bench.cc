// SPDX-License-Identifier: MIT
// qcow2 cluster inflate cost: a whole 64 KiB zlib cluster with libdeflate
// (DecompressCluster) against zlib inflating only a prefix of it
// (InflatePrefix) at several prefix lengths. The crossing point is where
// formats/qcow2/device.cc (kPrefixInflateDivisor) switches from prefix to
// whole-cluster inflates for small reads. zstd for comparison.
//   ./qcow2_codec_bench
#include <benchmark/benchmark.h>
#include <zlib.h>
#include <zstd.h>

#include <string>
#include <vector>

#include "formats/qcow2/decompress.h"
#include "tests/bench/bench_inputs.h"

namespace imgfs::qcow2 {
namespace {

constexpr size_t kClusterBytes = 64 << 10;
constexpr size_t kClusters = 256;  // 16 MiB of disk-like data

// The clusters compressed as QEMU does: raw deflate with a 4 KiB window
// (window bits -12) at the default level, or a zstd frame.
const std::vector<std::vector<std::byte>>& Packed(CompressionType type) {
  static const auto make = [](CompressionType t) {
    std::vector<std::byte> data(kClusters * kClusterBytes);
    bench::FillDiskLikeData(0x71636f77, 0, data);
    std::vector<std::vector<std::byte>> out;
    for (size_t i = 0; i < kClusters; ++i) {
      const std::byte* in = data.data() + i * kClusterBytes;
      std::vector<std::byte> packed(kClusterBytes * 2);
      size_t n = 0;
      if (t == CompressionType::kZstd) {
        n = ZSTD_compress(packed.data(), packed.size(), in, kClusterBytes, 3);
      } else {
        z_stream z{};
        deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY);
        z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in));
        z.avail_in = kClusterBytes;
        z.next_out = reinterpret_cast<Bytef*>(packed.data());
        z.avail_out = static_cast<uInt>(packed.size());
        deflate(&z, Z_FINISH);
        n = z.total_out;
        deflateEnd(&z);
      }
      packed.resize(n);
      out.push_back(std::move(packed));
    }
    return out;
  };
  static const auto zlib = make(CompressionType::kZlib);
  static const auto zstd = make(CompressionType::kZstd);
  return type == CompressionType::kZstd ? zstd : zlib;
}

// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark BM_ names
void BM_WholeCluster(benchmark::State& state, CompressionType type) {
  const auto& packed = Packed(type);
  std::vector<std::byte> out(kClusterBytes);
  size_t i = 0;
  for (auto _ : state) {
    Status s = DecompressCluster(type, packed[i++ % kClusters], out);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kClusterBytes));
}
BENCHMARK_CAPTURE(BM_WholeCluster, zlib_libdeflate, CompressionType::kZlib)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_WholeCluster, zstd, CompressionType::kZstd)->Unit(benchmark::kMicrosecond);

// Argument: prefix length in KiB.
// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark BM_ names
void BM_ZlibPrefix(benchmark::State& state) {
  const auto& packed = Packed(CompressionType::kZlib);
  std::vector<std::byte> out(static_cast<size_t>(state.range(0)) << 10);
  size_t i = 0;
  for (auto _ : state) {
    Status s = InflatePrefix(packed[i++ % kClusters], out);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_ZlibPrefix)
    ->Arg(4)
    ->Arg(8)
    ->Arg(16)
    ->Arg(24)
    ->Arg(32)
    ->Arg(40)
    ->Arg(48)
    ->Arg(64)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace imgfs::qcow2

BENCHMARK_MAIN();
