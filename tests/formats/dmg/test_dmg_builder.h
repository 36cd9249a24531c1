// SPDX-License-Identifier: MIT
// A tiny UDIF writer for tests: one blkx table (one "partition" covering the
// whole disk) whose chunks are given, a flat data fork, an XML plist with the
// base64 mish, and the koly trailer. Enough for dmg2img and `7z x -tdmg` to
// read, so hand-made chunks (ADC, LZFSE, ...) can be checked against them.
// Test code: no validation beyond what keeps the image self-consistent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "formats/dmg/udif.h"

namespace imgfs::dmg::testing {

struct TestChunk {
  ChunkType type = ChunkType::kRaw;
  uint64_t sector_count = 0;       // output sectors
  std::vector<std::byte> payload;  // stored bytes (empty for zero fill)
};

struct TestDmgOptions {
  std::string partition_name = "whole disk (Apple_HFS : 0)";
  bool crc32_checksums = true;  // data fork, blkx and master CRC-32
};

// Builds the whole .dmg file.
std::vector<std::byte> BuildTestDmg(std::span<const TestChunk> chunks,
                                    const TestDmgOptions& options = {});

// Splits `data` (a multiple of 512 bytes) into chunks of at most
// chunk_sectors sectors, each compressed with `type` through CompressChunk;
// a chunk that does not shrink is stored raw when allow_raw is set.
Result<std::vector<TestChunk>> CompressIntoChunks(ChunkType type, std::span<const std::byte> data,
                                                  uint64_t chunk_sectors, bool allow_raw = false);

}  // namespace imgfs::dmg::testing
