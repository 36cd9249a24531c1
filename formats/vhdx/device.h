// SPDX-License-Identifier: MIT
// The VHDX BlockDevice: an opened image (headers, regions, metadata, the
// file with its log replayed, the parent device) and the BAT lookup over
// it ([MS-VHDX] 2.5).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/block_device.h"
#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "core/io/file.h"
#include "core/io/read_around.h"
#include "formats/vhdx/header.h"

namespace imgfs::vhdx {

// 2.5.1 BAT entry: state in bits 0-2, the block's file offset in MiB in
// bits 20-63.
inline constexpr uint64_t kBatStateMask = 7;
inline constexpr unsigned kBatOffsetShift = 20;
enum BlockState : uint8_t {
  kNotPresent = 0,  // payload: not in this file (parent or zeros); bitmap: absent
  kUndefined = 1,
  kZero = 2,
  kUnmapped = 3,
  kFullyPresent = 6,  // payload: all stored here; bitmap: present
  kPartiallyPresent = 7,
};

// Everything an open image is made of. Immutable after Open.
struct Image {
  // The file as opened, and the file to read: the same, or the file with its
  // log replayed in memory.
  std::shared_ptr<const File> file;
  std::shared_ptr<const File> view;
  uint64_t view_size = 0;
  Header header;
  int current_header = 0;  // 0 or 1: which copy is current
  RegionTable regions;
  Metadata metadata;
  Geometry geometry;
  std::string creator;
  uint64_t log_entries_replayed = 0;
  // The parent (differencing images), or null (none, or --no-backing).
  std::shared_ptr<const BlockDevice> parent;
  std::string parent_ref;  // the locator path that was used, host form
  std::string full_parent_filename;
  Cache* cache = nullptr;  // outlives the device
  ThreadPool* pool = nullptr;
  std::unique_ptr<const ReadAround> read_around;
};

// The device over `image`. Read-only; thread-safe for reads.
std::unique_ptr<BlockDevice> NewDevice(std::shared_ptr<const Image> image);

}  // namespace imgfs::vhdx
