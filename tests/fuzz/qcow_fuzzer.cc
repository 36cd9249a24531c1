// SPDX-License-Identifier: MIT
// libFuzzer target for the qcow (version 1) driver: opens the input from memory as
// qcow with a small cache, reads the device (whole, or sampled when huge),
// walks its allocation map, describes and checks it. Backing files are not
// followed, so an image naming one is still read as its top layer.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/format_fuzz.h"

// A 256 KiB cache: table pieces (64 KiB at most) are evicted on ordinary inputs.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::fuzz::ExerciseFormat("qcow", data, size, 256u << 10);
  return 0;
}
