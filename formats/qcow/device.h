// SPDX-License-Identifier: MIT
// The qcow (version 1) BlockDevice: a BlockMapDevice whose lookup is the
// L1/L2 table pair (core/blockmap/two_level_table.h), with compressed
// clusters inflated through the ChunkEngine and a backing device below.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/block_device.h"
#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "core/io/file.h"
#include "core/io/read_around.h"
#include "formats/qcow/header.h"

namespace imgfs::qcow {

// Everything an open image is made of. Immutable once the device holds it.
struct Image {
  Header header;
  std::unique_ptr<File> file;
  uint64_t file_size = 0;
  std::string backing_name;       // as stored; empty without one
  std::string full_backing_name;  // resolved against the image's directory
  // The backing device, or null (none, or --no-backing).
  std::unique_ptr<BlockDevice> backing;
  Cache* cache = nullptr;      // not owned; outlives the device
  ThreadPool* pool = nullptr;  // not owned; null: reads on the caller
  ReadAroundMode read_around = ReadAroundMode::kAuto;
};

// The device over `image`. Read-only; reads and Extents are thread-safe.
std::unique_ptr<BlockDevice> NewDevice(Image image);

}  // namespace imgfs::qcow
