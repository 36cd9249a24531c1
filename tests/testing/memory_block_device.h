// SPDX-License-Identifier: MIT
// MemoryBlockDevice: a BlockDevice over bytes in memory with a settable
// allocation map, the test double for code that reads devices (partition
// tables, conversion, FUSE allocation and SEEK_HOLE). Wrap it in a
// FaultyBlockDevice (faulty_block_device.h) to inject errors or make
// Extents answer a few extents at a time.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/block_device.h"

namespace imgfs::testing {

// An extent with no host offset, for scripted maps.
inline Extent Ext(uint64_t offset, uint64_t length, ExtentKind kind) {
  return Extent{offset, length, kind, 0, std::nullopt, false};
}

// Thread-safety: reads and Extents from many threads at once; Write and the
// setters need external serialisation, as for any BlockDevice.
class MemoryBlockDevice : public BlockDevice {
 public:
  // `size_bytes` zero bytes, every one data.
  explicit MemoryBlockDevice(uint64_t size_bytes) : bytes_(size_bytes), size_(size_bytes) {
    info_.format = "memory";
  }
  // `bytes` with allocation map `map`, which must cover [0, bytes.size()) in
  // order without gaps; an empty map means one data extent over everything
  // (with host offsets equal to the offsets).
  explicit MemoryBlockDevice(std::string_view bytes, std::vector<Extent> map = {})
      : bytes_(std::as_bytes(std::span(bytes)).begin(), std::as_bytes(std::span(bytes)).end()),
        size_(bytes.size()),
        map_(std::move(map)) {
    info_.format = "memory";
  }

  uint64_t Size() const override { return size_; }

  // Bytes past the stored ones (see ZeroExtend) read as zeros. Holes read as
  // whatever bytes they hold, as in a real device.
  Status Read(uint64_t offset, std::span<std::byte> dst) const override {
    IMGFS_RETURN_IF_ERROR(CheckRange(offset, dst.size(), size_));
    std::fill(dst.begin(), dst.end(), std::byte{0});
    if (offset < bytes_.size() && !dst.empty()) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(dst.size(), bytes_.size() - offset));
      std::memcpy(dst.data(), bytes_.data() + offset, n);
    }
    return Status::Ok();
  }

  // Writes into the bytes (growing the stored part up to Size()).
  Status Write(uint64_t offset, std::span<const std::byte> src) override {
    IMGFS_RETURN_IF_ERROR(CheckRange(offset, src.size(), size_));
    if (offset + src.size() > bytes_.size()) {
      bytes_.resize(offset + src.size());
    }
    if (!src.empty()) {
      std::memcpy(bytes_.data() + offset, src.data(), src.size());
    }
    return Status::Ok();
  }

  // Every extent of the map that meets the range, clipped to it; host
  // offsets move with a clipped start.
  Status Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const override {
    IMGFS_RETURN_IF_ERROR(CheckRange(offset, length, size_));
    if (map_.empty()) {
      out->push_back({.offset = offset, .length = length, .host_offset = offset});
      return Status::Ok();
    }
    const uint64_t end = offset + length;
    for (Extent e : map_) {
      if (e.offset + e.length <= offset || e.offset >= end) {
        continue;
      }
      const uint64_t start = std::max(e.offset, offset);
      if (e.host_offset) {
        *e.host_offset += start - e.offset;
      }
      e.length = std::min(e.offset + e.length, end) - start;
      e.offset = start;
      out->push_back(e);
    }
    return Status::Ok();
  }

  // info() with virtual_size set to Size().
  ImageInfo Describe() const override {
    ImageInfo info = info_;
    info.virtual_size = size_;
    return info;
  }

  // --- Test setup ---------------------------------------------------------

  // What Describe returns (format "memory" unless a test says otherwise).
  ImageInfo& info() { return info_; }
  // Replaces the allocation map; REQUIRES: it covers [0, Size()) in order
  // without gaps, or is empty (all data).
  void SetExtents(std::vector<Extent> map) { map_ = std::move(map); }
  // Grows the device to `size_bytes`; the new bytes read as zeros without
  // being stored (a 200 MiB hole costs nothing). An empty map grows with it.
  void ZeroExtend(uint64_t size_bytes) { size_ = std::max(size_, size_bytes); }

  // The stored bytes. REQUIRES: offset within them.
  std::byte* at(uint64_t offset) { return bytes_.data() + offset; }
  std::vector<std::byte>& bytes() { return bytes_; }
  void Fill(uint64_t offset, uint64_t length, uint8_t value) {
    std::fill_n(bytes_.begin() + static_cast<ptrdiff_t>(offset), length, std::byte{value});
  }

 private:
  std::vector<std::byte> bytes_;
  uint64_t size_;
  std::vector<Extent> map_;  // empty: all data
  ImageInfo info_;
};

}  // namespace imgfs::testing
