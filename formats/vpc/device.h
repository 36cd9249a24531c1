// SPDX-License-Identifier: MIT
// The VHD BlockDevice over an opened image: fixed disks map straight onto
// the file, dynamic and differencing disks through the BAT. For a
// differencing disk the sector bitmap in front of each block decides, per
// 512-byte sector, between this image and its parent; for a dynamic disk
// the bitmap is ignored and an allocated block is read whole, as QEMU does.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/block_device.h"
#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "core/io/file.h"
#include "formats/vpc/header.h"
#include "formats/vpc/parent.h"

namespace imgfs::vpc {

// Which copy of the footer was read (docs: the one at the end is the
// footer, the one at offset 0 of dynamic disks its copy).
enum class FooterSource : uint8_t { kTail, kHead };

// Everything an open image is made of; immutable once opened.
struct Image {
  std::unique_ptr<File> file;
  uint64_t file_size = 0;
  Footer footer;
  FooterSource footer_source = FooterSource::kTail;
  // Why the tail footer was not used, when footer_source == kHead.
  std::string tail_problem;
  // The copy at offset 0 when the footer came from the tail (dynamic and
  // differencing disks), for `check`.
  std::optional<Footer> head_copy;
  DiskType type = DiskType::kFixed;
  VirtualSize size;
  // Dynamic and differencing disks only.
  DynamicHeader header;
  std::vector<uint32_t> bat;  // the entries covering the virtual size
  // Differencing disks: the parent's locators, the name that was opened (or
  // would be, under --no-backing) and its resolved path, and the parent.
  std::vector<LocatorPath> locators;
  std::string parent_ref;
  std::string full_parent_path;
  std::unique_ptr<BlockDevice> parent;
  Cache* cache = nullptr;  // outlives the device
  uint64_t cache_id = 0;
  ThreadPool* pool = nullptr;  // not owned; may be null
};

// The device over `image`. Read-only; thread-safe for reads.
std::unique_ptr<BlockDevice> NewDevice(std::unique_ptr<Image> image);

// The metadata check of `image` (check.cc): the footer and its copy,
// checksums, BAT entries past the end of the file or overlapping.
CheckReport CheckImage(const Image& image);

// Host offset of the data of block `entry` (a BAT value), past its bitmap.
inline uint64_t BlockDataOffset(uint32_t entry, uint32_t block_bytes) {
  return uint64_t{entry} * 512 + BitmapBytes(block_bytes);
}

}  // namespace imgfs::vpc
