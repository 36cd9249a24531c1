// SPDX-License-Identifier: MIT
// The Bochs redolog BlockDevice: a BlockMapDevice whose lookup is the
// catalog (formats/bochs/header.h), loaded in cached pieces, and each stored
// extent's sector bitmap, cached per extent.
#pragma once

#include <cstdint>
#include <memory>

#include "core/block_device.h"
#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "core/io/file.h"
#include "core/io/read_around.h"
#include "formats/bochs/header.h"

namespace imgfs::bochs {

// Catalog entries loaded (and cached) at once: 64 KiB of catalog.
inline constexpr uint32_t kCatalogChunkEntries = 16384;

// Everything an open image is made of. Immutable once the device holds it.
struct Image {
  Header header;
  std::unique_ptr<File> file;
  uint64_t file_size = 0;
  Cache* cache = nullptr;      // not owned; outlives the device
  ThreadPool* pool = nullptr;  // not owned; null: reads on the caller
  ReadAroundMode read_around = ReadAroundMode::kAuto;
};

// The device over `image`. Read-only; reads and Extents are thread-safe.
// Sectors of unwritten extents and sectors whose bitmap bit is clear read
// as zeros and are reported unallocated (holes).
std::unique_ptr<BlockDevice> NewDevice(Image image);

}  // namespace imgfs::bochs
