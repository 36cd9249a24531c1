// SPDX-License-Identifier: MIT
// The deflate back ends of the codec library side by side (issue 23):
// libdeflate, zlib and Intel ISA-L on the benchmark disk's data
// (bench_inputs.h: compresses about 2x). What core/codec/deflate.cc's
// choice table rests on (docs/BENCHMARKS.md, "ISA-L deflate (issue 23)"):
//   Deflate       1 MiB UDZO chunks (zlib wrapper) per back end and level:
//                 MB/s and the compressed size ("ratio" = in / out)
//   InflateChunks the same chunks decoded whole, from libdeflate level-1
//                 and ISA-L level-3 streams
//   InflateCluster 64 KiB qcow2 clusters as QEMU writes them (raw
//                 deflate, 4 KiB window, zlib's default level), whole or
//                 the first N KiB (qcow2 small reads)
//   ./deflate_backend_bench --benchmark_min_time=0.5
// $IMGFS_BENCH_CODEC_MIB sets the data size (default 32 MiB).
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/codec/codec_internal.h"
#include "tests/bench/bench_inputs.h"

namespace imgfs::codec::internal {
namespace {

constexpr size_t kChunkBytes = 1u << 20;
constexpr size_t kClusterBytes = 64u << 10;

enum class Backend { kLibdeflate, kZlib, kIsal };

const std::vector<std::byte>& Data() {
  static const std::vector<std::byte> data = [] {
    std::vector<std::byte> d(bench::CodecDataBytes());
    bench::FillDiskLikeData(0x646d67, 0, d);
    return d;
  }();
  return data;
}

Result<std::vector<std::byte>> Pack(Backend b, int level, std::span<const std::byte> in) {
  return b == Backend::kIsal ? IsalDeflate(/*zlib_header=*/true, level, in)
                             : LibdeflateDeflate(/*zlib_header=*/true, level, in);
}

// The data as UDZO chunks from encoder `b` at its fast level that keeps
// zlib -1's ratio (libdeflate 1, ISA-L 3: what UDZO level 1 was and is),
// made once.
const std::vector<std::vector<std::byte>>& Chunks(Backend b) {
  static const auto make = [](Backend enc) {
    std::vector<std::vector<std::byte>> out;
    for (size_t at = 0; at < Data().size(); at += kChunkBytes) {
      auto r = Pack(enc, enc == Backend::kIsal ? 3 : 1, std::span(Data()).subspan(at, kChunkBytes));
      out.push_back(r.ok() ? std::move(*r) : std::vector<std::byte>());
    }
    return out;
  };
  static const auto libdeflate = make(Backend::kLibdeflate);
  static const auto isal = make(Backend::kIsal);
  return b == Backend::kIsal ? isal : libdeflate;
}

// 64 KiB clusters as QEMU's qcow2 writes them: raw deflate, window bits
// -12, Z_DEFAULT_COMPRESSION.
const std::vector<std::vector<std::byte>>& Clusters() {
  static const auto clusters = [] {
    std::vector<std::vector<std::byte>> out;
    const size_t n = std::min<size_t>(Data().size(), 16u << 20) / kClusterBytes;
    for (size_t i = 0; i < n; ++i) {
      std::vector<std::byte> packed(kClusterBytes * 2);
      z_stream z{};
      deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY);
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast)
      z.next_in =
          reinterpret_cast<Bytef*>(const_cast<std::byte*>(Data().data() + i * kClusterBytes));
      z.avail_in = kClusterBytes;
      z.next_out = reinterpret_cast<Bytef*>(packed.data());
      z.avail_out = static_cast<uInt>(packed.size());
      deflate(&z, Z_FINISH);
      packed.resize(z.total_out);
      deflateEnd(&z);
      out.push_back(std::move(packed));
    }
    return out;
  }();
  return clusters;
}

Status Unpack(Backend b, bool zlib_header, std::span<const std::byte> in, std::span<std::byte> out,
              Fill fill) {
  if (b == Backend::kIsal) {
    return IsalInflate(zlib_header, in, out, fill);
  }
  if (fill == Fill::kPrefix) {
    return ZlibInflatePrefix(zlib_header, in, out);
  }
  return LibdeflateInflate(zlib_header, in, out);
}

// Argument: the back end's own level.
void BM_Deflate(benchmark::State& state, Backend b) {
  const int level = static_cast<int>(state.range(0));
  size_t packed = 0;
  for (auto _ : state) {
    packed = 0;
    for (size_t at = 0; at < Data().size(); at += kChunkBytes) {
      auto r = Pack(b, level, std::span(Data()).subspan(at, kChunkBytes));
      if (!r.ok()) {
        state.SkipWithError(r.status().ToString().c_str());
        return;
      }
      packed += r->size();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * Data().size()));
  state.counters["ratio"] = static_cast<double>(Data().size()) / static_cast<double>(packed);
  state.counters["packed_MiB"] = static_cast<double>(packed) / (1u << 20);
}
BENCHMARK_CAPTURE(BM_Deflate, libdeflate, Backend::kLibdeflate)
    ->DenseRange(0, 9)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Deflate, isal, Backend::kIsal)
    ->DenseRange(0, 3)
    ->Unit(benchmark::kMillisecond);

// Decoder `b` on the UDZO chunks from encoder `enc`.
void BM_InflateChunks(benchmark::State& state, Backend b, Backend enc) {
  const auto& chunks = Chunks(enc);
  std::vector<std::byte> out(kChunkBytes);
  for (auto _ : state) {
    for (const auto& c : chunks) {
      const Status s = Unpack(b, /*zlib_header=*/true, c, out, Fill::kExact);
      if (!s.ok()) {
        state.SkipWithError(s.ToString().c_str());
        return;
      }
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * Data().size()));
}
BENCHMARK_CAPTURE(BM_InflateChunks, libdeflate_of_libdeflate1, Backend::kLibdeflate,
                  Backend::kLibdeflate)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_InflateChunks, isal_of_libdeflate1, Backend::kIsal, Backend::kLibdeflate)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_InflateChunks, libdeflate_of_isal3, Backend::kLibdeflate, Backend::kIsal)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_InflateChunks, isal_of_isal3, Backend::kIsal, Backend::kIsal)
    ->Unit(benchmark::kMillisecond);

// Argument: KiB decoded of each 64 KiB qcow2 cluster (64 = whole).
void BM_InflateCluster(benchmark::State& state, Backend b) {
  const auto& clusters = Clusters();
  const size_t want = static_cast<size_t>(state.range(0)) << 10;
  const Fill fill = want == kClusterBytes ? Fill::kExact : Fill::kPrefix;
  std::vector<std::byte> out(want);
  size_t i = 0;
  for (auto _ : state) {
    const Status s = Unpack(b, /*zlib_header=*/false, clusters[i++ % clusters.size()], out, fill);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
// zlib stands for the prefix decoder; for 64 (whole) the libdeflate one.
BENCHMARK_CAPTURE(BM_InflateCluster, zlib_or_libdeflate, Backend::kZlib)
    ->Arg(4)
    ->Arg(16)
    ->Arg(32)
    ->Arg(64)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_InflateCluster, isal, Backend::kIsal)
    ->Arg(4)
    ->Arg(16)
    ->Arg(32)
    ->Arg(64)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace imgfs::codec::internal

BENCHMARK_MAIN();
