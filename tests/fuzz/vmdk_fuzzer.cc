// SPDX-License-Identifier: MIT
// libFuzzer target for the vmdk driver: opens the input from memory as vmdk
// (a sparse extent, a streamOptimized file or a descriptor) with a small
// cache, reads the device (whole, or sampled when huge), walks its
// allocation map, describes and checks it. Parents are not followed
// (follow_backing = false) and extent files are refused by OpenImageFile,
// so the target never touches the host; descriptors of ZERO extents open
// whole.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/format_fuzz.h"

// Small enough that eviction paths run on ordinary inputs.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::fuzz::ExerciseFormat("vmdk", data, size, 1u << 20);
  return 0;
}
