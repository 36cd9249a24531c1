// SPDX-License-Identifier: MIT
// MBR, boot sector and FSInfo (see boot.h).
#include "vvfat/boot.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "core/util/endian.h"

namespace imgfs::vvfat {
namespace {

// Boot sector fields (FAT specification 3.1-3.3).
constexpr size_t kBsJmpBoot = 0;
constexpr size_t kBsOemName = 3;
constexpr size_t kBpbBytsPerSec = 11;
constexpr size_t kBpbSecPerClus = 13;
constexpr size_t kBpbRsvdSecCnt = 14;
constexpr size_t kBpbNumFats = 16;
constexpr size_t kBpbRootEntCnt = 17;
constexpr size_t kBpbTotSec16 = 19;
constexpr size_t kBpbMedia = 21;
constexpr size_t kBpbFatSz16 = 22;
constexpr size_t kBpbSecPerTrk = 24;
constexpr size_t kBpbNumHeads = 26;
constexpr size_t kBpbHiddSec = 28;
constexpr size_t kBpbTotSec32 = 32;
// FAT12/16 extended BPB at 36, FAT32's at 64 after its own fields.
constexpr size_t kBpb32FatSz32 = 36;
constexpr size_t kBpb32RootClus = 44;
constexpr size_t kBpb32FsInfo = 48;
constexpr size_t kBpb32BkBootSec = 50;
constexpr size_t kExt16 = 36;
constexpr size_t kExt32 = 64;
// Within the extended BPB: BS_DrvNum, BS_BootSig, BS_VolID, BS_VolLab,
// BS_FilSysType, then the boot code.
constexpr size_t kExtDrvNum = 0;
constexpr size_t kExtBootSig = 2;
constexpr size_t kExtVolId = 3;
constexpr size_t kExtVolLab = 7;
constexpr size_t kExtFilSysType = 18;
constexpr size_t kExtBootCode = 26;
constexpr size_t kSignatureOffset = 510;
constexpr uint8_t kExtendedBootSignature = 0x29;

// FSInfo (FAT specification 5).
constexpr size_t kFsiLeadSig = 0;
constexpr size_t kFsiStrucSig = 484;
constexpr size_t kFsiFreeCount = 488;
constexpr size_t kFsiNxtFree = 492;
constexpr size_t kFsiTrailSig = 508;

// MBR: disk signature, partition table, boot signature.
constexpr size_t kMbrDiskSignature = 440;
constexpr size_t kMbrPartition0 = 446;
// CHS addressing ends at cylinder 1023 of 255 heads x 63 sectors.
constexpr uint64_t kChsLimitSectors = 1024ULL * 255 * 63;

constexpr std::string_view kMessage =
    "This is not a bootable disk. It is a host directory shown by imgfs.\r\n"
    "Press any key to try again ...\r\n";

// Real-mode code: DS=0, print the message at 0x7c00 + code offset + 0x1f
// with INT 10h/0Eh, wait for a key (INT 16h), then INT 19h to retry boot.
void PutBootCode(std::byte* sector, size_t offset) {
  const auto msg = static_cast<uint16_t>(0x7c00 + offset + 0x1f);
  const uint8_t code[] = {
      0x31,
      0xc0,  // xor ax, ax
      0x8e,
      0xd8,  // mov ds, ax
      0xbe,
      static_cast<uint8_t>(msg & 0xff),  // mov si, msg
      static_cast<uint8_t>(msg >> 8),    //
      0xac,                              // lodsb
      0x84,
      0xc0,  // test al, al
      0x74,
      0x0b,  // jz done
      0x56,  // push si
      0xb4,
      0x0e,  // mov ah, 0x0e
      0xbb,
      0x07,
      0x00,  // mov bx, 7
      0xcd,
      0x10,  // int 0x10
      0x5e,  // pop si
      0xeb,
      0xf0,  // jmp lodsb
      0x32,
      0xe4,  // done: xor ah, ah
      0xcd,
      0x16,  // int 0x16
      0xcd,
      0x19,  // int 0x19
      0xeb,
      0xfe,  // jmp $
  };
  static_assert(sizeof code == 0x1f);
  std::memcpy(sector + offset, code, sizeof code);
  std::memcpy(sector + offset + sizeof code, kMessage.data(), kMessage.size());
}

void PutBytes(std::byte* p, std::string_view s) { std::memcpy(p, s.data(), s.size()); }

void PutSignature(Sector* s) {
  (*s)[kSignatureOffset] = std::byte{0x55};
  (*s)[kSignatureOffset + 1] = std::byte{0xaa};
}

void PutChs(std::byte* p, uint64_t lba) {
  if (lba >= kChsLimitSectors) {
    p[0] = std::byte{0xfe};
    p[1] = std::byte{0xff};
    p[2] = std::byte{0xff};
    return;
  }
  const uint64_t cyl = lba / (255 * 63);
  const uint64_t head = (lba / 63) % 255;
  const uint64_t sec = lba % 63 + 1;
  p[0] = static_cast<std::byte>(head);
  p[1] = static_cast<std::byte>(sec | ((cyl >> 2) & 0xc0));
  p[2] = static_cast<std::byte>(cyl & 0xff);
}

}  // namespace

Sector EncodeBootSector(const Geometry& g, uint32_t serial, const VolumeLabel& label) {
  Sector s{};
  std::byte* p = s.data();
  const bool fat32 = g.type == FatType::kFat32;
  const size_t ext = fat32 ? kExt32 : kExt16;
  const size_t code = ext + kExtBootCode;
  p[kBsJmpBoot] = std::byte{0xeb};
  p[kBsJmpBoot + 1] = static_cast<std::byte>(code - 2);
  p[kBsJmpBoot + 2] = std::byte{0x90};
  PutBytes(p + kBsOemName, "MSWIN4.1");  // what the specification recommends
  StoreLE16(p + kBpbBytsPerSec, kSectorBytes);
  p[kBpbSecPerClus] = static_cast<std::byte>(g.sectors_per_cluster);
  StoreLE16(p + kBpbRsvdSecCnt, static_cast<uint16_t>(g.reserved_sectors));
  p[kBpbNumFats] = static_cast<std::byte>(g.fat_count);
  StoreLE16(p + kBpbRootEntCnt, static_cast<uint16_t>(g.root_entries));
  if (g.volume_sectors < 0x10000 && !fat32) {
    StoreLE16(p + kBpbTotSec16, static_cast<uint16_t>(g.volume_sectors));
  } else {
    StoreLE32(p + kBpbTotSec32, g.volume_sectors);
  }
  p[kBpbMedia] = static_cast<std::byte>(g.media);
  if (!fat32) {
    StoreLE16(p + kBpbFatSz16, static_cast<uint16_t>(g.fat_sectors));
  }
  StoreLE16(p + kBpbSecPerTrk, g.sectors_per_track);
  StoreLE16(p + kBpbNumHeads, g.heads);
  StoreLE32(p + kBpbHiddSec, g.partition_start);
  if (fat32) {
    StoreLE32(p + kBpb32FatSz32, g.fat_sectors);
    StoreLE32(p + kBpb32RootClus, kFirstCluster);
    StoreLE16(p + kBpb32FsInfo, kFsInfoSector);
    StoreLE16(p + kBpb32BkBootSec, kBackupBootSector);
  }
  p[ext + kExtDrvNum] = std::byte{static_cast<uint8_t>(g.floppy ? 0x00 : 0x80)};
  p[ext + kExtBootSig] = std::byte{kExtendedBootSignature};
  StoreLE32(p + ext + kExtVolId, serial);
  std::memcpy(p + ext + kExtVolLab, label.data(), label.size());
  PutBytes(p + ext + kExtFilSysType, fat32                       ? "FAT32   "
                                     : g.type == FatType::kFat16 ? "FAT16   "
                                                                 : "FAT12   ");
  PutBootCode(p, code);
  PutSignature(&s);
  return s;
}

Sector EncodeFsInfo(uint32_t free_clusters, uint32_t next_free) {
  Sector s{};
  StoreLE32(s.data() + kFsiLeadSig, 0x41615252);
  StoreLE32(s.data() + kFsiStrucSig, 0x61417272);
  StoreLE32(s.data() + kFsiFreeCount, free_clusters);
  StoreLE32(s.data() + kFsiNxtFree, next_free);
  StoreLE32(s.data() + kFsiTrailSig, 0xaa550000);
  return s;
}

uint8_t PartitionType(const Geometry& g) {
  const uint64_t end = uint64_t{g.partition_start} + g.volume_sectors;
  switch (g.type) {
    case FatType::kFat12:
      return 0x01;
    case FatType::kFat16:
      if (g.volume_sectors < 0x10000) {
        return 0x04;
      }
      return end <= kChsLimitSectors ? 0x06 : 0x0e;
    case FatType::kFat32:
      return end <= kChsLimitSectors ? 0x0b : 0x0c;
  }
  return 0;
}

Sector EncodeMbr(const Geometry& g, uint32_t disk_signature) {
  Sector s{};
  std::byte* p = s.data();
  PutBootCode(p, 0);
  StoreLE32(p + kMbrDiskSignature, disk_signature);
  std::byte* e = p + kMbrPartition0;
  e[0] = std::byte{0x80};  // active, so a BIOS runs the boot sector's message
  PutChs(e + 1, g.partition_start);
  e[4] = std::byte{PartitionType(g)};
  PutChs(e + 5, uint64_t{g.partition_start} + g.volume_sectors - 1);
  StoreLE32(e + 8, g.partition_start);
  StoreLE32(e + 12, g.volume_sectors);
  PutSignature(&s);
  return s;
}

std::vector<std::byte> EncodeReservedArea(const Geometry& g, uint32_t serial,
                                          const VolumeLabel& label, uint32_t free_clusters,
                                          uint32_t next_free) {
  std::vector<std::byte> area(size_t{g.reserved_sectors} * kSectorBytes);
  const Sector boot = EncodeBootSector(g, serial, label);
  std::copy(boot.begin(), boot.end(), area.begin());
  if (g.type == FatType::kFat32) {
    const Sector info = EncodeFsInfo(free_clusters, next_free);
    for (uint32_t base : {0U, kBackupBootSector}) {
      std::copy(boot.begin(), boot.end(), area.begin() + base * kSectorBytes);
      std::copy(info.begin(), info.end(), area.begin() + (base + kFsInfoSector) * kSectorBytes);
    }
  }
  return area;
}

}  // namespace imgfs::vvfat
