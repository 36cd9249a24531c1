// SPDX-License-Identifier: MIT
// FAT encoding: the bytes of a file allocation table whose chains are
// contiguous runs of clusters (FAT specification 4). Nothing is stored per
// cluster: an entry is computed from the sorted ends of the runs, so a
// 2 TiB FAT32 volume costs memory by its files, not its clusters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "vvfat/geometry.h"

namespace imgfs::vvfat {

class FatTable {
 public:
  // `run_ends`: the last cluster of each chain, ascending. Clusters from 2
  // up to `first_free` (exclusive) are in use; each belongs to the chain
  // that ends at the next run end at or after it. Clusters from
  // `first_free` on are free. REQUIRES: run_ends ascending, the last one
  // first_free - 1 (or none when first_free == 2).
  FatTable(const Geometry& g, std::vector<uint32_t> run_ends, uint32_t first_free);

  // The value of entry `cluster` (0 and 1 are the reserved entries).
  uint32_t Entry(uint32_t cluster) const;

  // Copies bytes [offset, offset + out.size()) of one FAT copy; offsets
  // past the entries read as zeros. Thread-safe (immutable).
  void Read(uint64_t offset, std::span<std::byte> out) const;

  size_t MemoryBytes() const { return run_ends_.capacity() * sizeof(uint32_t); }

 private:
  FatType type_;
  uint8_t media_;
  uint32_t entry_count_;  // cluster_count + 2
  std::vector<uint32_t> run_ends_;
  uint32_t first_free_;
};

// The end-of-chain mark of each type.
uint32_t EndOfChain(FatType type);

}  // namespace imgfs::vvfat
