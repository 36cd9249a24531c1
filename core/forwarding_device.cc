// SPDX-License-Identifier: MIT
#include "core/forwarding_device.h"

#include <utility>

namespace imgfs {

ForwardingBlockDevice::ForwardingBlockDevice(std::unique_ptr<BlockDevice> target)
    : owned_(std::move(target)), target_(owned_.get()), writable_target_(owned_.get()) {}

ForwardingBlockDevice::ForwardingBlockDevice(const BlockDevice* target)
    : target_(target), writable_target_(nullptr) {}

uint64_t ForwardingBlockDevice::Size() const { return target_->Size(); }

Status ForwardingBlockDevice::Read(uint64_t offset, std::span<std::byte> dst) const {
  return target_->Read(offset, dst);
}

Status ForwardingBlockDevice::Write(uint64_t offset, std::span<const std::byte> src) {
  if (writable_target_ == nullptr) {
    return BlockDevice::Write(offset, src);
  }
  return writable_target_->Write(offset, src);
}

Status ForwardingBlockDevice::Discard(uint64_t offset, uint64_t length_bytes) {
  if (writable_target_ == nullptr) {
    return BlockDevice::Discard(offset, length_bytes);
  }
  return writable_target_->Discard(offset, length_bytes);
}

Status ForwardingBlockDevice::Flush() {
  if (writable_target_ == nullptr) {
    return BlockDevice::Flush();
  }
  return writable_target_->Flush();
}

Status ForwardingBlockDevice::Extents(uint64_t offset, uint64_t length,
                                      std::vector<Extent>* out) const {
  return target_->Extents(offset, length, out);
}

ImageInfo ForwardingBlockDevice::Describe() const { return target_->Describe(); }

const BlockDevice* ForwardingBlockDevice::backing() const { return target_->backing(); }

Result<std::unique_ptr<BlockDevice>> ForwardingBlockDevice::OpenSnapshot(
    std::string_view id_or_name) const {
  return target_->OpenSnapshot(id_or_name);
}

Result<CheckReport> ForwardingBlockDevice::Check() const { return target_->Check(); }

}  // namespace imgfs
