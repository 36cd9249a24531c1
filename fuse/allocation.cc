// SPDX-License-Identifier: MIT
#include "fuse/allocation.h"

#include <algorithm>
#include <vector>

namespace imgfs::fusefs {
namespace {

// Calls `visit` for each extent from `offset` to the end of the device until
// it returns true; asks the device a bounded window at a time.
template <typename Visit>
Status WalkExtents(const BlockDevice& dev, uint64_t offset, Visit visit) {
  const uint64_t size = dev.Size();
  std::vector<Extent> extents;
  while (offset < size) {
    extents.clear();
    IMGFS_RETURN_IF_ERROR(dev.Extents(offset, size - offset, &extents));
    uint64_t next = offset;
    for (const Extent& e : extents) {
      if (visit(e)) {
        return Status::Ok();
      }
      next = std::max(next, e.offset + e.length);
    }
    if (next <= offset) {
      return InternalError("extent query made no progress");
    }
    offset = next;
  }
  return Status::Ok();
}

}  // namespace

Result<std::optional<uint64_t>> SeekAllocation(const BlockDevice& dev, uint64_t offset,
                                               bool want_data) {
  const uint64_t size = dev.Size();
  if (offset >= size) {
    return std::optional<uint64_t>();
  }
  std::optional<uint64_t> found;
  IMGFS_RETURN_IF_ERROR(WalkExtents(dev, offset, [&](const Extent& e) {
    bool is_data = e.kind == ExtentKind::kData;
    if (is_data == want_data && e.offset + e.length > offset) {
      found = std::max(e.offset, offset);
      return true;
    }
    return false;
  }));
  if (!found && !want_data) {
    found = size;  // the implicit hole at end of file
  }
  return found;
}

Result<uint64_t> DataBytes(const BlockDevice& dev) {
  uint64_t total = 0;
  IMGFS_RETURN_IF_ERROR(WalkExtents(dev, 0, [&](const Extent& e) {
    if (e.kind == ExtentKind::kData) {
      total += e.length;
    }
    return false;
  }));
  return total;
}

}  // namespace imgfs::fusefs
