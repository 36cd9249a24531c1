// SPDX-License-Identifier: MIT
// A tiny UDIF writer for tests: one blkx table (one "partition" covering the
// whole disk) whose chunks are given, a flat data fork, an XML plist with the
// base64 mish, and the koly trailer. Enough for dmg2img and `7z x -tdmg` to
// read, so hand-made chunks (ADC, LZFSE, ...) can be checked against them.
// Test code: no validation beyond what keeps the image self-consistent.
//
// The builder is independent of imgfs's UDIF code: it lays out the koly
// trailer, the mish tables, the plist and the resource fork with its own
// byte stores, and takes the CRC-32s from zlib over decoded bytes it knows
// without imgfs's decompressors (TestChunk::decoded, raw and zero chunks,
// zlib's own inflate). A reader bug cannot hide behind a builder sharing it.
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
  // What the chunk decodes to (sector_count * 512 bytes), for the blkx
  // CRC-32; CompressIntoChunks fills it. When empty the builder derives it
  // for raw, zero, ignore and zlib chunks; a table with another chunk
  // whose output it cannot know gets no blkx checksum.
  std::vector<std::byte> decoded = {};
};

struct TestDmgOptions {
  std::string partition_name = "whole disk (Apple_HFS : 0)";
  bool crc32_checksums = true;  // data fork, blkx and master CRC-32
  // Store the blkx tables in a binary resource fork instead of the XML
  // plist (koly xml_length 0), as images from before the plist do.
  bool resource_fork = false;
};

// Builds the whole .dmg file: one blkx table named options.partition_name.
std::vector<std::byte> BuildTestDmg(std::span<const TestChunk> chunks,
                                    const TestDmgOptions& options = {});

// One blkx table; tables follow one another in sector order.
struct TestPartition {
  std::string name;
  int32_t id = 0;
  std::vector<TestChunk> chunks;
};

// Builds a .dmg with one blkx table per partition (partition_name unused).
std::vector<std::byte> BuildTestDmgPartitions(std::span<const TestPartition> partitions,
                                              const TestDmgOptions& options = {});

// Splits `data` (a multiple of 512 bytes) into chunks of at most
// chunk_sectors sectors, each compressed with `type` through CompressChunk
// (the codecs have their own oracle tests), with `decoded` set to the
// input; a chunk that does not shrink is stored raw when allow_raw is set.
Result<std::vector<TestChunk>> CompressIntoChunks(ChunkType type, std::span<const std::byte> data,
                                                  uint64_t chunk_sectors, bool allow_raw = false);

}  // namespace imgfs::dmg::testing
