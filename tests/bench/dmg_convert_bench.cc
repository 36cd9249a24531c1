// SPDX-License-Identifier: MIT
// `convert -O dmg` throughput: WriteDmg from an in-memory disk of
// disk-like data (about 2x compressible, bench_inputs.h) to a sink that
// discards the output, so the figure is the pipeline itself (read, zero
// test, compress, CRC, ordered emit) on 1 and 2 worker threads. Rates are
// per wall-clock second; "CPU" is the whole process's CPU time, so
// wall/CPU shows how busy the workers were.
//   ./dmg_convert_bench --benchmark_filter=UDZO
// IMGFS_BENCH_MIB sets the disk size (default 512).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/exec/thread_pool.h"
#include "formats/dmg/writer.h"
#include "tests/bench/bench_inputs.h"
#include "tests/core/partition/test_disks.h"

namespace imgfs::bench {
namespace {

uint64_t DiskBytes() {
  const char* env = std::getenv("IMGFS_BENCH_MIB");  // NOLINT(concurrency-mt-unsafe): main only
  uint64_t mib = env != nullptr ? std::strtoull(env, nullptr, 10) : 512;
  return (mib == 0 ? 512 : mib) << 20;
}

// Counts what it is given and keeps nothing.
class SinkFile final : public File {
 public:
  Result<size_t> ReadAt(uint64_t, std::span<std::byte>) const override { return size_t{0}; }
  Status WriteAt(uint64_t offset, std::span<const std::byte> src) override {
    size_ = std::max(size_, offset + src.size());
    return Status::Ok();
  }
  Result<uint64_t> Size() const override { return size_; }
  Status Flush() override { return Status::Ok(); }
  Status Truncate(uint64_t size_bytes) override {
    size_ = size_bytes;
    return Status::Ok();
  }
  const std::string& name() const override { return name_; }

 private:
  uint64_t size_ = 0;
  std::string name_ = "<sink>";
};

// The source: all data, held in memory so that reads cost no I/O.
const BlockDevice& Disk() {
  static const testing::MemDisk* disk = [] {
    auto* d = new testing::MemDisk(DiskBytes());
    FillDiskLikeData(7, 0, d->bytes());
    return d;
  }();
  return *disk;
}

void BM_ConvertDmg(benchmark::State& state, dmg::DmgFormat format) {
  const BlockDevice& disk = Disk();
  ThreadPool pool(static_cast<unsigned>(state.range(0)));
  uint64_t out_bytes = 0;
  for (auto _ : state) {
    SinkFile sink;
    dmg::DmgWriteOptions o;
    o.format = format;
    o.pool = &pool;
    auto stats = dmg::WriteDmg(disk, sink, o);
    if (!stats.ok()) {
      state.SkipWithError(stats.status().ToString().c_str());
      return;
    }
    out_bytes = stats->file_bytes;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * disk.Size()));
  state.counters["ratio"] = static_cast<double>(disk.Size()) / static_cast<double>(out_bytes);
}

BENCHMARK_CAPTURE(BM_ConvertDmg, UDZO, dmg::DmgFormat::kUdzo)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime()
    ->MinTime(2);
BENCHMARK_CAPTURE(BM_ConvertDmg, UDRO, dmg::DmgFormat::kUdro)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

}  // namespace
}  // namespace imgfs::bench

BENCHMARK_MAIN();
