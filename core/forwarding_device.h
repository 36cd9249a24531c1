// SPDX-License-Identifier: MIT
// ForwardingBlockDevice: a BlockDevice that passes every call to another
// one, the base of devices that wrap a device and change a little of it
// (partition slices, notes added by formats/open.cc, LUKS, copy-on-write
// overlays, fault-injecting test doubles). A wrapper overrides only what it
// changes, so a method added to BlockDevice later reaches the inner device
// through every wrapper without editing each.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/block_device.h"

namespace imgfs {

// Thread-safety: as safe as the inner device; the base adds no state.
class ForwardingBlockDevice : public BlockDevice {
 public:
  // Owns `target`. REQUIRES: target != nullptr.
  explicit ForwardingBlockDevice(std::unique_ptr<BlockDevice> target);
  // Borrows `target`, which must outlive this device. Write, Discard and
  // Flush return kReadOnly (the BlockDevice default): a borrowed device is
  // reached through a const pointer. REQUIRES: target != nullptr.
  explicit ForwardingBlockDevice(const BlockDevice* target);

  uint64_t Size() const override;
  Status Read(uint64_t offset, std::span<std::byte> dst) const override;
  Status Write(uint64_t offset, std::span<const std::byte> src) override;
  Status Discard(uint64_t offset, uint64_t length_bytes) override;
  Status Flush() override;
  Status Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const override;
  ImageInfo Describe() const override;
  const BlockDevice* backing() const override;
  Result<std::unique_ptr<BlockDevice>> OpenSnapshot(std::string_view id_or_name) const override;
  Result<CheckReport> Check() const override;

  // The device calls go to.
  const BlockDevice& target() const { return *target_; }

 private:
  std::unique_ptr<BlockDevice> owned_;  // null when borrowed
  const BlockDevice* target_;           // never null
  BlockDevice* writable_target_;        // owned_.get(), or null when borrowed
};

}  // namespace imgfs
