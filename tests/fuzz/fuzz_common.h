// SPDX-License-Identifier: MIT
// Shared driving code for the libFuzzer targets: exercise every read-only
// entry point of an opened BlockDevice with bounded work, so that a hostile
// header claiming a 2 EiB disk cannot turn one input into a minutes-long run,
// and trap on a broken contract: Extents answers that leave gaps, overlap,
// do not advance or overrun, zero extents that read as non-zero, and two
// reads of the same bytes that disagree.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "core/block_device.h"

namespace imgfs::fuzz {

// Devices up to this virtual size are read whole; bigger ones are sampled.
inline constexpr uint64_t kFullReadLimitBytes = 64ull << 20;
// Read chunk: odd-sized on purpose so reads straddle cluster boundaries.
inline constexpr uint64_t kChunkBytes = (256u << 10) + 512 + 3;
// Bytes read at each end of a sampled device.
inline constexpr uint64_t kEdgeBytes = 1ull << 20;
// Sampled reads spread over the middle of a big device.
inline constexpr int kSamples = 64;
inline constexpr uint64_t kSampleBytes = 4096 + 7;
// Extents collected before giving up (bounds memory for pathological maps).
inline constexpr size_t kMaxExtents = 1 << 16;
// Extent queries made before giving up.
inline constexpr int kMaxExtentCalls = 4096;
// Scattered small reads per device, each at most kScatterMaxBytes, each
// checked against a read of kWideBytes around it.
inline constexpr uint64_t kScatterReads = 64;
inline constexpr size_t kScatterMaxBytes = 4099;
inline constexpr uint64_t kWideBytes = 64u << 10;

// Reads [offset, offset + length) in chunks; errors are expected outputs.
inline void ReadRange(const BlockDevice& dev, uint64_t offset, uint64_t length) {
  std::vector<std::byte> buf(static_cast<size_t>(std::min(length, kChunkBytes)));
  while (length > 0) {
    const uint64_t n = std::min<uint64_t>(length, buf.size());
    if (!dev.Read(offset, std::span<std::byte>(buf.data(), static_cast<size_t>(n))).ok()) {
      return;
    }
    offset += n;
    length -= n;
  }
}

// A few small reads that do not continue one another, made before anything
// is cached: formats may serve them apart from streams (qcow2 inflates only
// the prefix of a zlib cluster that such a read needs).
inline void SmallReads(const BlockDevice& dev) {
  const uint64_t size = dev.Size();
  std::byte buf[1000];
  for (uint64_t offset : {size / 3 + 100, uint64_t{300}, size / 2 + 40000, size / 7}) {
    if (offset < size) {
      (void)dev.Read(offset, std::span<std::byte>(buf, static_cast<size_t>(std::min<uint64_t>(
                                                           sizeof buf, size - offset))));
    }
  }
}

// Reads the whole device when small, else its ends and samples in between.
inline void ReadDevice(const BlockDevice& dev) {
  const uint64_t size = dev.Size();
  SmallReads(dev);
  if (size <= kFullReadLimitBytes) {
    ReadRange(dev, 0, size);
    return;
  }
  ReadRange(dev, 0, kEdgeBytes);
  ReadRange(dev, size - kEdgeBytes, kEdgeBytes);
  const uint64_t stride = size / (kSamples + 1);
  for (int i = 1; i <= kSamples; ++i) {
    const uint64_t offset = stride * static_cast<uint64_t>(i);
    ReadRange(dev, offset, std::min(kSampleBytes, size - offset));
  }
  // One read that is not sector-aligned and crosses the end.
  std::byte past[16];
  (void)dev.Read(size - 8, past);
}

// Aborts: the device broke a contract of BlockDevice (a real bug).
inline void Check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

// Checks one successful Extents(offset, length) call that appended
// out[before..]: a non-empty prefix of the range, in order, without gaps or
// overlaps, no empty extent; extents said to be zero read as zeros.
inline void CheckExtents(const BlockDevice& dev, uint64_t offset, uint64_t length,
                         const std::vector<Extent>& out, size_t before) {
  Check(out.size() > before);
  uint64_t at = offset;
  std::byte buf[512];
  for (size_t i = before; i < out.size(); ++i) {
    const Extent& e = out[i];
    Check(e.offset == at && e.length > 0 && e.length <= offset + length - at);
    if (e.kind == ExtentKind::kZero) {
      const auto n = static_cast<size_t>(std::min<uint64_t>(sizeof buf, e.length));
      if (dev.Read(e.offset, std::span<std::byte>(buf, n)).ok()) {
        Check(std::all_of(buf, buf + n, [](std::byte b) { return b == std::byte{0}; }));
      }
    }
    at = e.offset + e.length;
  }
}

// Walks the allocation map with a bound on calls and collected extents,
// checking every answer's contract.
inline void WalkExtents(const BlockDevice& dev) {
  const uint64_t size = dev.Size();
  std::vector<Extent> extents;
  uint64_t offset = 0;
  for (int calls = 0; offset < size && calls < kMaxExtentCalls && extents.size() < kMaxExtents;
       ++calls) {
    const size_t before = extents.size();
    if (!dev.Extents(offset, size - offset, &extents).ok()) {
      return;  // errors are expected outputs for hostile input
    }
    CheckExtents(dev, offset, size - offset, extents, before);
    offset = extents.back().offset + extents.back().length;
  }
}

// Small reads of odd sizes scattered over the whole device, each compared
// with the same bytes inside a larger read around it: two reads of one byte
// must agree (a cache, read-around or partial-inflate bug shows here).
inline void ScatteredReads(const BlockDevice& dev) {
  const uint64_t size = dev.Size();
  if (size == 0) {
    return;
  }
  std::vector<std::byte> wide(static_cast<size_t>(std::min<uint64_t>(size, kWideBytes)));
  std::byte small[kScatterMaxBytes];
  const uint64_t stride = size / kScatterReads + 1;
  for (uint64_t i = 0; i < kScatterReads; ++i) {
    // Offsets walk the device in order, nudged off any alignment.
    const uint64_t offset = std::min(size - 1, i * stride + (i * 7919) % stride);
    const auto n =
        static_cast<size_t>(std::min<uint64_t>(1 + (i * 131) % kScatterMaxBytes, size - offset));
    const uint64_t wide_at =
        std::min(offset - std::min(offset, uint64_t{3000}), size - wide.size());
    if (!dev.Read(offset, std::span<std::byte>(small, n)).ok() || !dev.Read(wide_at, wide).ok()) {
      continue;
    }
    Check(std::memcmp(small, wide.data() + (offset - wide_at), n) == 0);
  }
}

// Everything a read-only user of the device can do.
inline void Exercise(const BlockDevice& dev) {
  ReadDevice(dev);
  ScatteredReads(dev);
  WalkExtents(dev);
  if (dev.Size() > 0) {
    std::vector<Extent> small;
    (void)CollectExtents(dev, 0, std::min<uint64_t>(dev.Size(), kFullReadLimitBytes), &small);
  }
  ImageInfo info = dev.Describe();
  (void)info.format_specific.dump();
  (void)dev.Check();
}

}  // namespace imgfs::fuzz
