// SPDX-License-Identifier: MIT
// FaultyBlockDevice: wraps a BlockDevice and injects failures for
// error-path tests (the block-level twin of NewFaultFile in core/io/file.h):
// the Nth read fails, reads touching a range fail, reads of holes fail (to
// catch callers that read what Extents told them to skip), Extents answers
// only a few extents per call (to exercise callers' loops). It counts the
// calls it sees.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/block_device.h"
#include "core/forwarding_device.h"
#include "core/util/hex.h"

namespace imgfs::testing {

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct BlockFaultPlan {
  // The Nth Read (0-based, counting every call) fails with kIOError (EIO).
  int64_t fail_read_at_call = -1;
  // A Read touching any of these ranges fails with kIOError (EIO).
  std::vector<ByteRange> failing_ranges = {};
  // A Read touching an extent the inner device reports as kZero or
  // kUnallocated fails with kInternal ("read of a hole at ...").
  bool fail_reads_of_holes = false;
  // Extents appends at most this many extents per call (0: no limit).
  size_t max_extents_per_call = 0;
};

// Thread-safety: as the inner device; the counters are atomic.
class FaultyBlockDevice : public ForwardingBlockDevice {
 public:
  FaultyBlockDevice(std::unique_ptr<BlockDevice> target, BlockFaultPlan plan)
      : ForwardingBlockDevice(std::move(target)), plan_(std::move(plan)) {}
  // Borrows `target`, which must outlive this device.
  FaultyBlockDevice(const BlockDevice* target, BlockFaultPlan plan)
      : ForwardingBlockDevice(target), plan_(std::move(plan)) {}

  Status Read(uint64_t offset, std::span<std::byte> dst) const override {
    const uint64_t call = reads_.fetch_add(1);
    if (plan_.fail_read_at_call >= 0 && call == static_cast<uint64_t>(plan_.fail_read_at_call)) {
      return IOError("injected error on read " + std::to_string(call) + " at " + Hex(offset), EIO);
    }
    const uint64_t end = offset + dst.size();
    for (const ByteRange& r : plan_.failing_ranges) {
      if (!dst.empty() && r.offset < end && offset < r.offset + r.length) {
        return IOError(
            "injected error reading " + Hex(offset) + " (failing range at " + Hex(r.offset) + ")",
            EIO);
      }
    }
    if (plan_.fail_reads_of_holes && !dst.empty()) {
      std::vector<Extent> map;
      IMGFS_RETURN_IF_ERROR(CollectExtents(target(), offset, dst.size(), &map));
      for (const Extent& e : map) {
        if (e.kind != ExtentKind::kData) {
          return InternalError("read of a hole at " + std::to_string(e.offset));
        }
      }
    }
    IMGFS_RETURN_IF_ERROR(ForwardingBlockDevice::Read(offset, dst));
    bytes_read_.fetch_add(dst.size());
    return Status::Ok();
  }

  Status Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const override {
    extents_calls_.fetch_add(1);
    const size_t first = out->size();
    IMGFS_RETURN_IF_ERROR(ForwardingBlockDevice::Extents(offset, length, out));
    const size_t max = plan_.max_extents_per_call;
    if (max != 0 && out->size() - first > max) {
      out->resize(first + max);
    }
    return Status::Ok();
  }

  // Calls seen so far (failed ones included) and bytes read successfully.
  uint64_t reads() const { return reads_.load(); }
  uint64_t bytes_read() const { return bytes_read_.load(); }
  uint64_t extents_calls() const { return extents_calls_.load(); }

 private:
  const BlockFaultPlan plan_;
  mutable std::atomic<uint64_t> reads_{0};
  mutable std::atomic<uint64_t> bytes_read_{0};
  mutable std::atomic<uint64_t> extents_calls_{0};
};

}  // namespace imgfs::testing
