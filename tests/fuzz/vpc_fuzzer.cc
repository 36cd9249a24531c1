// SPDX-License-Identifier: MIT
// libFuzzer target for the vpc (VHD) driver: opens the input from memory as
// vpc with a small cache, reads the device (whole, or sampled when huge),
// walks its allocation map, describes and checks it. Parents of
// differencing disks are not followed (follow_backing = false), so their
// locators are parsed but the target never touches the host.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/cache/cache.h"
#include "core/io/file.h"
#include "formats/open.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

// Small enough that eviction of sector bitmaps runs on ordinary inputs.
constexpr uint64_t kCacheBytes = 1u << 16;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::Cache cache(kCacheBytes);
  imgfs::OpenOptions options;
  options.format = "vpc";
  options.follow_backing = false;
  auto dev = imgfs::OpenImageFile(
      imgfs::NewMemoryFile("fuzz.vhd", std::string(reinterpret_cast<const char*>(data), size)),
      options, &cache);
  if (!dev.ok()) {
    return 0;
  }
  imgfs::fuzz::Exercise(**dev);
  return 0;
}
