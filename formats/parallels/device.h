// SPDX-License-Identifier: MIT
// The parallels BlockDevice: one BlockMapDevice for a single expandable
// image and for a bundle alike. A disk is a list of storages (a split disk
// has several, each covering its own sector range), and each storage a
// stack of layers, top (the current state) first: expandable images whose
// unallocated clusters read from the layer below, and at the bottom
// possibly a plain (raw) file. A single .hds file is one storage of one
// layer.
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
#include "formats/parallels/header.h"

namespace imgfs::parallels {

// BAT entries loaded (and cached) at once: 64 KiB of BAT.
inline constexpr uint32_t kBatChunkEntries = 16384;

struct Layer {
  bool plain = false;  // a raw file; otherwise an expandable image
  std::string name;    // as the descriptor names it (or the image path)
  std::string guid;    // bundles: the image's GUID
  std::unique_ptr<File> file;
  uint64_t file_size = 0;
  Header header;        // expandable only
  Extension extension;  // expandable only, when header.ext_offset != 0
};

struct Storage {
  uint64_t start_bytes = 0;
  uint64_t end_bytes = 0;
  std::vector<Layer> layers;  // top first; never empty
};

// Everything an open disk is made of. Immutable once the device holds it.
struct Disk {
  uint64_t size_bytes = 0;
  std::vector<Storage> storages;  // sorted, contiguous from 0 to size_bytes
  std::string path;               // the image file or bundle directory
  bool bundle = false;
  // Bundles: what info shows about the descriptor (snapshots, storages).
  nlohmann::json bundle_data;
  std::vector<SnapshotInfo> snapshots;  // bundles: every Shot, in document order
  std::vector<std::string> notes;
  Cache* cache = nullptr;      // not owned; outlives the device
  ThreadPool* pool = nullptr;  // not owned; null: reads on the caller
  ReadAroundMode read_around = ReadAroundMode::kAuto;
};

// Reads the header (and extension) of the expandable image in `file`.
// Errors as DecodeHeader's.
Status ReadLayerHeader(Layer* layer);

// The device over `disk`. Read-only; reads and Extents are thread-safe.
// REQUIRES: disk.storages as documented above.
std::unique_ptr<BlockDevice> NewDevice(Disk disk);

}  // namespace imgfs::parallels
