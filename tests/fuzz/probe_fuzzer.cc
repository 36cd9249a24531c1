// SPDX-License-Identifier: MIT
// libFuzzer target for format probing: runs ProbeFormat over the input's
// head and tail, then opens it with format autodetection from memory (as
// `imgfs mount` does without --format) and exercises whatever driver won.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/cache/cache.h"
#include "core/io/file.h"
#include "formats/format_driver.h"
#include "formats/open.h"
#include "formats/registry.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

constexpr uint64_t kCacheBytes = 1u << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  imgfs::ProbeInput in;
  in.head = std::span<const std::byte>(bytes, std::min(size, imgfs::kProbeHeadBytes));
  const size_t tail = std::min(size, imgfs::kProbeTailBytes);
  in.tail = std::span<const std::byte>(bytes + size - tail, tail);
  in.file_size = size;
  (void)imgfs::ProbeFormat(in, "fuzz.img");

  imgfs::Cache cache(kCacheBytes);
  imgfs::OpenOptions options;  // empty format: probe by magic
  auto dev = imgfs::OpenImageFile(
      imgfs::NewMemoryFile("fuzz.img", std::string(reinterpret_cast<const char*>(data), size)),
      options, &cache);
  if (dev.ok()) {
    imgfs::fuzz::Exercise(**dev);
  }
  return 0;
}
