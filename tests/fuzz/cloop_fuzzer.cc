// SPDX-License-Identifier: MIT
// libFuzzer target for the cloop driver: opens the input from memory as a
// cloop image with a small cache and no pool, reads the device (whole, or
// sampled when huge), walks its extents, describes and checks it.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/format_fuzz.h"

// Small enough that decoded blocks are evicted on ordinary inputs.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::fuzz::ExerciseFormat("cloop", data, size, 256u << 10);
  return 0;
}
