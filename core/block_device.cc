// SPDX-License-Identifier: MIT
#include "core/block_device.h"

#include <algorithm>
#include <cstring>

#include "core/io/file.h"
#include "core/util/checked.h"
#include "core/util/hex.h"

namespace imgfs {

ImageInfo FileImageInfo(std::string_view format, const File& file, uint64_t virtual_size) {
  ImageInfo info;
  info.format = format;
  info.filename = file.name();
  info.virtual_size = virtual_size;
  auto allocated = file.AllocatedBytes();
  info.actual_size = allocated.ok() ? *allocated : 0;
  return info;
}

Status BlockDevice::Write(uint64_t /*offset*/, std::span<const std::byte> /*src*/) {
  return ReadOnlyError("device is read-only");
}

Status BlockDevice::Discard(uint64_t /*offset*/, uint64_t /*length_bytes*/) {
  return ReadOnlyError("device is read-only");
}

Status BlockDevice::Flush() { return Status::Ok(); }

Result<std::unique_ptr<BlockDevice>> BlockDevice::OpenSnapshot(std::string_view /*id*/) const {
  return UnsupportedError(Describe().format + ": format has no internal snapshots");
}

Result<CheckReport> BlockDevice::Check() const {
  CheckReport report;
  report.checked.push_back(Describe().format + ": header (no further metadata to check)");
  return report;
}

Status ReadOrZero(const BlockDevice* dev, uint64_t offset, std::span<std::byte> dst) {
  uint64_t avail = 0;
  if (dev != nullptr && offset < dev->Size()) {
    avail = std::min<uint64_t>(dst.size(), dev->Size() - offset);
    IMGFS_RETURN_IF_ERROR(dev->Read(offset, dst.first(avail)));
  }
  if (avail < dst.size()) {
    std::memset(dst.data() + avail, 0, dst.size() - avail);
  }
  return Status::Ok();
}

Status CheckRange(uint64_t offset, uint64_t length, uint64_t size) {
  if (!RangeWithin(offset, length, size)) {
    return OutOfRangeError("range " + Hex(offset) + "+" + Hex(length) +
                           " is outside the device (size " + Hex(size) + ")");
  }
  return Status::Ok();
}

void CoalesceExtents(std::vector<Extent>* extents, size_t first) {
  std::vector<Extent>& v = *extents;
  size_t w = first;
  for (size_t r = first; r < v.size(); ++r) {
    if (w > first) {
      Extent& last = v[w - 1];
      const Extent& cur = v[r];
      bool same = last.kind == cur.kind && last.depth == cur.depth &&
                  last.compressed == cur.compressed && last.offset + last.length == cur.offset &&
                  last.host_offset.has_value() == cur.host_offset.has_value() &&
                  (!last.host_offset || *last.host_offset + last.length == *cur.host_offset);
      if (same) {
        last.length += cur.length;
        continue;
      }
    }
    v[w++] = v[r];
  }
  v.resize(w);
}

Status CollectExtents(const BlockDevice& dev, uint64_t offset, uint64_t length,
                      std::vector<Extent>* out) {
  IMGFS_RETURN_IF_ERROR(CheckRange(offset, length, dev.Size()));
  uint64_t end = offset + length;
  while (offset < end) {
    size_t before = out->size();
    IMGFS_RETURN_IF_ERROR(dev.Extents(offset, end - offset, out));
    if (out->size() == before) {
      return InternalError("extent query at " + Hex(offset) + " made no progress");
    }
    const Extent& last = out->back();
    if (last.offset + last.length <= offset) {
      return InternalError("extent query at " + Hex(offset) + " made no progress");
    }
    offset = last.offset + last.length;
  }
  CoalesceExtents(out);
  return Status::Ok();
}

}  // namespace imgfs
