// SPDX-License-Identifier: MIT
// qcow2 read throughput through OpenImage: uncompressed (64 KiB clusters),
// zlib-compressed and zstd-compressed images made by `qemu-img convert`
// from the same disk-like data (about 2x compressible). Skips with a reason
// when qemu-img is missing or the qcow2 driver is not in this tree.
//
// The */pool:N cases open the image with a ThreadPool of N workers in
// OpenOptions (as `imgfs mount` does), so large reads inflate and read the
// host in parallel; pool:0 is the same code path without a pool.
#include "tests/bench/read_bench.h"

using namespace imgfs::bench;  // NOLINT(google-build-using-namespace): see the macro

IMGFS_READ_BENCHMARKS(qcow2, Variant::kQcow2);
IMGFS_READ_BENCHMARKS(qcow2_zlib, Variant::kQcow2Zlib);
IMGFS_READ_BENCHMARKS(qcow2_zstd, Variant::kQcow2Zstd);

IMGFS_POOL_BENCHMARK(qcow2, Variant::kQcow2);
IMGFS_POOL_BENCHMARK(qcow2_zlib, Variant::kQcow2Zlib);
IMGFS_POOL_BENCHMARK(qcow2_zstd, Variant::kQcow2Zstd);

BENCHMARK_MAIN();
