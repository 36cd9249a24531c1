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
  options.format = "vmdk";
  options.follow_backing = false;
  auto dev = imgfs::OpenImageFile(
      imgfs::NewMemoryFile("fuzz.vmdk", std::string(reinterpret_cast<const char*>(data), size)),
      options, &cache);
  if (!dev.ok()) {
    return 0;
  }
  imgfs::fuzz::Exercise(**dev);
  (void)(*dev)->Describe();
  (void)(*dev)->Check();
  return 0;
}
