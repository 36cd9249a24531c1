// SPDX-License-Identifier: MIT
// Decoding and encoding of the UDIF `koly` trailer and `mish` block tables.
// Field offsets follow the reverse-engineered layout in
// http://newosxbook.com/DMG.html ("UDIFResourceFile" and "BLKXTable") and
// libyal/libmodi's "Universal Disk Image Format" notes; every multi-byte
// field is big-endian.
#include "formats/dmg/udif.h"

#include <cstring>
#include <string>

#include "core/util/checked.h"
#include "core/util/crc32.h"
#include "core/util/endian.h"
#include "core/util/hex.h"

namespace imgfs::dmg {
namespace {

// koly trailer (512 bytes).
constexpr size_t kKolySignature = 0;  // "koly"
constexpr size_t kKolyVersion = 4;
constexpr size_t kKolyHeaderSize = 8;
constexpr size_t kKolyFlags = 12;
constexpr size_t kKolyRunningDataForkOffset = 16;
constexpr size_t kKolyDataForkOffset = 24;
constexpr size_t kKolyDataForkLength = 32;
constexpr size_t kKolyRsrcForkOffset = 40;
constexpr size_t kKolyRsrcForkLength = 48;
constexpr size_t kKolySegmentNumber = 56;
constexpr size_t kKolySegmentCount = 60;
constexpr size_t kKolySegmentId = 64;  // 16-byte UUID
constexpr size_t kKolyDataChecksum = 80;
constexpr size_t kKolyXmlOffset = 216;
constexpr size_t kKolyXmlLength = 224;
// 120 reserved bytes at 232.
constexpr size_t kKolyMasterChecksum = 352;
constexpr size_t kKolyImageVariant = 488;
constexpr size_t kKolySectorCount = 492;
// 12 reserved bytes at 500.

constexpr uint32_t kKolyMagic = 0x6b6f6c79;  // "koly"
constexpr uint32_t kUdifVersion = 4;         // the only version hdiutil has written

// UDIFChecksum: type, bit count, then 32 big-endian words (136 bytes).
constexpr uint32_t kMaxChecksumBits = 32 * 32;

// mish header (204 bytes).
constexpr size_t kMishSignature = 0;  // "mish"
constexpr size_t kMishVersion = 4;
constexpr size_t kMishFirstSector = 8;
constexpr size_t kMishSectorCount = 16;
constexpr size_t kMishDataOffset = 24;
constexpr size_t kMishBuffersNeeded = 32;
constexpr size_t kMishBlockDescriptors = 36;
// 24 reserved bytes at 40.
constexpr size_t kMishChecksum = 64;
constexpr size_t kMishChunkCount = 200;

constexpr uint32_t kMishMagic = 0x6d697368;  // "mish"
constexpr uint32_t kMishVersionOne = 1;

// Chunk entry (40 bytes).
constexpr size_t kChunkType = 0;
constexpr size_t kChunkComment = 4;
constexpr size_t kChunkSectorNumber = 8;
constexpr size_t kChunkSectorCount = 16;
constexpr size_t kChunkCompressedOffset = 24;
constexpr size_t kChunkCompressedLength = 32;

// Sector counts beyond 2^54 would overflow byte offsets (x 512); no real
// image comes near (that is 8 EiB).
constexpr uint64_t kMaxSectors = uint64_t{1} << 54;

Result<UdifChecksum> DecodeChecksum(const std::byte* p, const char* what) {
  UdifChecksum c;
  c.type = LoadBE32(p);
  c.bit_count = LoadBE32(p + 4);
  if (c.bit_count > kMaxChecksumBits) {
    return CorruptError(std::string("dmg: ") + what + " checksum claims " +
                        std::to_string(c.bit_count) + " bits (at most 1024)");
  }
  for (size_t i = 0; i < c.data.size(); ++i) {
    c.data[i] = LoadBE32(p + 8 + 4 * i);
  }
  return c;
}

void EncodeChecksum(const UdifChecksum& c, std::byte* p) {
  StoreBE32(p, c.type);
  StoreBE32(p + 4, c.bit_count);
  for (size_t i = 0; i < c.data.size(); ++i) {
    StoreBE32(p + 8 + 4 * i, c.data[i]);
  }
}

bool KnownChunkType(uint32_t t) {
  switch (static_cast<ChunkType>(t)) {
    case ChunkType::kZeroFill:
    case ChunkType::kRaw:
    case ChunkType::kIgnore:
    case ChunkType::kAdc:
    case ChunkType::kZlib:
    case ChunkType::kBzip2:
    case ChunkType::kLzfse:
    case ChunkType::kLzma:
    case ChunkType::kComment:
    case ChunkType::kTerminator:
      return true;
  }
  return false;
}

}  // namespace

Result<Koly> DecodeKoly(std::span<const std::byte> bytes) {
  if (bytes.size() < kKolyBytes) {
    return CorruptError("dmg: koly trailer is truncated (" + std::to_string(bytes.size()) +
                        " bytes, need 512)");
  }
  const std::byte* p = bytes.data();
  if (LoadBE32(p + kKolySignature) != kKolyMagic) {
    return CorruptError("dmg: koly trailer has no 'koly' signature");
  }
  Koly k;
  k.version = LoadBE32(p + kKolyVersion);
  if (k.version != kUdifVersion) {
    return UnsupportedError("dmg: koly trailer version " + std::to_string(k.version) +
                            " (only version 4 is known)");
  }
  k.header_bytes = LoadBE32(p + kKolyHeaderSize);
  if (k.header_bytes != kKolyBytes) {
    return CorruptError("dmg: koly trailer header size " + std::to_string(k.header_bytes) +
                        " (expected 512)");
  }
  k.flags = LoadBE32(p + kKolyFlags);
  k.running_data_fork_offset = LoadBE64(p + kKolyRunningDataForkOffset);
  k.data_fork_offset = LoadBE64(p + kKolyDataForkOffset);
  k.data_fork_length = LoadBE64(p + kKolyDataForkLength);
  k.rsrc_fork_offset = LoadBE64(p + kKolyRsrcForkOffset);
  k.rsrc_fork_length = LoadBE64(p + kKolyRsrcForkLength);
  k.segment_number = LoadBE32(p + kKolySegmentNumber);
  k.segment_count = LoadBE32(p + kKolySegmentCount);
  // hdiutil on macOS 15 writes 0 of 0 (and no segment UUID) for an image
  // that is not segmented, where older versions wrote 1 of 1; both mean one
  // segment. qemu, 7-Zip and dmg2img ignore these fields altogether.
  if (k.segment_count == 0 && k.segment_number <= 1) {
    k.segment_number = 1;
    k.segment_count = 1;
  }
  if (k.segment_number == 0 || k.segment_number > k.segment_count) {
    return CorruptError("dmg: koly trailer has segment " + std::to_string(k.segment_number) +
                        " of " + std::to_string(k.segment_count));
  }
  std::memcpy(k.segment_id.data(), p + kKolySegmentId, k.segment_id.size());
  IMGFS_ASSIGN_OR_RETURN(k.data_checksum, DecodeChecksum(p + kKolyDataChecksum, "data fork"));
  k.xml_offset = LoadBE64(p + kKolyXmlOffset);
  k.xml_length = LoadBE64(p + kKolyXmlLength);
  IMGFS_ASSIGN_OR_RETURN(k.master_checksum, DecodeChecksum(p + kKolyMasterChecksum, "master"));
  k.image_variant = LoadBE32(p + kKolyImageVariant);
  k.sector_count = LoadBE64(p + kKolySectorCount);
  if (k.sector_count > kMaxSectors) {
    return CorruptError("dmg: koly trailer sector count " + std::to_string(k.sector_count) +
                        " is absurd");
  }
  if (!CheckedAdd(k.data_fork_offset, k.data_fork_length) ||
      !CheckedAdd(k.rsrc_fork_offset, k.rsrc_fork_length) ||
      !CheckedAdd(k.xml_offset, k.xml_length)) {
    return CorruptError("dmg: koly trailer fork offset plus length overflows");
  }
  return k;
}

std::array<std::byte, kKolyBytes> EncodeKoly(const Koly& k) {
  std::array<std::byte, kKolyBytes> out{};
  std::byte* p = out.data();
  StoreBE32(p + kKolySignature, kKolyMagic);
  StoreBE32(p + kKolyVersion, k.version);
  StoreBE32(p + kKolyHeaderSize, k.header_bytes);
  StoreBE32(p + kKolyFlags, k.flags);
  StoreBE64(p + kKolyRunningDataForkOffset, k.running_data_fork_offset);
  StoreBE64(p + kKolyDataForkOffset, k.data_fork_offset);
  StoreBE64(p + kKolyDataForkLength, k.data_fork_length);
  StoreBE64(p + kKolyRsrcForkOffset, k.rsrc_fork_offset);
  StoreBE64(p + kKolyRsrcForkLength, k.rsrc_fork_length);
  StoreBE32(p + kKolySegmentNumber, k.segment_number);
  StoreBE32(p + kKolySegmentCount, k.segment_count);
  std::memcpy(p + kKolySegmentId, k.segment_id.data(), k.segment_id.size());
  EncodeChecksum(k.data_checksum, p + kKolyDataChecksum);
  StoreBE64(p + kKolyXmlOffset, k.xml_offset);
  StoreBE64(p + kKolyXmlLength, k.xml_length);
  EncodeChecksum(k.master_checksum, p + kKolyMasterChecksum);
  StoreBE32(p + kKolyImageVariant, k.image_variant);
  StoreBE64(p + kKolySectorCount, k.sector_count);
  return out;
}

Result<BlkxTable> DecodeBlkx(std::span<const std::byte> bytes) {
  if (bytes.size() < kMishHeaderBytes) {
    return CorruptError("dmg: mish table is truncated (" + std::to_string(bytes.size()) +
                        " bytes, need 204)");
  }
  const std::byte* p = bytes.data();
  if (LoadBE32(p + kMishSignature) != kMishMagic) {
    return CorruptError("dmg: blkx resource has no 'mish' signature");
  }
  BlkxTable t;
  t.version = LoadBE32(p + kMishVersion);
  if (t.version != kMishVersionOne) {
    return UnsupportedError("dmg: mish table version " + std::to_string(t.version) +
                            " (only version 1 is known)");
  }
  t.first_sector = LoadBE64(p + kMishFirstSector);
  t.sector_count = LoadBE64(p + kMishSectorCount);
  if (t.sector_count > kMaxSectors || t.first_sector > kMaxSectors - t.sector_count) {
    return CorruptError("dmg: mish table covers sectors " + std::to_string(t.first_sector) + "+" +
                        std::to_string(t.sector_count) + ", which is absurd");
  }
  t.data_offset = LoadBE64(p + kMishDataOffset);
  t.buffers_needed = LoadBE32(p + kMishBuffersNeeded);
  t.block_descriptors = LoadBE32(p + kMishBlockDescriptors);
  IMGFS_ASSIGN_OR_RETURN(t.checksum, DecodeChecksum(p + kMishChecksum, "mish"));
  const uint32_t count = LoadBE32(p + kMishChunkCount);
  // The count is bounded by the bytes actually present, so a hostile count
  // cannot make us allocate more than the resource's own size.
  const uint64_t room = (bytes.size() - kMishHeaderBytes) / kMishChunkBytes;
  if (count > room) {
    return CorruptError("dmg: mish table announces " + std::to_string(count) +
                        " chunks but its resource holds " + std::to_string(room));
  }
  t.chunks.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const std::byte* c = p + kMishHeaderBytes + size_t{i} * kMishChunkBytes;
    const uint32_t type = LoadBE32(c + kChunkType);
    if (!KnownChunkType(type)) {
      return UnsupportedError("dmg: mish chunk " + std::to_string(i) + " has unknown type " +
                              Hex(type));
    }
    Chunk ch;
    ch.type = static_cast<ChunkType>(type);
    ch.comment = LoadBE32(c + kChunkComment);
    ch.sector_number = LoadBE64(c + kChunkSectorNumber);
    ch.sector_count = LoadBE64(c + kChunkSectorCount);
    ch.compressed_offset = LoadBE64(c + kChunkCompressedOffset);
    ch.compressed_length = LoadBE64(c + kChunkCompressedLength);
    const bool marker = ch.type == ChunkType::kComment || ch.type == ChunkType::kTerminator;
    if (!marker && (ch.sector_number > t.sector_count ||
                    ch.sector_count > t.sector_count - ch.sector_number)) {
      return CorruptError("dmg: mish chunk " + std::to_string(i) + " covers sectors " +
                          std::to_string(ch.sector_number) + "+" + std::to_string(ch.sector_count) +
                          " outside its table's " + std::to_string(t.sector_count));
    }
    if (!CheckedAdd(ch.compressed_offset, ch.compressed_length)) {
      return CorruptError("dmg: mish chunk " + std::to_string(i) +
                          " compressed offset plus length overflows");
    }
    t.chunks.push_back(ch);
  }
  return t;
}

std::vector<std::byte> EncodeBlkx(const BlkxTable& t) {
  std::vector<std::byte> out(kMishHeaderBytes + t.chunks.size() * kMishChunkBytes);
  std::byte* p = out.data();
  StoreBE32(p + kMishSignature, kMishMagic);
  StoreBE32(p + kMishVersion, t.version);
  StoreBE64(p + kMishFirstSector, t.first_sector);
  StoreBE64(p + kMishSectorCount, t.sector_count);
  StoreBE64(p + kMishDataOffset, t.data_offset);
  StoreBE32(p + kMishBuffersNeeded, t.buffers_needed);
  StoreBE32(p + kMishBlockDescriptors, t.block_descriptors);
  EncodeChecksum(t.checksum, p + kMishChecksum);
  StoreBE32(p + kMishChunkCount, static_cast<uint32_t>(t.chunks.size()));
  for (size_t i = 0; i < t.chunks.size(); ++i) {
    const Chunk& ch = t.chunks[i];
    std::byte* c = p + kMishHeaderBytes + i * kMishChunkBytes;
    StoreBE32(c + kChunkType, static_cast<uint32_t>(ch.type));
    StoreBE32(c + kChunkComment, ch.comment);
    StoreBE64(c + kChunkSectorNumber, ch.sector_number);
    StoreBE64(c + kChunkSectorCount, ch.sector_count);
    StoreBE64(c + kChunkCompressedOffset, ch.compressed_offset);
    StoreBE64(c + kChunkCompressedLength, ch.compressed_length);
  }
  return out;
}

uint32_t MasterChecksum(std::span<const UdifChecksum> blkx_checksums) {
  uint32_t crc = 0;
  for (const UdifChecksum& c : blkx_checksums) {
    if (c.type == kChecksumCrc32) {
      std::byte be[4];
      StoreBE32(be, c.data[0]);
      crc = Crc32(be, crc);
    }
  }
  return crc;
}

}  // namespace imgfs::dmg
