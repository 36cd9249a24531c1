// SPDX-License-Identifier: MIT
// UDSP (.sparseimage), hdiutil's growable single-file format: a 4096-byte
// big-endian header ("sprs", sectors per band, sector count) whose band
// array maps each stored band (in file order, after the header) to its
// 1-based place in the disk; bands never written read as zeros. The header
// holds 1008 slots; an image with more bands chains 4096-byte index nodes
// (1010 slots each, their bands stored right after them) from the header's
// next-node offset. Layout per libyal/libmodi "Mac OS sparse image
// (.sparseimage) format"; the index-node fields as read by apfs-fuse and
// mac_apt (both agree; no hdiutil image this large was at hand).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/block_device.h"
#include "core/cache/cache.h"
#include "core/io/file.h"
#include "formats/format_driver.h"

namespace imgfs::dmg {

inline constexpr size_t kSparseHeaderBytes = 4096;  // also an index node's size

struct SparseHeader {
  uint32_t version = 3;
  uint32_t sectors_per_band = 2048;
  uint64_t sector_count = 0;
  uint64_t next_node = 0;  // file offset of the first index node; 0: none
  // band_numbers[i] = 1-based disk band stored at file offset
  // 4096 + i * band bytes; 0 = unused slot.
  std::vector<uint32_t> band_numbers;
};

// An index node at file offset N: band_numbers[i] is stored at
// N + 4096 + i * band bytes.
struct SparseIndexNode {
  uint32_t number = 0;  // 0 for the first node after the header
  uint64_t next_node = 0;
  std::vector<uint32_t> band_numbers;
};

// kCorrupt for a bad signature, zero or absurd band size or sector count,
// band numbers beyond the disk or used twice.
Result<SparseHeader> DecodeSparseHeader(std::span<const std::byte> bytes);
// kCorrupt for a short node or band numbers beyond `disk_bands`.
Result<SparseIndexNode> DecodeSparseIndexNode(std::span<const std::byte> bytes,
                                              uint64_t disk_bands);
std::vector<std::byte> EncodeSparseHeader(const SparseHeader& header);      // tests
std::vector<std::byte> EncodeSparseIndexNode(const SparseIndexNode& node);  // tests

int ProbeSparseImage(const ProbeInput& in);
Result<std::unique_ptr<BlockDevice>> OpenSparseImage(std::unique_ptr<File> file, Cache* cache);

}  // namespace imgfs::dmg
