// SPDX-License-Identifier: MIT
// raw read throughput through OpenImage, as the floor the other formats are
// compared with. Needs no external tool.
#include "tests/bench/read_bench.h"

using namespace imgfs::bench;  // NOLINT(google-build-using-namespace): see the macro

IMGFS_READ_BENCHMARKS(raw, Variant::kRaw);

BENCHMARK_MAIN();
