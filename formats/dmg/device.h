// SPDX-License-Identifier: MIT
// The UDIF BlockDevice: every blkx table's chunks composed in sector order
// into one sorted map; a read finds its first chunk by binary search and
// serves zero-fill and ignore chunks as zeros, raw chunks from the file and
// compressed chunks through the compressed-chunk engine
// (core/chunk/chunk_engine.h) and the shared Cache (CacheKind::kDecoded,
// index = chunk number), so a 4 KiB read decompresses only the chunks it
// touches. A read spanning several compressed chunks decompresses them in
// parallel on OpenOptions::pool. With a pool, sequential streams (FUSE's
// <= 1 MiB requests) are followed and their next chunks inflated ahead on
// the pool into the Cache; a chunk is never inflated twice at once (a
// reader that needs one being inflated waits for it, or meanwhile inflates
// another queued one). Read-ahead is bounded: at most 8 chunks pending per
// device and at most a quarter of the Cache; reads under 64 KiB never start
// it. A read-ahead error is dropped; the reader of that chunk gets it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/block_device.h"
#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "formats/dmg/image.h"
#include "formats/dmg/layout.h"

namespace imgfs::dmg {

// Chunks of more than kMaxChunkSectors (layout.h) are refused.
// A compressed stream may exceed its output a little (incompressible
// data); more than this is hostile.
inline constexpr uint64_t kMaxCompressedBytes = (kMaxChunkSectors * kSectorBytes) * 2;

// One chunk of the composed map, in absolute sectors. Gaps between the
// tables are filled with kIgnore chunks of table kNoTable.
struct MappedChunk {
  static constexpr uint32_t kNoTable = UINT32_MAX;
  ChunkType type = ChunkType::kZeroFill;
  uint32_t table = kNoTable;  // index into UdifImage::entries
  uint64_t first_sector = 0;
  uint64_t sector_count = 0;
  uint64_t file_offset = 0;  // absolute; meaningful for raw and compressed
  uint64_t length = 0;       // stored bytes
};

// Composes the map: kCorrupt when tables or chunks overlap in sector space,
// when a chunk's stored bytes leave the file, a raw chunk is shorter than
// its sectors, or a compressed chunk exceeds the caps above.
Result<std::vector<MappedChunk>> ComposeChunks(const UdifImage& image);

// REQUIRES: cache outlives the device; pool (may be null) too. Destroying
// the device waits for the read-ahead inflations running on the pool (one
// chunk each); queued ones then do nothing.
Result<std::unique_ptr<BlockDevice>> NewUdifDevice(std::shared_ptr<const UdifImage> image,
                                                   Cache* cache, ThreadPool* pool);

// Check() of a UDIF device (check.cc): data fork CRC-32, each blkx
// checksum over its decompressed data, the master checksum, and chunk data
// ranges that overlap one another or leave the data fork.
Result<CheckReport> CheckUdif(const UdifImage& image, const std::vector<MappedChunk>& chunks,
                              const BlockDevice& dev);

// "none", "crc28", "crc32", "dc42", "md5", "sha", "sha1", "sha256", "sha384",
// "sha512" (the UDIF checksum type numbers 0-9), else "type N".
std::string ChecksumTypeName(uint32_t type);

// The variant hdiutil would call the image (UDZO, UDBZ, ULFO, ULMO, UDCO,
// UDRO for uncompressed), inferred from its chunk kinds.
std::string VariantName(const UdifImage& image);

}  // namespace imgfs::dmg
