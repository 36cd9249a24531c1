// SPDX-License-Identifier: MIT
// The raw format: no container, the file bytes are the disk bytes.
#include "formats/raw/driver.h"

#include <algorithm>
#include <cstring>

#include "core/util/checked.h"

namespace imgfs::raw {
namespace {

class RawDevice final : public BlockDevice {
 public:
  RawDevice(std::unique_ptr<File> file, uint64_t size) : file_(std::move(file)), size_(size) {}

  uint64_t Size() const override { return size_; }

  Status Read(uint64_t offset, std::span<std::byte> dst) const override {
    IMGFS_RETURN_IF_ERROR(CheckRange(offset, dst.size(), size_));
    IMGFS_ASSIGN_OR_RETURN(size_t n, file_->ReadAt(offset, dst));
    if (n < dst.size()) {  // file shrank under us: the rest reads as zeros
      std::memset(dst.data() + n, 0, dst.size() - n);
    }
    return Status::Ok();
  }

  Status Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const override {
    IMGFS_RETURN_IF_ERROR(CheckRange(offset, length, size_));
    uint64_t end = offset + length;
    IMGFS_ASSIGN_OR_RETURN(uint64_t data, file_->NextData(offset));
    if (data > offset) {
      uint64_t hole_end = std::min(data, end);
      out->push_back(Extent{offset, hole_end - offset, ExtentKind::kZero, 0, std::nullopt, false});
      return Status::Ok();
    }
    IMGFS_ASSIGN_OR_RETURN(uint64_t hole, file_->NextHole(offset));
    uint64_t data_end = std::min(std::max(hole, offset + 1), end);
    out->push_back(Extent{offset, data_end - offset, ExtentKind::kData, 0, offset, false});
    return Status::Ok();
  }

  ImageInfo Describe() const override {
    ImageInfo info = FileImageInfo("raw", *file_, size_);
    return info;
  }

 private:
  std::unique_ptr<File> file_;
  uint64_t size_;
};

int Probe(const ProbeInput& /*in*/) { return 1; }

Result<std::unique_ptr<BlockDevice>> Open(std::unique_ptr<File> file, const OpenContext& /*ctx*/) {
  IMGFS_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  return NewRawDevice(std::move(file), size);
}

}  // namespace

std::unique_ptr<BlockDevice> NewRawDevice(std::unique_ptr<File> file, uint64_t size_bytes) {
  return std::make_unique<RawDevice>(std::move(file), size_bytes);
}

FormatDriver Driver() {
  return FormatDriver{"raw", "raw disk image (the file is the disk)", &Probe, &Open};
}

}  // namespace imgfs::raw
