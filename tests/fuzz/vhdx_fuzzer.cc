// SPDX-License-Identifier: MIT
// libFuzzer target for the vhdx driver: opens the input from memory as
// vhdx with a small cache (headers, region table, metadata, log replay),
// reads the device (whole, or sampled when huge), walks its allocation map,
// describes and checks it. Parents are not followed (follow_backing =
// false), so a differencing image is read as its top layer and the target
// never touches the host.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/cache/cache.h"
#include "core/io/file.h"
#include "formats/open.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

// Small enough that eviction paths run on ordinary inputs.
constexpr uint64_t kCacheBytes = 1u << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::Cache cache(kCacheBytes);
  imgfs::OpenOptions options;
  options.format = "vhdx";
  options.follow_backing = false;
  auto dev = imgfs::OpenImageFile(
      imgfs::NewMemoryFile("fuzz.vhdx", std::string(reinterpret_cast<const char*>(data), size)),
      options, &cache);
  if (!dev.ok()) {
    return 0;
  }
  imgfs::fuzz::Exercise(**dev);
  return 0;
}
