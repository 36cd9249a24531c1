// SPDX-License-Identifier: MIT
// libFuzzer target for the Apple disk image drivers: the input is opened
// from memory as "dmg" and as "sparseimage", forced rather than probed (so
// every input reaches the koly trailer, the XML plist or binary resource
// fork, the mish tables and UDSP headers, even where the probe would say
// raw), then read, mapped, described and checked with bounded work.
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
  for (const char* format : {"dmg", "sparseimage"}) {
    imgfs::Cache cache(kCacheBytes);
    imgfs::OpenOptions options;
    options.format = format;
    auto dev = imgfs::OpenImageFile(
        imgfs::NewMemoryFile("fuzz.dmg", std::string(reinterpret_cast<const char*>(data), size)),
        options, &cache);
    if (dev.ok()) {
      imgfs::fuzz::Exercise(**dev);
    }
  }
  return 0;
}
