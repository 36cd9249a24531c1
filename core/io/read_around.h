// SPDX-License-Identifier: MIT
// Read-around for small random reads of an image file that the host page
// cache can hold: the first small read that touches a block (a qcow2
// cluster) asks the host to read the whole block (File::Prefetch, which is
// posix_fadvise WILLNEED for small ranges), so later reads nearby are page
// cache hits. Each block is read around at most once per open image, so the
// extra disk traffic is bounded by the file's size, not by the number of
// reads; files larger than a quarter of the host's available memory are
// never read around, because the page cache could not keep what it read.
// This is what libqcow (qcowmount) gets by reading whole clusters; the
// figures are in docs/BENCHMARKS.md ("Read-around").
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "core/io/file.h"

namespace imgfs {

// Whether images are read around (OpenOptions::read_around; the CLI sets it
// from IMGFS_READ_AROUND for measurements: 0 = kOff, 1 = kAlways).
enum class ReadAroundMode : uint8_t {
  kAuto,    // when the file fits the memory test (ReadAroundPays)
  kOff,     // never
  kAlways,  // regardless of the memory test
};

class ReadAround {
 public:
  // Null when `mode` is kOff, the file cannot be sized, or (kAuto) read-around
  // does not pay for `file` (see ReadAroundPays). `block_bits`: log2 of the
  // block size.
  static std::unique_ptr<ReadAround> ForFile(const File& file, uint32_t block_bits,
                                             ReadAroundMode mode);

  ReadAround(uint64_t file_bytes, uint32_t block_bits);

  // Call before reading [offset, offset + length) of `file` (the file this
  // was made for). Reads of a whole block or more, and blocks read around
  // before, cost one atomic load. Thread-safe.
  void BeforeRead(const File& file, uint64_t offset, uint64_t length) const;

 private:
  // True the first time `block` is claimed (false past the file's end).
  bool Claim(uint64_t block) const;

  const uint32_t block_bits_;
  const uint64_t blocks_;
  const std::unique_ptr<std::atomic<uint64_t>[]> claimed_;  // one bit per block
};

// Whether a file of `file_bytes` is worth reading around on a host with
// `available_bytes` of available memory (MemAvailable).
bool ReadAroundPays(uint64_t file_bytes, uint64_t available_bytes);

// MemAvailable from /proc/meminfo in bytes, or 0 when unknown.
uint64_t HostAvailableMemory();

}  // namespace imgfs
