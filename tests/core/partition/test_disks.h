// SPDX-License-Identifier: MIT
// Builders for partition-table unit tests: an in-memory disk and helpers
// that write MBR/EBR entries, whole GPTs (protective MBR, both headers and
// arrays, CRCs) and Apple partition maps byte by byte, following the specs
// rather than any tool, so that each test can then break one field.
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "core/block_device.h"
#include "core/util/crc32.h"
#include "core/util/endian.h"
#include "core/util/sector.h"
#include "tests/testing/memory_block_device.h"

namespace imgfs::testing {

// A BlockDevice over bytes in memory; everything is data.
using MemDisk = MemoryBlockDevice;

inline constexpr uint64_t kSector = kSectorBytes;

// --- MBR -------------------------------------------------------------------

inline void PutMbrSignature(MemDisk& d, uint64_t sector) {
  d.at(sector * kSector + 510)[0] = std::byte{0x55};
  d.at(sector * kSector + 511)[0] = std::byte{0xaa};
}

// Writes entry `slot` (0-3) of the MBR/EBR at `sector`.
inline void PutMbrEntry(MemDisk& d, uint64_t sector, int slot, uint8_t status, uint8_t type,
                        uint32_t start, uint32_t count) {
  std::byte* p = d.at(sector * kSector + 0x1be + static_cast<uint64_t>(slot) * 16);
  p[0] = std::byte{status};
  p[4] = std::byte{type};
  StoreLE32(p + 8, start);
  StoreLE32(p + 12, count);
}

// --- GPT -------------------------------------------------------------------

struct GptPart {
  uint32_t index = 0;  // entry index (0-based)
  std::array<uint8_t, 16> type{};
  std::array<uint8_t, 16> unique{};
  uint64_t first_lba = 0;
  uint64_t last_lba = 0;
  uint64_t attributes = 0;
  std::u16string name;
};

// EFI System (C12A7328-F81F-11D2-BA4B-00A0C93EC93B) as stored on disk.
inline constexpr std::array<uint8_t, 16> kEfiSystemGuid = {
    0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b};
// Linux filesystem (0FC63DAF-8483-4772-8E79-3D69D8477DE4) as stored on disk.
inline constexpr std::array<uint8_t, 16> kLinuxFsGuid = {
    0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4};

struct GptLayout {
  uint32_t block = 512;
  uint32_t entry_count = 128;
  uint32_t entry_bytes = 128;
};

inline uint64_t LastLba(const MemDisk& d, const GptLayout& l) { return d.Size() / l.block - 1; }
inline uint64_t ArrayBlocks(const GptLayout& l) {
  return (uint64_t{l.entry_count} * l.entry_bytes + l.block - 1) / l.block;
}
inline uint64_t PrimaryArrayLba(const GptLayout&) { return 2; }
inline uint64_t BackupArrayLba(const MemDisk& d, const GptLayout& l) {
  return LastLba(d, l) - ArrayBlocks(l);
}

// Recomputes the header CRC of the header at `lba`.
inline void FixGptHeaderCrc(MemDisk& d, const GptLayout& l, uint64_t lba) {
  std::byte* h = d.at(lba * l.block);
  StoreLE32(h + 16, 0);
  StoreLE32(h + 16, Crc32(std::span<const std::byte>(h, LoadLE32(h + 12))));
}

inline void WriteGptHeader(MemDisk& d, const GptLayout& l, uint64_t lba, uint64_t alternate,
                           uint64_t array_lba, uint32_t array_crc) {
  std::byte* h = d.at(lba * l.block);
  std::memset(h, 0, l.block);
  std::memcpy(h, "EFI PART", 8);
  StoreLE32(h + 8, 0x00010000);
  StoreLE32(h + 12, 92);
  StoreLE64(h + 24, lba);
  StoreLE64(h + 32, alternate);
  StoreLE64(h + 40, 2 + ArrayBlocks(l));
  StoreLE64(h + 48, BackupArrayLba(d, l) - 1);
  for (int i = 0; i < 16; ++i) {
    h[56 + i] = std::byte{static_cast<uint8_t>(0xd0 + i)};
  }
  StoreLE64(h + 72, array_lba);
  StoreLE32(h + 80, l.entry_count);
  StoreLE32(h + 84, l.entry_bytes);
  StoreLE32(h + 88, array_crc);
  FixGptHeaderCrc(d, l, lba);
}

// Writes a protective MBR, the entry arrays and both headers.
inline void WriteGpt(MemDisk& d, const std::vector<GptPart>& parts, GptLayout l = {}) {
  const uint64_t disk_blocks = d.Size() / l.block;
  PutMbrEntry(d, 0, 0, 0, 0xee, 1,
              static_cast<uint32_t>(std::min<uint64_t>(disk_blocks - 1, 0xffffffff)));
  PutMbrSignature(d, 0);
  std::vector<std::byte> array(uint64_t{l.entry_count} * l.entry_bytes);
  for (const GptPart& p : parts) {
    std::byte* e = array.data() + uint64_t{p.index} * l.entry_bytes;
    std::memcpy(e, p.type.data(), 16);
    std::memcpy(e + 16, p.unique.data(), 16);
    StoreLE64(e + 32, p.first_lba);
    StoreLE64(e + 40, p.last_lba);
    StoreLE64(e + 48, p.attributes);
    for (size_t i = 0; i < p.name.size() && i < 36; ++i) {
      StoreLE16(e + 56 + 2 * i, static_cast<uint16_t>(p.name[i]));
    }
  }
  const uint32_t crc = Crc32(array);
  std::memcpy(d.at(PrimaryArrayLba(l) * l.block), array.data(), array.size());
  std::memcpy(d.at(BackupArrayLba(d, l) * l.block), array.data(), array.size());
  WriteGptHeader(d, l, 1, LastLba(d, l), PrimaryArrayLba(l), crc);
  WriteGptHeader(d, l, LastLba(d, l), 1, BackupArrayLba(d, l), crc);
}

// --- APM -------------------------------------------------------------------

inline void PutApmDdr(MemDisk& d, uint16_t block_bytes, uint32_t block_count) {
  std::byte* p = d.at(0);
  StoreBE16(p, 0x4552);
  StoreBE16(p + 2, block_bytes);
  StoreBE32(p + 4, block_count);
}

inline void PutApmEntry(MemDisk& d, uint64_t entry_offset, uint32_t map_count, uint32_t start,
                        uint32_t count, const std::string& name, const std::string& type) {
  std::byte* p = d.at(entry_offset);
  std::memset(p, 0, 512);
  StoreBE16(p, 0x504d);
  StoreBE32(p + 4, map_count);
  StoreBE32(p + 8, start);
  StoreBE32(p + 12, count);
  std::memcpy(p + 16, name.data(), std::min<size_t>(name.size(), 32));
  std::memcpy(p + 48, type.data(), std::min<size_t>(type.size(), 32));
}

}  // namespace imgfs::testing
