// SPDX-License-Identifier: MIT
// Planning a FAT volume (see geometry.h).
#include "vvfat/geometry.h"

#include <algorithm>
#include <array>
#include <vector>

#include "core/util/checked.h"

namespace imgfs::vvfat {
namespace {

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kMaxVolumeSectors = 0xffffffffULL;  // BPB_TotSec32
// The fixed root directory mkfs.fat gives a hard disk.
constexpr uint32_t kHardDiskRootEntries = 512;
// FAT32 keeps 32 reserved sectors (boot, FSInfo, backup at 6), as mkfs.fat.
constexpr uint32_t kFat32ReservedSectors = 32;
// Microsoft's format picks FAT16 below 512 MiB and FAT32 above (the
// specification's DskTableFAT16/DskTableFAT32); FAT12 below 4.1 MB.
constexpr uint64_t kFat12BelowSectors = 8400;
constexpr uint64_t kFat16BelowSectors = 1048576;

struct FloppyFormat {
  uint64_t bytes;
  uint32_t sectors;
  uint32_t sectors_per_cluster;
  uint32_t root_entries;
  uint32_t fat_sectors;
  uint8_t media;
  uint16_t sectors_per_track;
};

// The BPBs DOS formats floppies with (360K, 720K, 1.2M, 1.44M, 2.88M).
constexpr std::array<FloppyFormat, 5> kFloppies = {{
    {368640, 720, 2, 112, 2, 0xfd, 9},
    {737280, 1440, 2, 112, 3, 0xf9, 9},
    {1228800, 2400, 1, 224, 7, 0xf9, 15},
    {1474560, 2880, 1, 224, 9, 0xf0, 18},
    {2949120, 5760, 2, 240, 9, 0xf0, 36},
}};

uint64_t MinClusters(FatType t) {
  switch (t) {
    case FatType::kFat12:
      return 1;
    case FatType::kFat16:
      return kMaxFat12Clusters + 1;
    case FatType::kFat32:
      return kMaxFat16Clusters + 1;
  }
  return 1;
}

uint64_t MaxClusters(FatType t) {
  switch (t) {
    case FatType::kFat12:
      return kMaxFat12Clusters;
    case FatType::kFat16:
      return kMaxFat16Clusters;
    case FatType::kFat32:
      return kMaxFat32Clusters;
  }
  return 0;
}

uint32_t EntryBits(FatType t) { return static_cast<uint32_t>(t); }

// The specification's cluster-size tables, in sectors per cluster.
uint32_t DefaultSectorsPerCluster(FatType t, uint64_t volume_sectors) {
  if (t == FatType::kFat12) {
    uint32_t spc = 1;
    while (spc < kMaxDefaultClusterBytes / kSectorBytes &&
           volume_sectors / spc > kMaxFat12Clusters) {
      spc *= 2;
    }
    return spc;
  }
  if (t == FatType::kFat16) {
    if (volume_sectors <= 32680) {
      return 2;
    }
    if (volume_sectors <= 262144) {
      return 4;
    }
    if (volume_sectors <= 524288) {
      return 8;
    }
    if (volume_sectors <= 1048576) {
      return 16;
    }
    return volume_sectors <= 2097152 ? 32 : 64;
  }
  if (volume_sectors <= 532480) {
    return 1;
  }
  if (volume_sectors <= 16777216) {
    return 8;
  }
  if (volume_sectors <= 33554432) {
    return 16;
  }
  return volume_sectors <= 67108864 ? 32 : 64;
}

FatType TypeForVolumeSectors(uint64_t sectors) {
  if (sectors < kFat12BelowSectors) {
    return FatType::kFat12;
  }
  return sectors < kFat16BelowSectors ? FatType::kFat16 : FatType::kFat32;
}

Geometry BaseGeometry(FatType t, uint32_t spc, bool mbr) {
  Geometry g;
  g.type = t;
  g.sectors_per_cluster = spc;
  g.reserved_sectors = t == FatType::kFat32 ? kFat32ReservedSectors : 1;
  g.root_entries = t == FatType::kFat32 ? 0 : kHardDiskRootEntries;
  g.partition_start = mbr ? kPartitionStartSectors : 0;
  return g;
}

// Clusters the tree takes in a volume of this type and cluster size: on
// FAT32 the root directory is a cluster chain too.
uint64_t NeededClusters(const Needs& needs, const Geometry& g) {
  uint64_t n = needs.clusters(g.cluster_bytes());
  if (g.type == FatType::kFat32) {
    n += std::max<uint64_t>(1, DivRoundUp(uint64_t{needs.root_entries} * 32, g.cluster_bytes()));
  }
  return n;
}

bool RootFits(const Needs& needs, const Geometry& g) {
  return g.type == FatType::kFat32 || needs.root_entries <= g.root_entries;
}

// Volume sectors for exactly `clusters` clusters.
uint64_t VolumeSectorsFor(const Geometry& base, uint64_t clusters) {
  const uint64_t fat_sectors =
      DivRoundUp((clusters + kFirstCluster) * EntryBits(base.type), 8 * kSectorBytes);
  return base.reserved_sectors + base.fat_count * fat_sectors + base.root_sectors() +
         clusters * base.sectors_per_cluster;
}

std::string Bytes(uint64_t b) {
  if (b >= kMiB && b % kMiB == 0) {
    return std::to_string(b / kMiB) + " MiB";
  }
  if (b >= 1024 && b % 1024 == 0) {
    return std::to_string(b / 1024) + " KiB";
  }
  return std::to_string(b) + " bytes";
}

std::string RootOverflow(const Needs& needs, const Geometry& g) {
  return "the root directory needs " + std::to_string(needs.root_entries) + " entries but " +
         FatTypeName(g.type) + "'s fixed root directory holds " + std::to_string(g.root_entries) +
         " (move files into a subdirectory, or use --fat-type 32)";
}

// Grows a volume of type t around the tree; nullopt when t cannot hold it.
std::optional<Geometry> GrowVolume(FatType t, const PlanOptions& o, const Needs& needs,
                                   std::string* why) {
  const uint64_t est_sectors =
      DivRoundUp(needs.data_bytes + needs.data_bytes / 8 + kMiB, kSectorBytes);
  uint32_t spc =
      o.cluster_bytes ? *o.cluster_bytes / kSectorBytes : DefaultSectorsPerCluster(t, est_sectors);
  for (int attempt = 0; attempt < 16; ++attempt) {
    Geometry g = BaseGeometry(t, spc, o.mbr);
    if (!RootFits(needs, g)) {
      *why = RootOverflow(needs, g);
      return std::nullopt;
    }
    const uint64_t need = NeededClusters(needs, g);
    const uint64_t free_clusters = DivRoundUp(kMiB + needs.data_bytes / 8, g.cluster_bytes());
    const uint64_t target = std::max(need + free_clusters, MinClusters(t));
    const uint64_t sectors = VolumeSectorsFor(g, target);
    const bool too_big = target > MaxClusters(t) || sectors + g.partition_start > kMaxVolumeSectors;
    if (too_big) {
      if (o.cluster_bytes || g.cluster_bytes() >= kMaxDefaultClusterBytes) {
        *why = "the tree needs " + std::to_string(need) + " clusters of " +
               Bytes(g.cluster_bytes()) + ", more than " + FatTypeName(t) + " allows";
        return std::nullopt;
      }
      spc *= 2;
      continue;
    }
    g.volume_sectors = static_cast<uint32_t>(sectors);
    SolveFat(&g);
    if (!o.cluster_bytes && DefaultSectorsPerCluster(t, g.volume_sectors) > spc &&
        g.cluster_bytes() < kMaxDefaultClusterBytes) {
      spc *= 2;  // the table wants bigger clusters for a volume this big
      continue;
    }
    if (TypeForClusterCount(g.cluster_count) != t || g.cluster_count < need) {
      *why = "no " + FatTypeName(t) + " layout found for " + std::to_string(need) + " clusters";
      return std::nullopt;
    }
    return g;
  }
  *why = "no " + FatTypeName(t) + " layout found";
  return std::nullopt;
}

// A volume of the given size; nullopt (with *why) when it cannot hold the
// tree as type t with any allowed cluster size.
std::optional<Geometry> FitVolume(FatType t, uint64_t volume_sectors, const PlanOptions& o,
                                  const Needs& needs, std::string* why) {
  std::vector<uint32_t> spcs;
  if (o.cluster_bytes) {
    spcs.push_back(*o.cluster_bytes / kSectorBytes);
  } else {
    spcs.push_back(DefaultSectorsPerCluster(t, volume_sectors));
    for (uint32_t spc = 1; spc <= kMaxDefaultClusterBytes / kSectorBytes; spc *= 2) {
      spcs.push_back(spc);
    }
  }
  for (uint32_t spc : spcs) {
    Geometry g = BaseGeometry(t, spc, o.mbr);
    g.volume_sectors = static_cast<uint32_t>(volume_sectors);
    if (volume_sectors <= g.data_start()) {
      continue;
    }
    SolveFat(&g);
    if (!RootFits(needs, g)) {
      *why = RootOverflow(needs, g);
      return std::nullopt;
    }
    if (TypeForClusterCount(g.cluster_count) != t) {
      *why = "a volume of " + Bytes(volume_sectors * kSectorBytes) + " has " +
             std::to_string(g.cluster_count) + " clusters of " + Bytes(g.cluster_bytes()) +
             ", which makes " + FatTypeName(TypeForClusterCount(g.cluster_count)) + ", not " +
             FatTypeName(t);
      continue;
    }
    if (g.cluster_count < NeededClusters(needs, g)) {
      *why = "the tree needs " + std::to_string(NeededClusters(needs, g)) + " clusters of " +
             Bytes(g.cluster_bytes()) + " but " + FatTypeName(t) + " on this size has " +
             std::to_string(g.cluster_count);
      continue;
    }
    return g;
  }
  return std::nullopt;
}

Result<Geometry> PlanFloppy(const PlanOptions& o, const Needs& needs) {
  for (const FloppyFormat& f : kFloppies) {
    if (f.bytes != *o.floppy_bytes) {
      continue;
    }
    Geometry g;
    g.type = FatType::kFat12;
    g.floppy = true;
    g.sectors_per_cluster = f.sectors_per_cluster;
    g.root_entries = f.root_entries;
    g.fat_sectors = f.fat_sectors;
    g.volume_sectors = f.sectors;
    g.media = f.media;
    g.sectors_per_track = f.sectors_per_track;
    g.heads = 2;
    g.cluster_count = (g.volume_sectors - g.data_start()) / g.sectors_per_cluster;
    if (!RootFits(needs, g)) {
      return NoSpaceError("vvfat: " + RootOverflow(needs, g));
    }
    const uint64_t need = NeededClusters(needs, g);
    if (need > g.cluster_count) {
      return NoSpaceError("vvfat: the tree needs " + Bytes(need * g.cluster_bytes()) + " but a " +
                          Bytes(f.bytes) + " floppy holds " +
                          Bytes(uint64_t{g.cluster_count} * g.cluster_bytes()) +
                          " (drop --floppy for a bigger disk)");
    }
    return g;
  }
  return InvalidArgumentError("vvfat: --floppy: " + std::to_string(*o.floppy_bytes) +
                              " bytes is not 360K, 720K, 1200K, 1440K or 2880K");
}

}  // namespace

FatType TypeForClusterCount(uint64_t clusters) {
  if (clusters <= kMaxFat12Clusters) {
    return FatType::kFat12;
  }
  return clusters <= kMaxFat16Clusters ? FatType::kFat16 : FatType::kFat32;
}

std::string FatTypeName(FatType type) { return "FAT" + std::to_string(static_cast<int>(type)); }

bool IsFloppySize(uint64_t bytes) {
  return std::any_of(kFloppies.begin(), kFloppies.end(),
                     [bytes](const FloppyFormat& f) { return f.bytes == bytes; });
}

uint64_t Geometry::fat_entry_bytes() const {
  return (uint64_t{cluster_count} + kFirstCluster) * EntryBits(type) / 8 +
         (type == FatType::kFat12 && (cluster_count % 2) != 0 ? 1 : 0);
}

void SolveFat(Geometry* g) {
  const uint64_t fixed = uint64_t{g->reserved_sectors} + g->root_sectors();
  auto clusters_with = [&](uint64_t fat) -> uint64_t {
    const uint64_t used = fixed + g->fat_count * fat;
    return g->volume_sectors > used ? (g->volume_sectors - used) / g->sectors_per_cluster : 0;
  };
  auto fat_needed = [&](uint64_t clusters) {
    return DivRoundUp((clusters + kFirstCluster) * EntryBits(g->type), 8 * kSectorBytes);
  };
  // The smallest FAT that holds the clusters left beside it: the sectors
  // a FAT needs fall as it grows, so binary search over its size.
  uint64_t lo = 1;
  uint64_t hi = std::max<uint64_t>(1, fat_needed(clusters_with(1)));
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (fat_needed(clusters_with(mid)) <= mid) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  uint64_t clusters = clusters_with(lo);
  if (g->type == FatType::kFat32) {
    clusters = std::min(clusters, kMaxFat32Clusters);
  }
  g->fat_sectors = static_cast<uint32_t>(lo);
  g->cluster_count = static_cast<uint32_t>(clusters);
}

Result<Geometry> PlanGeometry(const PlanOptions& o, const Needs& needs) {
  if (o.cluster_bytes) {
    const uint32_t c = *o.cluster_bytes;
    if (c < kSectorBytes || c > kMaxClusterBytes || (c & (c - 1)) != 0) {
      return InvalidArgumentError("vvfat: --cluster-size must be a power of two from 512 to 64K");
    }
  }
  if (o.floppy_bytes) {
    return PlanFloppy(o, needs);
  }
  std::vector<FatType> types;
  std::string why;
  if (o.disk_bytes) {
    const uint64_t start = o.mbr ? kPartitionStartSectors : 0;
    const uint64_t sectors = *o.disk_bytes / kSectorBytes;
    if (*o.disk_bytes % kSectorBytes != 0 || sectors <= start ||
        sectors - start > kMaxVolumeSectors) {
      return InvalidArgumentError("vvfat: --size must be a multiple of 512 bytes, more than " +
                                  Bytes(start * kSectorBytes) + " and at most 2 TiB");
    }
    const uint64_t volume = sectors - start;
    if (o.type) {
      types = {*o.type};
    } else {
      const FatType t = TypeForVolumeSectors(volume);
      types = {t, FatType::kFat16, FatType::kFat32, FatType::kFat12};
    }
    for (FatType t : types) {
      if (auto g = FitVolume(t, volume, o, needs, &why)) {
        return *g;
      }
    }
    // Say what would fit: the size the tree gets without --size.
    PlanOptions grow = o;
    grow.disk_bytes.reset();
    auto fit = PlanGeometry(grow, needs);
    std::string hint = fit.ok() ? "; --size " + Bytes(fit->disk_bytes()) + " would fit as " +
                                      FatTypeName(fit->type)
                                : "";
    return NoSpaceError("vvfat: cannot fit the tree in " + Bytes(*o.disk_bytes) + ": " + why +
                        hint);
  }
  if (o.type) {
    types = {*o.type};
  } else {
    const uint64_t est = DivRoundUp(needs.data_bytes + needs.data_bytes / 8 + kMiB, kSectorBytes);
    const FatType t = TypeForVolumeSectors(est);
    types = {t};
    if (t != FatType::kFat32) {
      types.push_back(t == FatType::kFat12 ? FatType::kFat16 : FatType::kFat32);
    }
    if (t == FatType::kFat12) {
      types.push_back(FatType::kFat32);
    }
  }
  for (FatType t : types) {
    if (auto g = GrowVolume(t, o, needs, &why)) {
      return *g;
    }
  }
  std::string hint;
  if (o.type || o.cluster_bytes) {
    PlanOptions any = o;
    any.type.reset();
    any.cluster_bytes.reset();
    if (auto fit = PlanGeometry(any, needs); fit.ok()) {
      hint = "; it fits as " + FatTypeName(fit->type) + " with " + Bytes(fit->cluster_bytes()) +
             " clusters in " + Bytes(fit->disk_bytes());
    }
  }
  return NoSpaceError("vvfat: cannot lay out the tree: " + why + hint);
}

}  // namespace imgfs::vvfat
