// SPDX-License-Identifier: MIT
// libFuzzer target for the vdi driver: opens the input from memory as vdi
// with a small cache, reads the device (whole, or sampled when huge), walks
// its allocation map, describes and checks it. Parents of differencing
// images are not looked for (follow_backing = false), so such an image is
// still read as its top layer and the target never touches the host.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/format_fuzz.h"

// Small enough that block map pieces (64 KiB each) are evicted on ordinary inputs.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::fuzz::ExerciseFormat("vdi", data, size, 256u << 10);
  return 0;
}
