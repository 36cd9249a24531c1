// SPDX-License-Identifier: MIT
// libFuzzer target for the parallels driver: opens the input from memory
// as a parallels expandable image with a small cache, reads the device
// (whole, or sampled when huge), walks its allocation map, describes and
// checks it. Bundles are directories and are fuzzed through their
// descriptor (parallels_descriptor_fuzzer).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/format_fuzz.h"

// Small enough that BAT pieces (64 KiB each) are evicted on ordinary inputs.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::fuzz::ExerciseFormat("parallels", data, size, 256u << 10);
  return 0;
}
