// SPDX-License-Identifier: MIT
// libFuzzer target for the parallels driver: opens the input from memory
// as a parallels expandable image with a small cache, reads the device
// (whole, or sampled when huge), walks its allocation map, describes and
// checks it. Bundles are directories and are fuzzed through their
// descriptor (parallels_descriptor_fuzzer).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/cache/cache.h"
#include "core/io/file.h"
#include "formats/open.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

// Small enough that BAT pieces (64 KiB each) are evicted on ordinary inputs.
constexpr uint64_t kCacheBytes = 256u << 10;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::Cache cache(kCacheBytes);
  imgfs::OpenOptions options;
  options.format = "parallels";
  auto dev = imgfs::OpenImageFile(
      imgfs::NewMemoryFile("fuzz.hds", std::string(reinterpret_cast<const char*>(data), size)),
      options, &cache);
  if (dev.ok()) {
    imgfs::fuzz::Exercise(**dev);
  }
  return 0;
}
