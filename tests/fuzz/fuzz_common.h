// SPDX-License-Identifier: MIT
// Shared driving code for the libFuzzer targets: exercise every read-only
// entry point of an opened BlockDevice with bounded work, so that a hostile
// header claiming a 2 EiB disk cannot turn one input into a minutes-long run.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
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

// Walks the allocation map with a bound on calls and collected extents.
inline void WalkExtents(const BlockDevice& dev) {
  const uint64_t size = dev.Size();
  std::vector<Extent> extents;
  uint64_t offset = 0;
  for (int calls = 0; offset < size && calls < kMaxExtentCalls && extents.size() < kMaxExtents;
       ++calls) {
    const size_t before = extents.size();
    if (!dev.Extents(offset, size - offset, &extents).ok() || extents.size() == before) {
      return;
    }
    const Extent& last = extents.back();
    if (last.length == 0 || last.offset + last.length <= offset) {
      return;  // a device that makes no progress; not ours to judge here
    }
    offset = last.offset + last.length;
  }
}

// Everything a read-only user of the device can do.
inline void Exercise(const BlockDevice& dev) {
  ReadDevice(dev);
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
