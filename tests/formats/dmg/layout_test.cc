// SPDX-License-Identifier: MIT
// blkx planning: hdiutil's names and numbering for GPT, MBR and APM disks,
// the whole-disk fallback, and the data/zero sector runs of a device.
#include "formats/dmg/layout.h"

#include <gtest/gtest.h>

#include "tests/fuse/fake_device.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::dmg {
namespace {

using ::imgfs::testing::Ext;
using ::imgfs::testing::FakeDevice;

constexpr uint64_t kMiB = 1 << 20;

Partition Part(uint32_t number, std::string type, std::string name, uint64_t start_sector,
               uint64_t sectors) {
  Partition p;
  p.number = number;
  p.type = std::move(type);
  p.name = std::move(name);
  p.start_bytes = start_sector * 512;
  p.length_bytes = sectors * 512;
  return p;
}

std::vector<std::string> Names(const DiskLayout& layout) {
  std::vector<std::string> names;
  for (const BlkxRegion& r : layout.regions) {
    names.push_back(r.name);
  }
  return names;
}

// Regions must tile the disk and be numbered 0, 1, ... with IDs from -1
// (a whole disk: ID 0), with the block descriptors of WRITER.md: n for
// MBR and GPT (hdiutil), the ID for APM (libdmg-hfsplus), entire device
// for a whole disk.
void ExpectTiles(const DiskLayout& layout) {
  uint64_t pos = 0;
  for (size_t i = 0; i < layout.regions.size(); ++i) {
    const BlkxRegion& r = layout.regions[i];
    EXPECT_EQ(r.first_sector, pos) << r.name;
    EXPECT_GT(r.sector_count, 0u) << r.name;
    EXPECT_EQ(r.number, i);
    EXPECT_EQ(r.free_space, r.name.find("(Apple_Free : ") != std::string::npos) << r.name;
    if (layout.scheme == PartitionScheme::kNone) {
      EXPECT_EQ(r.id, 0);
      EXPECT_EQ(r.descriptor, kDescriptorEntireDevice);
    } else {
      EXPECT_EQ(r.id, static_cast<int32_t>(i) - 1);
      EXPECT_EQ(r.descriptor, layout.scheme == PartitionScheme::kApm ? static_cast<uint32_t>(r.id)
                                                                     : static_cast<uint32_t>(i))
          << r.name;
    }
    pos += r.sector_count;
  }
  EXPECT_EQ(pos, layout.sector_count);
}

TEST(LayoutTest, GptDiskIsNamedAsHdiutilNamesIt) {
  PartitionTable t;
  t.scheme = PartitionScheme::kGpt;
  t.partitions.push_back(
      Part(1, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "EFI System Partition", 40, 409600));
  t.partitions.push_back(
      Part(2, "48465300-0000-11AA-AA11-00306543ECAC", "disk image", 409640, 100000));
  const uint64_t sectors = 600000;
  DiskLayout l = PlanLayout(sectors * 512, t, GptGeometry{2, 32, sectors - 1}, "unused");
  EXPECT_EQ(l.image_variant, kVariantDevice);
  EXPECT_EQ(Names(l), (std::vector<std::string>{
                          "Protective Master Boot Record (MBR : 0)",
                          "GPT Header (Primary GPT Header : 1)",
                          "GPT Partition Data (Primary GPT Table : 2)",
                          " (Apple_Free : 3)",
                          "EFI System Partition (C12A7328-F81F-11D2-BA4B-00A0C93EC93B : 4)",
                          "disk image (Apple_HFS : 5)",
                          " (Apple_Free : 6)",
                          "GPT Partition Data (Backup GPT Table : 7)",
                          "GPT Header (Backup GPT Header : 8)",
                      }));
  ExpectTiles(l);
  EXPECT_EQ(l.regions[3].first_sector, 34u);
  EXPECT_EQ(l.regions[3].sector_count, 6u);
  EXPECT_EQ(l.regions[7].first_sector, sectors - 33);
}

TEST(LayoutTest, MbrSkipsTheExtendedContainerAndNamesTypes) {
  PartitionTable t;
  t.scheme = PartitionScheme::kMbr;
  t.partitions.push_back(Part(1, "0x0c", "", 2048, 2048));
  t.partitions.push_back(Part(2, "0x05", "", 4096, 8192));  // extended container
  t.partitions.push_back(Part(5, "0x83", "", 4097, 4095));
  t.partitions.push_back(Part(6, "0xef", "", 8193, 4095));
  DiskLayout l = PlanLayout(12288 * 512, t, {}, "unused");
  EXPECT_EQ(Names(l), (std::vector<std::string>{
                          "Master Boot Record (MBR : 0)",
                          " (Apple_Free : 1)",
                          " (Windows_FAT_32 : 2)",
                          " (Apple_Free : 3)",  // the EBR of partition 5
                          " (Linux : 4)",
                          " (Apple_Free : 5)",
                          " (Type EF : 6)",
                      }));
  ExpectTiles(l);
}

TEST(LayoutTest, ApmMapEntriesBecomeBlkx) {
  PartitionTable t;
  t.scheme = PartitionScheme::kApm;
  t.partitions.push_back(Part(1, "Apple_partition_map", "Apple", 1, 63));
  t.partitions.push_back(Part(2, "Apple_HFS", "disk image", 64, 1000));
  t.partitions.push_back(Part(3, "Apple_Free", "", 1064, 10));
  DiskLayout l = PlanLayout(1074 * 512, t, {}, "unused");
  EXPECT_EQ(Names(l), (std::vector<std::string>{
                          "Driver Descriptor Map (DDM : 0)",
                          "Apple (Apple_partition_map : 1)",
                          "disk image (Apple_HFS : 2)",
                          " (Apple_Free : 3)",
                      }));
  ExpectTiles(l);
  EXPECT_EQ(l.regions[0].descriptor, kDescriptorDdm);  // libdmg-hfsplus's DDM_DESCRIPTOR
}

// Zero runs as hdiutil shapes them, on a grid of 8-sector cells.
std::string Shape(const BlkxRegion& region, uint64_t rel, uint64_t count) {
  std::vector<Chunk> chunks;
  AppendZeroChunks(region, 8, rel, count, 777, &chunks);
  std::string s;
  for (const Chunk& c : chunks) {
    EXPECT_EQ(c.compressed_length, 0u);
    EXPECT_EQ(c.compressed_offset, 777u);  // the data-fork position
    s += (c.type == ChunkType::kZeroFill ? "Z"
          : c.type == ChunkType::kIgnore ? "I"
                                         : "?") +
         std::to_string(c.sector_number) + "+" + std::to_string(c.sector_count) + " ";
  }
  return s;
}

TEST(LayoutTest, ZeroRunsAreZeroFillWithinACellAndIgnoreForWholeCells) {
  BlkxRegion part;
  EXPECT_EQ(Shape(part, 3, 4), "Z3+4 ");               // inside one cell
  EXPECT_EQ(Shape(part, 5, 6), "Z5+3 Z8+3 ");          // across a line: split there
  EXPECT_EQ(Shape(part, 5, 20), "Z5+3 I8+16 Z24+1 ");  // whole cells are ignored
  EXPECT_EQ(Shape(part, 8, 8), "I8+8 ");
  BlkxRegion free_space;
  free_space.free_space = true;
  EXPECT_EQ(Shape(free_space, 3, 4), "I3+4 ");  // Apple_Free: always ignore
  EXPECT_EQ(Shape(free_space, 5, 20), "I5+20 ");
  // Ignore chunks stay under qemu's 64 MiB and on the grid.
  std::vector<Chunk> chunks;
  AppendZeroChunks(part, 2048, 0, 3 * kMaxChunkSectors + 5, 0, &chunks);
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_EQ(chunks[0].sector_count, kMaxChunkSectors);
  EXPECT_EQ(chunks[3].type, ChunkType::kZeroFill);
  EXPECT_EQ(chunks[3].sector_count, 5u);
}

TEST(LayoutTest, BuffersNeededFollowHdiutilPerCodec) {
  EXPECT_EQ(BuffersNeeded(ChunkType::kZlib, 2048), 0x808u);
  EXPECT_EQ(BuffersNeeded(ChunkType::kAdc, 2048), 0x801u);
  EXPECT_EQ(BuffersNeeded(ChunkType::kBzip2, 2048), 0x803u);
  EXPECT_EQ(BuffersNeeded(ChunkType::kLzfse, 2048), 0x805u);
  EXPECT_EQ(BuffersNeeded(ChunkType::kLzma, 2048), 0x803u);
  EXPECT_EQ(BuffersNeeded(std::nullopt, 2048), 0u);
  EXPECT_EQ(BuffersNeeded(ChunkType::kZlib, 16), 24u);
}

TEST(LayoutTest, BadMapsFallBackToTheWholeDisk) {
  PartitionTable t;
  t.scheme = PartitionScheme::kMbr;
  t.partitions.push_back(Part(1, "0x83", "", 2048, 4096));
  t.partitions.push_back(Part(2, "0x83", "", 4000, 100));  // overlaps 1
  DiskLayout l = PlanLayout(8192 * 512, t, {}, "Apple_HFS");
  EXPECT_EQ(Names(l), std::vector<std::string>{"whole disk (Apple_HFS : 0)"});
  ASSERT_EQ(l.notes.size(), 1u);
  EXPECT_NE(l.notes[0].find("overlaps"), std::string::npos) << l.notes[0];
  ExpectTiles(l);
  t.partitions.pop_back();
  t.partitions.push_back(Part(2, "0x83", "", 8000, 400));  // leaves the disk
  l = PlanLayout(8192 * 512, t, {}, "Apple_HFS");
  EXPECT_EQ(l.regions.size(), 1u);
  EXPECT_NE(l.notes.at(0).find("past the end"), std::string::npos) << l.notes[0];
}

TEST(LayoutTest, WholeDiskRoundsUpAndKeepsAnEmptyBlkxForAnEmptyDisk) {
  PartitionTable none;
  DiskLayout l = PlanLayout(3 * kMiB + 519, none, {}, "Unknown Partition");
  EXPECT_EQ(l.sector_count, (3 * kMiB + 1024) / 512);
  EXPECT_EQ(l.image_variant, kVariantPartition);
  EXPECT_EQ(Names(l), std::vector<std::string>{"whole disk (Unknown Partition : 0)"});
  // hdiutil's and libdmg-hfsplus's whole-disk blkx: ID 0, entire device.
  EXPECT_EQ(l.regions[0].id, 0);
  EXPECT_EQ(l.regions[0].descriptor, kDescriptorEntireDevice);
  EXPECT_FALSE(l.regions[0].free_space);
  l = PlanLayout(0, none, {}, "Unknown Partition");
  ASSERT_EQ(l.regions.size(), 1u);
  EXPECT_EQ(l.regions[0].sector_count, 0u);
}

TEST(LayoutTest, SectorRunsFollowExtentsAtSectorGranularity) {
  // data [0, 100) | zero [100, 5000) | data [5000, 6000) | unallocated to
  // the end, which is not a multiple of 512.
  const uint64_t size = 20000 + 7;
  FakeDevice dev(
      std::string(size, 'x'),
      {Ext(0, 100, ExtentKind::kData), Ext(100, 4900, ExtentKind::kZero),
       Ext(5000, 1000, ExtentKind::kData), Ext(6000, size - 6000, ExtentKind::kUnallocated)},
      1);
  std::vector<SectorRun> runs;
  ASSERT_OK(CollectSectorRuns(dev, 0, 40, &runs));
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_TRUE(runs[0].data);  // sector 0 holds data
  EXPECT_EQ(runs[0].sector_count, 1u);
  EXPECT_FALSE(runs[1].data);  // sectors 1-8 are wholly zero
  EXPECT_EQ(runs[1].first_sector, 1u);
  EXPECT_EQ(runs[1].sector_count, 8u);
  EXPECT_TRUE(runs[2].data);  // 9 (shared with the hole) to 11
  EXPECT_EQ(runs[2].first_sector, 9u);
  EXPECT_EQ(runs[2].sector_count, 3u);
  EXPECT_FALSE(runs[3].data);  // to the end, padding included
  EXPECT_EQ(runs[3].first_sector + runs[3].sector_count, 40u);
}

TEST(LayoutTest, PiecesSplitDataOnTheChunkGrid) {
  const uint64_t size = 64 * 512;
  FakeDevice dev(std::string(size, 'x'), {Ext(0, 3 * 512, ExtentKind::kUnallocated),
                                          Ext(3 * 512, 20 * 512, ExtentKind::kData),
                                          Ext(23 * 512, size - 23 * 512, ExtentKind::kZero)});
  BlkxRegion region{"r", -1, 0, 0, 64};
  std::vector<SectorRun> pieces;
  ASSERT_OK(ForEachPiece(dev, region, 8, false, [&](const SectorRun& p) {
    pieces.push_back(p);
    return Status::Ok();
  }));
  std::vector<std::pair<uint64_t, uint64_t>> got;
  for (const SectorRun& p : pieces) {
    got.emplace_back(p.first_sector, p.sector_count);
  }
  EXPECT_EQ(
      got, (std::vector<std::pair<uint64_t, uint64_t>>{{0, 3}, {3, 5}, {8, 8}, {16, 7}, {23, 41}}));
  pieces.clear();
  ASSERT_OK(ForEachPiece(dev, region, 8, true, [&](const SectorRun& p) {
    pieces.push_back(p);
    return Status::Ok();
  }));
  EXPECT_EQ(pieces.size(), 1u + 3u + 6u);  // zero runs split on the grid too
}

}  // namespace
}  // namespace imgfs::dmg
