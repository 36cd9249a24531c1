// SPDX-License-Identifier: MIT
// libFuzzer target for the qcow2 driver: opens the input from memory as
// qcow2 with a small cache, reads the device (whole, or sampled when huge),
// walks its allocation map, describes and checks it, and opens every listed
// internal snapshot the same way. Backing files are not followed
// (follow_backing = false), so an image naming one is still read as its top
// layer; external data files are refused by OpenImageFile, so the target
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
// Snapshots opened per input (the snapshot table itself is bounded by the driver).
constexpr size_t kMaxSnapshots = 16;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::Cache cache(kCacheBytes);
  imgfs::OpenOptions options;
  options.format = "qcow2";
  options.follow_backing = false;
  options.metadata_only = true;  // encrypted images open without a passphrase
  auto dev = imgfs::OpenImageFile(
      imgfs::NewMemoryFile("fuzz.qcow2", std::string(reinterpret_cast<const char*>(data), size)),
      options, &cache);
  if (!dev.ok()) {
    return 0;
  }
  imgfs::fuzz::Exercise(**dev);
  const imgfs::ImageInfo info = (*dev)->Describe();
  for (size_t i = 0; i < info.snapshots.size() && i < kMaxSnapshots; ++i) {
    auto snap = (*dev)->OpenSnapshot(info.snapshots[i].id);
    if (snap.ok()) {
      imgfs::fuzz::Exercise(**snap);
    }
  }
  return 0;
}
