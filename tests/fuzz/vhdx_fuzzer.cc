// SPDX-License-Identifier: MIT
// libFuzzer target for the vhdx driver: opens the input from memory as
// vhdx with a small cache (headers, region table, metadata, log replay),
// reads the device (whole, or sampled when huge), walks its allocation map,
// describes and checks it. Parents are not followed (follow_backing =
// false), so a differencing image is read as its top layer and the target
// never touches the host.
//
// libFuzzer keeps inputs under 1 MiB, but a VHDX puts its log, metadata,
// BAT and blocks at 1 MiB boundaries past a 1 MiB header section. So the
// input is a compacted image (tests/formats/vhdx/make_vhdx_seeds.cc writes
// the seeds so): its first 320 KiB are the file's first 320 KiB (file type
// identifier, both headers, both region tables), and each following 72 KiB
// window is the start of the next MiB of the file (MiB 1, 2, ...); the rest
// of each MiB reads as zeros. Inputs of 320 KiB or less are the file itself.
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
constexpr size_t kHeadBytes = 320 << 10;
constexpr size_t kWindowBytes = 72 << 10;  // a 64 KiB table and its first items
constexpr size_t kMiB = 1 << 20;

std::string Expand(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  if (size <= kHeadBytes) {
    return std::string(p, size);
  }
  const size_t windows = (size - kHeadBytes + kWindowBytes - 1) / kWindowBytes;
  std::string file((windows + 1) * kMiB, '\0');
  file.replace(0, kHeadBytes, p, kHeadBytes);
  for (size_t w = 0; w < windows; ++w) {
    const size_t from = kHeadBytes + w * kWindowBytes;
    const size_t n = size - from < kWindowBytes ? size - from : kWindowBytes;
    file.replace((w + 1) * kMiB, n, p + from, n);
  }
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::Cache cache(kCacheBytes);
  imgfs::OpenOptions options;
  options.format = "vhdx";
  options.follow_backing = false;
  auto dev =
      imgfs::OpenImageFile(imgfs::NewMemoryFile("fuzz.vhdx", Expand(data, size)), options, &cache);
  if (!dev.ok()) {
    return 0;
  }
  imgfs::fuzz::Exercise(**dev);
  return 0;
}
