// SPDX-License-Identifier: MIT
// libFuzzer target for the cloop driver: opens the input from memory as a
// cloop image with a small cache and no pool, reads the device (whole, or
// sampled when huge), walks its extents, describes and checks it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/cache/cache.h"
#include "core/io/file.h"
#include "formats/open.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

// Small enough that decoded blocks are evicted on ordinary inputs.
constexpr uint64_t kCacheBytes = 256u << 10;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::Cache cache(kCacheBytes);
  imgfs::OpenOptions options;
  options.format = "cloop";
  auto dev = imgfs::OpenImageFile(
      imgfs::NewMemoryFile("fuzz.cloop", std::string(reinterpret_cast<const char*>(data), size)),
      options, &cache);
  if (dev.ok()) {
    imgfs::fuzz::Exercise(**dev);
  }
  return 0;
}
