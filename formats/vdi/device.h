// SPDX-License-Identifier: MIT
// The VDI BlockDevice: a BlockMapDevice whose lookup is the VDI block map
// (formats/vdi/header.h), loaded in cached pieces, over an optional parent
// (the image a differencing VDI names by UUID).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/block_device.h"
#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "core/io/file.h"
#include "core/io/read_around.h"
#include "formats/vdi/header.h"

namespace imgfs::vdi {

// Block map entries loaded (and cached) at once: 64 KiB of map.
inline constexpr uint32_t kMapChunkEntries = 16384;

// Everything an open image is made of. Immutable once the device holds it.
struct Image {
  Header header;
  std::unique_ptr<File> file;
  uint64_t file_size = 0;
  // The parent device (differencing images), or null: a base image, or
  // --no-backing.
  std::unique_ptr<BlockDevice> parent;
  std::string parent_name;         // the sibling file chosen, as opened
  std::string parent_full_name;    // resolved against the image's directory
  std::vector<std::string> notes;  // how the parent was found, for info
  Cache* cache = nullptr;          // not owned; outlives the device
  ThreadPool* pool = nullptr;      // not owned; null: reads on the caller
  ReadAroundMode read_around = ReadAroundMode::kAuto;
};

// The device over `image`. Read-only; reads and Extents are thread-safe.
std::unique_ptr<BlockDevice> NewDevice(Image image);

}  // namespace imgfs::vdi
