// SPDX-License-Identifier: MIT
// libFuzzer target for the bochs driver: opens the input from memory as a
// Bochs growing image with a small cache, reads the device (whole, or
// sampled when huge), walks its allocation map, describes and checks it.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/format_fuzz.h"

// Small enough that catalog pieces (64 KiB each) and bitmaps are evicted on ordinary inputs.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::fuzz::ExerciseFormat("bochs", data, size, 256u << 10);
  return 0;
}
