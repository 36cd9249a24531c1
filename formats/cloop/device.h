// SPDX-License-Identifier: MIT
// The cloop BlockDevice: every block is one chunk of the compressed-chunk
// engine (core/chunk/chunk_engine.h), which inflates each once, caches it
// in the shared Cache (CacheKind::kDecoded) and inflates ahead of
// sequential streams on the pool.
#pragma once

#include <memory>
#include <vector>

#include "core/block_device.h"
#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "core/io/file.h"
#include "formats/cloop/header.h"

namespace imgfs::cloop {

struct Image {
  Head head;
  std::vector<Block> blocks;  // head.block_count of them, in disk order
  std::unique_ptr<File> file;
  Cache* cache = nullptr;      // not owned; outlives the device
  ThreadPool* pool = nullptr;  // not owned; null: no read-ahead
};

// The device over `image`. Read-only; thread-safe. A block that does not
// decode to exactly block_size bytes fails the reads that meet it
// (kCorrupt, naming the block).
std::unique_ptr<BlockDevice> NewDevice(Image image);

}  // namespace imgfs::cloop
