// SPDX-License-Identifier: MIT
// Apple UDIF (.dmg) on-disk structures: the 512-byte `koly` trailer and the
// `mish` block table (one per blkx resource). Both are big-endian. There is
// no Apple specification; the layout follows the reverse-engineered
// descriptions listed in formats/dmg/README.md. Decode* validate every field
// they can; Encode* are their exact inverses (the writer uses them).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/util/sector.h"

namespace imgfs::dmg {

using ::imgfs::kSectorBytes;
inline constexpr size_t kKolyBytes = 512;
inline constexpr size_t kMishHeaderBytes = 204;
inline constexpr size_t kMishChunkBytes = 40;

// UDIF checksum: type 0 none, 2 CRC-32 (bit_count 32, value in data[0]);
// other types (1 = UDIF CRC-16?, 4 = MD5, ...) are reported by name only.
inline constexpr uint32_t kChecksumNone = 0;
inline constexpr uint32_t kChecksumCrc32 = 2;
struct UdifChecksum {
  uint32_t type = kChecksumNone;
  uint32_t bit_count = 0;
  std::array<uint32_t, 32> data{};
};

// Image variant in the koly trailer (hdiutil writes 1 for device images,
// 2 for partition images).
inline constexpr uint32_t kVariantDevice = 1;
inline constexpr uint32_t kVariantPartition = 2;

struct Koly {
  uint32_t version = 4;
  uint32_t header_bytes = kKolyBytes;
  uint32_t flags = 1;  // bit 0: flattened; bit 2: internet-enabled
  uint64_t running_data_fork_offset = 0;
  uint64_t data_fork_offset = 0;
  uint64_t data_fork_length = 0;
  uint64_t rsrc_fork_offset = 0;
  uint64_t rsrc_fork_length = 0;
  uint32_t segment_number = 1;
  uint32_t segment_count = 1;
  std::array<uint8_t, 16> segment_id{};
  UdifChecksum data_checksum;
  uint64_t xml_offset = 0;
  uint64_t xml_length = 0;
  UdifChecksum master_checksum;
  uint32_t image_variant = kVariantDevice;
  uint64_t sector_count = 0;
};

// Chunk kinds in a mish table.
enum class ChunkType : uint32_t {
  kZeroFill = 0x00000000,
  kRaw = 0x00000001,
  kIgnore = 0x00000002,  // reads as zeros
  kAdc = 0x80000004,
  kZlib = 0x80000005,
  kBzip2 = 0x80000006,
  kLzfse = 0x80000007,
  kLzma = 0x80000008,
  kComment = 0x7ffffffe,  // no data, no sectors
  kTerminator = 0xffffffff,
};

// Chunks whose stored bytes are a compressed stream.
inline bool IsCompressed(ChunkType t) {
  return t == ChunkType::kAdc || t == ChunkType::kZlib || t == ChunkType::kBzip2 ||
         t == ChunkType::kLzfse || t == ChunkType::kLzma;
}
// Chunks that read as zeros and store nothing.
inline bool IsZero(ChunkType t) { return t == ChunkType::kZeroFill || t == ChunkType::kIgnore; }

// One entry of a mish table. Sector numbers are relative to the table's
// first_sector; compressed_offset is relative to the data fork plus the
// table's data_offset.
struct Chunk {
  ChunkType type = ChunkType::kZeroFill;
  uint32_t comment = 0;
  uint64_t sector_number = 0;
  uint64_t sector_count = 0;
  uint64_t compressed_offset = 0;
  uint64_t compressed_length = 0;
};

struct BlkxTable {
  uint32_t version = 1;
  uint64_t first_sector = 0;
  uint64_t sector_count = 0;
  uint64_t data_offset = 0;
  uint32_t buffers_needed = 0;  // sectors of the largest chunk's output
  uint32_t block_descriptors = 0;
  UdifChecksum checksum;  // over this table's decompressed data
  std::vector<Chunk> chunks;
};

// One `blkx` resource (a partition or the whole disk) as listed in the plist
// or the binary resource fork.
struct BlkxEntry {
  std::string name;    // e.g. "Apple (Apple_partition_map : 1)"
  std::string cfname;  // usually equal to name
  int32_t id = 0;      // hdiutil numbers partitions from -1
  uint32_t attributes = 0x0050;
  BlkxTable table;
};

// Decodes the 512-byte trailer. kCorrupt names the bad field.
Result<Koly> DecodeKoly(std::span<const std::byte> bytes);
std::array<std::byte, kKolyBytes> EncodeKoly(const Koly& koly);

// Decodes a mish table (header plus chunks); bounded by the chunk count the
// header announces and by bytes.size(). Validates chunk types and that chunk
// sector ranges stay inside the table.
Result<BlkxTable> DecodeBlkx(std::span<const std::byte> bytes);
std::vector<std::byte> EncodeBlkx(const BlkxTable& table);

// The master checksum of a koly: CRC-32 over the big-endian CRC-32 values of
// the blkx tables that carry one, in plist order (libdmg-hfsplus and 7-Zip
// compute it the same way; hdiutil verifies it on attach).
uint32_t MasterChecksum(std::span<const UdifChecksum> blkx_checksums);

}  // namespace imgfs::dmg
