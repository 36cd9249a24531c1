// SPDX-License-Identifier: MIT
// UDSP (.sparseimage), hdiutil's growable single-file format: a 4096-byte
// big-endian header ("sprs", sectors per band, sector count) whose band
// array maps each stored band (in file order, after the header) to its
// 1-based place in the disk; bands never written read as zeros. Layout per
// libyal/libmodi "Mac OS sparse image (.sparseimage) format".
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

inline constexpr size_t kSparseHeaderBytes = 4096;

struct SparseHeader {
  uint32_t version = 3;
  uint32_t sectors_per_band = 2048;
  uint64_t sector_count = 0;
  // band_numbers[i] = 1-based disk band stored at file offset
  // 4096 + i * band bytes; 0 = unused slot.
  std::vector<uint32_t> band_numbers;
};

// kCorrupt for a bad signature, zero or absurd band size, band numbers
// beyond the disk or used twice.
Result<SparseHeader> DecodeSparseHeader(std::span<const std::byte> bytes);
std::vector<std::byte> EncodeSparseHeader(const SparseHeader& header);  // tests

int ProbeSparseImage(const ProbeInput& in);
Result<std::unique_ptr<BlockDevice>> OpenSparseImage(std::unique_ptr<File> file, Cache* cache);

}  // namespace imgfs::dmg
