// SPDX-License-Identifier: MIT
// DMG chunk codec throughput: decode (and encode) MB/s per codec on 1 MiB
// chunks of disk-like data (bench_inputs.h: compresses about 2x), and LZFSE
// decode of a whole DMG against 7-Zip's `7zz t -tdmg` on the same file.
//   ./dmg_codec_bench                      # all
//   ./dmg_codec_bench --benchmark_filter=Decode
// $IMGFS_BENCH_CODEC_MIB sets the data size (default 32 MiB).
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "formats/dmg/codec.h"
#include "tests/bench/bench_inputs.h"
#include "tests/formats/dmg/test_dmg_builder.h"

namespace imgfs::dmg {
namespace {

constexpr size_t kChunkBytes = 1u << 20;
constexpr uint64_t kSeed = 0x646d67;

const std::vector<std::byte>& Data() {
  static const std::vector<std::byte> data = [] {
    std::vector<std::byte> d(bench::CodecDataBytes());
    bench::FillDiskLikeData(kSeed, 0, d);
    return d;
  }();
  return data;
}

struct Packed {
  std::vector<testing::TestChunk> chunks;
  size_t packed_bytes = 0;
  std::string error;
};

// The data compressed chunk by chunk, once per codec.
const Packed& PackedFor(ChunkType type) {
  static std::vector<std::pair<ChunkType, Packed>> cache;
  for (auto& [t, p] : cache) {
    if (t == type) {
      return p;
    }
  }
  Packed p;
  auto chunks = testing::CompressIntoChunks(type, Data(), kChunkBytes / kSectorBytes);
  if (!chunks.ok()) {
    p.error = chunks.status().ToString();
  } else {
    p.chunks = std::move(*chunks);
    for (const auto& c : p.chunks) {
      p.packed_bytes += c.payload.size();
    }
  }
  cache.emplace_back(type, std::move(p));
  return cache.back().second;
}

void BM_Decode(benchmark::State& state, ChunkType type) {
  const Packed& p = PackedFor(type);
  if (!p.error.empty()) {
    state.SkipWithError(p.error.c_str());
    return;
  }
  std::vector<std::byte> out(kChunkBytes);
  for (auto _ : state) {
    for (const auto& c : p.chunks) {
      const Status s = DecompressChunk(type, c.payload, std::span(out).first(c.sector_count * 512));
      if (!s.ok()) {
        state.SkipWithError(s.ToString().c_str());
        return;
      }
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * Data().size()));
  state.counters["ratio"] =
      static_cast<double>(Data().size()) / static_cast<double>(p.packed_bytes);
}

void BM_Encode(benchmark::State& state, ChunkType type) {
  const auto& data = Data();
  for (auto _ : state) {
    for (size_t at = 0; at < data.size(); at += kChunkBytes) {
      auto r = CompressChunk(type, -1, std::span(data).subspan(at, kChunkBytes));
      if (!r.ok()) {
        state.SkipWithError(r.status().ToString().c_str());
        return;
      }
      benchmark::DoNotOptimize(r->data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}

// A file removed at exit.
struct TempFile {
  std::string path;
  TempFile() = default;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (!path.empty()) {
      std::remove(path.c_str());
    }
  }
};

// The LZFSE DMG for the 7-Zip comparison, written once to $TMPDIR.
const std::string& LzfseDmgPath() {
  static TempFile file;
  if (file.path.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    const std::string p = std::string(tmp != nullptr ? tmp : "/tmp") + "/imgfs-bench-lzfse-" +
                          std::to_string(::getpid()) + ".dmg";
    const auto bytes = testing::BuildTestDmg(PackedFor(ChunkType::kLzfse).chunks);
    std::FILE* f = std::fopen(p.c_str(), "wb");
    if (f != nullptr) {
      if (std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size()) {
        file.path = p;
      }
      std::fclose(f);
    }
  }
  return file.path;
}

double ChildCpuSeconds() {
  struct rusage ru {};
  ::getrusage(RUSAGE_CHILDREN, &ru);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

// 7-Zip reading the whole DMG (decode + CRC-32 check), wall time per run.
void BM_SevenZipLzfseDmg(benchmark::State& state) {
  if (std::system("command -v 7zz >/dev/null 2>&1") != 0) {
    state.SkipWithError("7zz not installed");
    return;
  }
  const std::string& path = LzfseDmgPath();
  if (path.empty()) {
    state.SkipWithError("cannot write the LZFSE DMG");
    return;
  }
  const std::string cmd = "7zz t -tdmg " + path + " >/dev/null 2>&1";
  double child_cpu_seconds = 0;
  for (auto _ : state) {
    const double cpu0 = ChildCpuSeconds();
    const auto t0 = std::chrono::steady_clock::now();
    if (std::system(cmd.c_str()) != 0) {
      state.SkipWithError("7zz t failed");
      return;
    }
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    child_cpu_seconds += ChildCpuSeconds() - cpu0;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * Data().size()));
  // 7-Zip's own CPU time (user + system of the child), comparable with the
  // CPU-time rate of BM_Decode/lzfse on a loaded machine.
  state.counters["child_cpu_MiB/s"] = static_cast<double>(state.iterations()) *
                                      static_cast<double>(Data().size()) / 1048576.0 /
                                      child_cpu_seconds;
}

BENCHMARK_CAPTURE(BM_Decode, adc, ChunkType::kAdc)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, zlib, ChunkType::kZlib)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, bzip2, ChunkType::kBzip2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, lzma, ChunkType::kLzma)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, lzfse, ChunkType::kLzfse)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, adc, ChunkType::kAdc)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, zlib, ChunkType::kZlib)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, bzip2, ChunkType::kBzip2)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, lzma, ChunkType::kLzma)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, lzfse, ChunkType::kLzfse)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SevenZipLzfseDmg)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace imgfs::dmg

BENCHMARK_MAIN();
