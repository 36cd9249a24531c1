// SPDX-License-Identifier: MIT
// libFuzzer target for the vpc (VHD) driver: opens the input from memory as
// vpc with a small cache, reads the device (whole, or sampled when huge),
// walks its allocation map, describes and checks it. Parents of
// differencing disks are not followed (follow_backing = false), so their
// locators are parsed but the target never touches the host.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/format_fuzz.h"

// Small enough that eviction of sector bitmaps runs on ordinary inputs.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::fuzz::ExerciseFormat("vpc", data, size, 1u << 16);
  return 0;
}
