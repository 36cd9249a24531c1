// SPDX-License-Identifier: MIT
// A read-only window onto part of another BlockDevice: a partition shown on
// its own (`mount --partitions`), or a range handed to a writer.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/forwarding_device.h"
#include "core/partition/partition_table.h"
#include "core/util/hex.h"

namespace imgfs {
namespace {

// Thread-safety: as safe as the base (reads only; no state of its own).
// Offsets are translated; writes are refused (the base is borrowed const),
// and Check is the whole disk's.
class SliceDevice final : public ForwardingBlockDevice {
 public:
  SliceDevice(const BlockDevice* base, uint64_t offset, uint64_t length)
      : ForwardingBlockDevice(base), offset_(offset), length_(length) {}

  uint64_t Size() const override { return length_; }

  Status Read(uint64_t offset, std::span<std::byte> dst) const override {
    IMGFS_RETURN_IF_ERROR(CheckRange(offset, dst.size(), length_));
    return target().Read(offset_ + offset, dst);
  }

  // The base's extents, shifted into the window and clipped to it.
  Status Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const override {
    IMGFS_RETURN_IF_ERROR(CheckRange(offset, length, length_));
    std::vector<Extent> base_extents;
    IMGFS_RETURN_IF_ERROR(target().Extents(offset_ + offset, length, &base_extents));
    const uint64_t lo = offset_ + offset;
    const uint64_t hi = lo + length;
    bool added = false;
    for (Extent e : base_extents) {
      const uint64_t start = std::max(e.offset, lo);
      const uint64_t end = std::min(e.offset + e.length, hi);
      if (start >= end) {
        continue;
      }
      if (e.host_offset) {
        *e.host_offset += start - e.offset;
      }
      e.offset = start - offset_;
      e.length = end - start;
      out->push_back(e);
      added = true;
    }
    if (!added) {
      return InternalError("slice: the base device described nothing at " + Hex(lo));
    }
    return Status::Ok();
  }

  ImageInfo Describe() const override {
    ImageInfo whole = target().Describe();
    ImageInfo info;
    info.format = whole.format;
    info.filename = whole.filename;
    info.virtual_size = length_;
    info.actual_size = whole.actual_size;
    info.cluster_size = whole.cluster_size;
    info.encryption = whole.encryption;
    info.notes.push_back("a window of " + std::to_string(length_) + " bytes at offset " +
                         std::to_string(offset_) + " of the whole disk");
    return info;
  }

  // A backing device or snapshot of the whole disk speaks the disk's
  // offsets, not the window's: neither is shown through a slice.
  const BlockDevice* backing() const override { return nullptr; }
  Result<std::unique_ptr<BlockDevice>> OpenSnapshot(std::string_view id_or_name) const override {
    return BlockDevice::OpenSnapshot(id_or_name);
  }

 private:
  uint64_t offset_;
  uint64_t length_;
};

}  // namespace

std::unique_ptr<BlockDevice> NewSliceDevice(const BlockDevice* base, uint64_t offset,
                                            uint64_t length) {
  return std::make_unique<SliceDevice>(base, offset, length);
}

}  // namespace imgfs
