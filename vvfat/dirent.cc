// SPDX-License-Identifier: MIT
// Directory entries (see dirent.h).
#include "vvfat/dirent.h"

#include <cstring>

#include "core/util/endian.h"

namespace imgfs::vvfat {
namespace {

// Short entry fields (FAT specification 6).
constexpr size_t kDirName = 0;
constexpr size_t kDirAttr = 11;
constexpr size_t kDirNtRes = 12;
constexpr size_t kDirCrtTimeTenth = 13;
constexpr size_t kDirCrtTime = 14;
constexpr size_t kDirCrtDate = 16;
constexpr size_t kDirLstAccDate = 18;
constexpr size_t kDirFstClusHi = 20;
constexpr size_t kDirWrtTime = 22;
constexpr size_t kDirWrtDate = 24;
constexpr size_t kDirFstClusLo = 26;
constexpr size_t kDirFileSize = 28;
// LFN entry fields (FAT specification 7).
constexpr size_t kLdirOrd = 0;
constexpr size_t kLdirName1 = 1;
constexpr size_t kLdirAttr = 11;
constexpr size_t kLdirChksum = 13;
constexpr size_t kLdirName2 = 14;
constexpr size_t kLdirName3 = 28;
constexpr uint8_t kLastLongEntry = 0x40;
// A short name that starts with 0xe5 is stored with 0x05 (0xe5 = free).
constexpr char kDeletedMark = static_cast<char>(0xe5);
constexpr char kKanjiLead = 0x05;

constexpr int kMinYear = 1980;
constexpr int kMaxYear = 2107;

// The UTF-16 unit at `i` of an LFN entry's 13: the name, a 0x0000
// terminator when the name ends short of a full entry, then 0xffff.
uint16_t LfnUnit(const std::u16string& name, size_t i) {
  if (i < name.size()) {
    return name[i];
  }
  return i == name.size() ? 0x0000 : 0xffff;
}

}  // namespace

uint32_t EntryCount(const FatName& name) {
  return 1 +
         static_cast<uint32_t>((name.long_name.size() + kLfnUnitsPerEntry - 1) / kLfnUnitsPerEntry);
}

DosTime ToDosTime(const struct timespec& ts) {
  DosTime d;
  struct tm tm {};
  const time_t t = ts.tv_sec;
  if (::localtime_r(&t, &tm) == nullptr || tm.tm_year + 1900 < kMinYear) {
    d.date = (1 << 5) | 1;  // 1980-01-01 00:00:00
    return d;
  }
  if (tm.tm_year + 1900 > kMaxYear) {
    d.date = static_cast<uint16_t>(((kMaxYear - kMinYear) << 9) | (12 << 5) | 31);
    d.time = static_cast<uint16_t>((23 << 11) | (59 << 5) | 29);
    return d;
  }
  d.date = static_cast<uint16_t>(((tm.tm_year + 1900 - kMinYear) << 9) | ((tm.tm_mon + 1) << 5) |
                                 tm.tm_mday);
  d.time = static_cast<uint16_t>((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
  d.tenths = static_cast<uint8_t>((tm.tm_sec % 2) * 100 + ts.tv_nsec / 10000000);
  return d;
}

void EncodeShortEntry(const std::array<char, 11>& short_name, uint8_t nt_case, const EntryFields& f,
                      std::byte* out) {
  std::memset(out, 0, kDirEntryBytes);
  std::memcpy(out + kDirName, short_name.data(), short_name.size());
  if (short_name[0] == kDeletedMark) {
    out[kDirName] = std::byte{kKanjiLead};
  }
  out[kDirAttr] = std::byte{f.attr};
  out[kDirNtRes] = std::byte{nt_case};
  const DosTime created = ToDosTime(f.btime);
  const DosTime written = ToDosTime(f.mtime);
  out[kDirCrtTimeTenth] = std::byte{created.tenths};
  StoreLE16(out + kDirCrtTime, created.time);
  StoreLE16(out + kDirCrtDate, created.date);
  StoreLE16(out + kDirLstAccDate, ToDosTime(f.atime).date);
  StoreLE16(out + kDirFstClusHi, static_cast<uint16_t>(f.first_cluster >> 16));
  StoreLE16(out + kDirWrtTime, written.time);
  StoreLE16(out + kDirWrtDate, written.date);
  StoreLE16(out + kDirFstClusLo, static_cast<uint16_t>(f.first_cluster & 0xffff));
  StoreLE32(out + kDirFileSize, f.size_bytes);
}

size_t EncodeEntries(const FatName& name, const EntryFields& fields, std::span<std::byte> out) {
  const uint32_t count = EntryCount(name);
  const uint8_t checksum = ShortNameChecksum(name.short_name);
  // LFN entries come last-part first: the entry with the 0x40 bit holds
  // the end of the name.
  for (uint32_t k = 0; k + 1 < count; ++k) {
    const uint32_t ord = count - 1 - k;  // 1-based part number
    std::byte* e = out.data() + size_t{k} * kDirEntryBytes;
    std::memset(e, 0, kDirEntryBytes);
    e[kLdirOrd] = std::byte{static_cast<uint8_t>(ord | (k == 0 ? kLastLongEntry : 0))};
    e[kLdirAttr] = std::byte{kAttrLongName};
    e[kLdirChksum] = std::byte{checksum};
    const size_t base = size_t{ord - 1} * kLfnUnitsPerEntry;
    for (size_t i = 0; i < kLfnUnitsPerEntry; ++i) {
      const uint16_t u = LfnUnit(name.long_name, base + i);
      const size_t at = i < 5    ? kLdirName1 + 2 * i
                        : i < 11 ? kLdirName2 + 2 * (i - 5)
                                 : kLdirName3 + 2 * (i - 11);
      StoreLE16(e + at, u);
    }
  }
  EncodeShortEntry(name.short_name, name.nt_case, fields,
                   out.data() + size_t{count - 1} * kDirEntryBytes);
  return size_t{count} * kDirEntryBytes;
}

}  // namespace imgfs::vvfat
