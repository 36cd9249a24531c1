// SPDX-License-Identifier: MIT
// Directory entries (FAT specification 6 and 7): the 32-byte short entry
// and the LFN entries before it, and DOS dates and times.
#pragma once

#include <time.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "vvfat/names.h"

namespace imgfs::vvfat {

inline constexpr size_t kDirEntryBytes = 32;
// A directory holds at most 65536 entries (FAT specification 6.1).
inline constexpr uint32_t kMaxDirEntries = 65536;
inline constexpr size_t kLfnUnitsPerEntry = 13;

// DIR_Attr bits.
inline constexpr uint8_t kAttrReadOnly = 0x01;
inline constexpr uint8_t kAttrVolumeId = 0x08;
inline constexpr uint8_t kAttrDirectory = 0x10;
inline constexpr uint8_t kAttrArchive = 0x20;
inline constexpr uint8_t kAttrLongName = 0x0f;

// Entries a name takes: its LFN entries and the short entry.
uint32_t EntryCount(const FatName& name);

// DOS date (bits 15-9 year since 1980, 8-5 month, 4-0 day) and time (15-11
// hours, 10-5 minutes, 4-0 seconds / 2), in local time; clamped to
// 1980-01-01 .. 2107-12-31 23:59:58. `tenths` gets DIR_CrtTimeTenth
// (10 ms units within two seconds).
struct DosTime {
  uint16_t date = 0;
  uint16_t time = 0;
  uint8_t tenths = 0;
};
DosTime ToDosTime(const struct timespec& ts);

struct EntryFields {
  uint8_t attr = 0;
  uint32_t first_cluster = 0;
  uint32_t size_bytes = 0;
  struct timespec mtime {};
  struct timespec atime {};
  struct timespec btime {};
};

// Writes the LFN entries (if any) and the short entry of `name` at `out`.
// REQUIRES: out.size() >= EntryCount(name) * 32. Returns the bytes written.
size_t EncodeEntries(const FatName& name, const EntryFields& fields, std::span<std::byte> out);

// The short entry alone, for ".", ".." and the volume label.
void EncodeShortEntry(const std::array<char, 11>& short_name, uint8_t nt_case,
                      const EntryFields& fields, std::byte* out);

}  // namespace imgfs::vvfat
