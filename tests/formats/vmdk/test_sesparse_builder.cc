// SPDX-License-Identifier: MIT
// The seSparse test writer (see test_sesparse_builder.h).
#include "tests/formats/vmdk/test_sesparse_builder.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace imgfs::vmdk::testing {
namespace {

constexpr uint64_t kSector = 512;
constexpr uint64_t kGrainSectors = kSeGrainBytes / kSector;
constexpr uint64_t kGtSectors = kSeGtesPerGt * 8 / kSector;  // 64
constexpr uint64_t kEsxRegionSectors = 2048;                 // ESXi rounds regions to 1 MiB

uint64_t RoundUp(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }
uint64_t Ceil(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// Every guest grain the spec gives an entry, with its entry kind.
std::set<uint64_t> NamedGrains(const SeSparseSpec& spec) {
  std::set<uint64_t> all(spec.zero_grains.begin(), spec.zero_grains.end());
  all.insert(spec.unmapped_grains.begin(), spec.unmapped_grains.end());
  for (const auto& [grain, data] : spec.grains) {
    all.insert(grain);
  }
  return all;
}

}  // namespace

void Put64(std::string* bytes, uint64_t at, uint64_t value) {
  for (int i = 0; i < 8; ++i) {
    (*bytes)[at + static_cast<uint64_t>(i)] = static_cast<char>((value >> (8 * i)) & 0xff);
  }
}

uint64_t AllocatedGte(uint64_t cluster) {
  return (uint64_t{3} << 60) | ((cluster & 0xfff) << 48) | ((cluster >> 12) & 0xffffffffffff);
}

std::string BuildSeSparse(const SeSparseSpec& spec, SeSparseLayout* layout) {
  SeSparseLayout l;
  const uint64_t tables_needed = Ceil(spec.capacity_sectors, kGrainSectors * kSeGtesPerGt);
  // Directory slots that get a table, and the table each gets.
  std::set<uint64_t> slots(spec.empty_tables.begin(), spec.empty_tables.end());
  for (uint64_t grain : NamedGrains(spec)) {
    slots.insert(grain / kSeGtesPerGt);
  }
  std::vector<uint64_t> slot_order(slots.begin(), slots.end());
  if (spec.reverse_storage) {
    std::reverse(slot_order.begin(), slot_order.end());
  }
  for (size_t i = 0; i < slot_order.size(); ++i) {
    l.table_of_slot[slot_order[i]] = i;
  }
  std::vector<uint64_t> grain_order;
  for (const auto& [grain, data] : spec.grains) {
    grain_order.push_back(grain);
  }
  if (spec.reverse_storage) {
    std::reverse(grain_order.begin(), grain_order.end());
  }
  for (size_t i = 0; i < grain_order.size(); ++i) {
    l.cluster_of_grain[grain_order[i]] = spec.first_cluster + i;
  }
  // Region offsets and sizes, in sectors: (offset, size) per header pair.
  uint64_t journal_header[2] = {0, 0}, journal[2] = {0, 0}, gts[2], bitmap[2] = {0, 0},
           backmap[2] = {0, 0}, grains[2];
  l.volatile_sector = 1;
  if (spec.compact) {
    l.gd_sector = 2;
    l.gd_sectors = Ceil(tables_needed * 8, kSector);
    gts[0] = l.gd_sector + l.gd_sectors;
    gts[1] = slots.size() * kGtSectors;
    grains[0] = gts[0] + gts[1];
    grains[1] = (spec.first_cluster + grain_order.size()) * kGrainSectors;
  } else {
    journal_header[0] = 2;
    journal_header[1] = 2;
    journal[0] = 2048;
    journal[1] = 2048;
    l.gd_sector = 4096;
    l.gd_sectors = RoundUp(Ceil(tables_needed * 8, kSector), kEsxRegionSectors);
    gts[0] = l.gd_sector + l.gd_sectors;
    gts[1] = RoundUp(tables_needed * kGtSectors, kEsxRegionSectors);
    bitmap[0] = gts[0] + gts[1];
    bitmap[1] =
        RoundUp(Ceil(Ceil(spec.capacity_sectors, kGrainSectors), 8 * kSector), kEsxRegionSectors);
    backmap[0] = bitmap[0] + bitmap[1];
    backmap[1] = gts[1];
    grains[0] = backmap[0] + backmap[1];
    grains[1] = spec.capacity_sectors;
  }
  l.gts_sector = gts[0];
  l.grains_sector = grains[0];
  std::string out((grains[0] + (spec.first_cluster + grain_order.size()) * kGrainSectors) * kSector,
                  '\0');
  // The constant header.
  Put64(&out, 0, 0xcafebabe);
  Put64(&out, 8, 0x0000000200000001);
  Put64(&out, 16, spec.capacity_sectors);
  Put64(&out, 24, kGrainSectors);
  Put64(&out, 32, kGtSectors);
  const uint64_t pairs[8][2] = {{l.volatile_sector, 1},   {journal_header[0], journal_header[1]},
                                {journal[0], journal[1]}, {l.gd_sector, l.gd_sectors},
                                {gts[0], gts[1]},         {bitmap[0], bitmap[1]},
                                {backmap[0], backmap[1]}, {grains[0], grains[1]}};
  for (size_t i = 0; i < 8; ++i) {
    Put64(&out, 80 + 16 * i, pairs[i][0]);
    Put64(&out, 88 + 16 * i, pairs[i][1]);
  }
  // The volatile header.
  const uint64_t vol = l.volatile_sector * kSector;
  Put64(&out, vol, 0xcafecafe);
  Put64(&out, vol + 8, slots.size());  // the next free grain table
  Put64(&out, vol + 16, 1);            // next transaction
  Put64(&out, vol + 24, spec.replay_journal);
  // The directory, the tables and the grains.
  for (const auto& [slot, table] : l.table_of_slot) {
    Put64(&out, l.gd_sector * kSector + 8 * slot, (uint64_t{0x10000000} << 32) | table);
  }
  auto entry_at = [&](uint64_t grain) {
    return (gts[0] + l.table_of_slot.at(grain / kSeGtesPerGt) * kGtSectors) * kSector +
           8 * (grain % kSeGtesPerGt);
  };
  for (uint64_t grain : spec.zero_grains) {
    Put64(&out, entry_at(grain), uint64_t{2} << 60);
  }
  for (uint64_t grain : spec.unmapped_grains) {
    Put64(&out, entry_at(grain), uint64_t{1} << 60);
  }
  for (const auto& [grain, data] : spec.grains) {
    const uint64_t cluster = l.cluster_of_grain.at(grain);
    Put64(&out, entry_at(grain), AllocatedGte(cluster));
    out.replace((grains[0] + cluster * kGrainSectors) * kSector,
                std::min<size_t>(data.size(), kSeGrainBytes), data, 0, kSeGrainBytes);
  }
  if (layout != nullptr) {
    *layout = l;
  }
  return out;
}

std::string ExpectedSeSparseDisk(const SeSparseSpec& spec, const std::string& parent_raw) {
  const uint64_t bytes = spec.capacity_sectors * kSector;
  std::string disk = parent_raw.substr(0, bytes);
  disk.resize(bytes, '\0');
  auto put = [&](uint64_t grain, const std::string& data) {
    const uint64_t at = grain * kSeGrainBytes;
    if (at < bytes) {
      std::string g = data.substr(0, kSeGrainBytes);
      g.resize(kSeGrainBytes, '\0');
      disk.replace(at, std::min(kSeGrainBytes, bytes - at), g, 0, bytes - at);
    }
  };
  for (uint64_t grain : spec.zero_grains) {
    put(grain, "");
  }
  for (uint64_t grain : spec.unmapped_grains) {
    put(grain, "");
  }
  for (const auto& [grain, data] : spec.grains) {
    put(grain, data);
  }
  return disk;
}

std::string SeSparseDescriptor(uint64_t sectors, const std::string& extent, uint32_t cid,
                               uint32_t parent_cid, const std::string& parent_hint) {
  char ids[64];
  std::snprintf(ids, sizeof ids, "CID=%08x\nparentCID=%08x\n", cid, parent_cid);
  return "# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\n" + std::string(ids) +
         "createType=\"seSparse\"\n" +
         (parent_hint.empty() ? "" : "parentFileNameHint=\"" + parent_hint + "\"\n") +
         "\n# Extent description\nRW " + std::to_string(sectors) + " SESPARSE \"" + extent +
         "\"\n\n# The Disk Data Base\n#DDB\n\nddb.grain = \"8\"\n"
         "ddb.virtualHWVersion = \"14\"\n";
}

std::string SePattern(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    out[i] = static_cast<char>((x >> 16) & 0xff);
  }
  return out;
}

}  // namespace imgfs::vmdk::testing
