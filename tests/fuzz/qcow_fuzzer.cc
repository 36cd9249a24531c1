// SPDX-License-Identifier: MIT
// libFuzzer target for the qcow (version 1) driver: opens the input from memory as qcow
// with a small cache, reads the device (whole, or sampled when huge), walks
// its allocation map, describes and checks it. Backing files are not
// followed (follow_backing = false), so an image naming one is still read
// as its top layer and the target never touches the host.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/cache/cache.h"
#include "core/io/file.h"
#include "formats/open.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

// Small enough that table pieces (64 KiB at most) are evicted on ordinary inputs.
constexpr uint64_t kCacheBytes = 256u << 10;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::Cache cache(kCacheBytes);
  imgfs::OpenOptions options;
  options.format = "qcow";
  options.follow_backing = false;
  auto dev = imgfs::OpenImageFile(
      imgfs::NewMemoryFile("fuzz.qcow", std::string(reinterpret_cast<const char*>(data), size)),
      options, &cache);
  if (dev.ok()) {
    imgfs::fuzz::Exercise(**dev);
  }
  return 0;
}
