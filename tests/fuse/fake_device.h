// SPDX-License-Identifier: MIT
// A BlockDevice with a scripted allocation map, for conversion and seek
// tests. Reads of anything but data extents fail, so a test notices when a
// hole is read. Extents() answers at most `max_extents_per_call` extents to
// exercise callers' loops.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "core/block_device.h"

namespace imgfs::testing {

class FakeDevice final : public BlockDevice {
 public:
  // `map` must cover [0, bytes.size()) in order without gaps.
  FakeDevice(std::string bytes, std::vector<Extent> map, size_t max_extents_per_call = 2)
      : bytes_(std::move(bytes)), map_(std::move(map)), max_per_call_(max_extents_per_call) {}

  uint64_t Size() const override { return bytes_.size(); }

  Status Read(uint64_t offset, std::span<std::byte> dst) const override {
    IMGFS_RETURN_IF_ERROR(CheckRange(offset, dst.size(), Size()));
    for (const Extent& e : map_) {
      bool overlaps = e.offset < offset + dst.size() && offset < e.offset + e.length;
      if (overlaps && e.kind != ExtentKind::kData) {
        return InternalError("read of a hole at " + std::to_string(e.offset));
      }
    }
    std::memcpy(dst.data(), bytes_.data() + offset, dst.size());
    return Status::Ok();
  }

  Status Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const override {
    IMGFS_RETURN_IF_ERROR(CheckRange(offset, length, Size()));
    size_t added = 0;
    for (const Extent& e : map_) {
      if (e.offset + e.length <= offset || e.offset >= offset + length) {
        continue;
      }
      Extent clipped = e;
      clipped.offset = std::max(e.offset, offset);
      clipped.length = std::min(e.offset + e.length, offset + length) - clipped.offset;
      out->push_back(clipped);
      if (++added == max_per_call_) {
        break;
      }
    }
    return Status::Ok();
  }

  ImageInfo Describe() const override {
    ImageInfo info;
    info.format = "fake";
    info.virtual_size = Size();
    return info;
  }

 private:
  std::string bytes_;
  std::vector<Extent> map_;
  size_t max_per_call_;
};

inline Extent Ext(uint64_t offset, uint64_t length, ExtentKind kind) {
  return Extent{offset, length, kind, 0, std::nullopt, false};
}

}  // namespace imgfs::testing
