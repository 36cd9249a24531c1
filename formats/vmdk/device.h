// SPDX-License-Identifier: MIT
// The vmdk BlockDevice: the extents of one disk (sparse, flat, zero) laid
// end to end in descriptor order, over the block-map engine; compressed
// grains (streamOptimized) go through the compressed-chunk engine.
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
#include "formats/vmdk/descriptor.h"
#include "formats/vmdk/header.h"

namespace imgfs::vmdk {

// One extent, opened. Immutable after Open.
struct Extent {
  ExtentLine line;                   // as the descriptor lists it
  std::string path;                  // resolved file name, for info; "" for ZERO
  uint64_t first_byte = 0;           // guest offset of its first byte
  uint64_t bytes = 0;                // guest bytes it covers
  std::shared_ptr<const File> file;  // null for ZERO
  uint64_t flat_offset_bytes = 0;    // FLAT, VMFS
  // SPARSE (KDMV): the header in use (the footer's when the grain
  // directory is at the end) and the grain directory. A seSparse file
  // (header.sesparse) keeps its raw 64-bit directory entries in se_gd.
  SparseHeader header;
  std::vector<uint32_t> gd;
  std::vector<uint64_t> se_gd;
  uint64_t file_bytes = 0;  // sparse extents: the file's size when opened
  // Mapped through a grain directory (SPARSE, VMFSSPARSE or SESPARSE, opened).
  bool sparse() const {
    return file != nullptr &&
           (line.type == ExtentType::kSparse || line.type == ExtentType::kVmfsSparse ||
            line.type == ExtentType::kSeSparse);
  }
};

// Everything an open disk is made of. Immutable after Open.
struct Image {
  Descriptor descriptor;
  bool embedded_descriptor = false;  // the descriptor lives in a sparse extent
  std::string filename;
  std::vector<Extent> extents;  // in guest order, contiguous from 0
  // The parent (parentFileNameHint), or null: none, or --no-backing.
  std::shared_ptr<const BlockDevice> backing;
  std::string full_backing_filename;
  // The parent's CID when it is a vmdk, for the parentCID check.
  std::optional<uint32_t> parent_cid_seen;
  Cache* cache = nullptr;
  ThreadPool* pool = nullptr;
  ReadAroundMode read_around = ReadAroundMode::kAuto;
  uint64_t size_bytes() const;
};

// Loads a sparse extent's header (KDMV, the footer's for "GD at end"; COWD;
// or seSparse, by the file's magic) and grain directory into `e`. kCorrupt
// for a header or directory past the end of the file, kUnsupported over
// the caps or for a seSparse journal that must be replayed.
Status LoadSparseExtent(Extent* e);

// The disk. Read-only; thread-safe for reads.
std::unique_ptr<BlockDevice> NewDevice(std::shared_ptr<const Image> image);

}  // namespace imgfs::vmdk
