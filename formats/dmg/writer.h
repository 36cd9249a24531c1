// SPDX-License-Identifier: MIT
// Writes any BlockDevice as a UDIF disk image (.dmg) in the shape hdiutil
// gives its own: data fork of chunks, XML plist with one blkx per partition
// map structure, partition and gap (formats/dmg/layout.h), then the koly
// trailer. The source is read extent by extent: holes and all-zero chunks
// become zero-fill chunks and are never compressed or stored; data chunks
// are compressed on a thread pool while the calling thread writes results in
// order, with a bounded number of chunks in flight, so memory does not grow
// with the input (only the chunk tables do: 40 bytes per chunk).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/block_device.h"
#include "core/convert/convert.h"
#include "core/exec/thread_pool.h"
#include "core/io/file.h"
#include "core/result.h"
#include "formats/dmg/codec.h"
#include "formats/dmg/layout.h"
#include "formats/dmg/udif.h"

namespace imgfs::dmg {

// hdiutil's format names. UDRW keeps a flat data fork (sector N of the disk
// at byte N * 512, zeros left as holes in the file) as hdiutil's read/write
// images do, so `dd` of the .dmg still yields the disk; UDRO stores raw
// chunks but leaves zeros out as zero-fill chunks.
enum class DmgFormat { kUdzo, kUdbz, kUlmo, kUlfo, kUdco, kUdro, kUdrw };

// "UDZO" -> kUdzo (any case); kInvalidArgument names the accepted values.
Result<DmgFormat> ParseDmgFormat(std::string_view name);
std::string_view DmgFormatName(DmgFormat format);
// The chunk codec a format compresses with; nullopt for UDRO/UDRW.
std::optional<ChunkType> FormatCodec(DmgFormat format);

struct DmgWriteOptions {
  DmgFormat format = DmgFormat::kUdzo;
  // Compression level; < 0 picks the format's default (zlib 1 as hdiutil's
  // zlib-level default, the codec's own default for the others).
  int level = -1;
  // Sectors per data chunk. REQUIRES: 1 <= chunk_sectors <= kMaxChunkSectors.
  uint64_t chunk_sectors = kDefaultChunkSectors;
  // Compresses on this pool when set, else on the calling thread. Not owned.
  ThreadPool* pool = nullptr;
  // Called on the calling thread with virtual bytes done so far.
  ConvertProgressFn progress;
};

struct DmgWriteStats {
  uint64_t sector_count = 0;
  uint64_t padding_bytes = 0;  // zeros added to complete the last sector
  uint64_t data_fork_bytes = 0;
  uint64_t file_bytes = 0;
  uint64_t compressed_chunks = 0;
  uint64_t raw_chunks = 0;
  uint64_t zero_chunks = 0;
  uint64_t zero_bytes = 0;  // disk bytes stored as zero-fill or ignore chunks (holes in UDRW)
  size_t blkx_count = 0;
  std::vector<std::string> notes;  // from layout planning
};

// Parses `convert -o` values ("format=UDZO,level=9,chunk_size=1M"; several
// values are read in order, later items win) into options; pool and
// progress are left unset. kInvalidArgument names the bad item.
Result<DmgWriteOptions> ParseDmgWriteOptions(std::span<const std::string> values);

// Writes `src` to `out` (which should be empty) as a UDIF image. On error
// the output is incomplete; the caller removes it. Errors name the source
// offset or the output offset that failed.
Result<DmgWriteStats> WriteDmg(const BlockDevice& src, File& out, const DmgWriteOptions& options);

}  // namespace imgfs::dmg
