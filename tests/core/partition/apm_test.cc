// SPDX-License-Identifier: MIT
// Apple Partition Map reading from bytes: a map as hdiutil lays it out, a
// 2048-byte-block map, then one mutation per rule (DDR and PM signatures,
// map count zero / too big / past the disk, a hole in the map, a partition
// past the end, the DDR block size disagreeing with the map).
#include "core/partition/apm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/partition/partition_table.h"
#include "tests/core/partition/test_disks.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr uint32_t kBlocks = 8192;  // 4 MiB

// hdiutil's layout: the map (entry 1) covers blocks 1-63, the data
// partition starts at 64, an Apple_Free entry takes the slack at the end.
MemDisk HdiutilLikeDisk(uint32_t map_count = 3) {
  MemDisk d(uint64_t{kBlocks} * 512);
  PutApmDdr(d, 512, kBlocks);
  PutApmEntry(d, 512, map_count, 1, 63, "Apple", "Apple_partition_map");
  PutApmEntry(d, 1024, map_count, 64, kBlocks - 64 - 10, "disk image", "Apple_HFS");
  PutApmEntry(d, 1536, map_count, kBlocks - 10, 10, "", "Apple_Free");
  return d;
}

TEST(ApmTest, ReadsEveryEntryNumberedByIndex) {
  MemDisk d = HdiutilLikeDisk();
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->scheme, PartitionScheme::kApm);
  EXPECT_EQ(t->sector_bytes, 512u);
  EXPECT_THAT(t->notes, IsEmpty());
  ASSERT_EQ(t->partitions.size(), 3u);
  EXPECT_EQ(t->partitions[0].number, 1u);
  EXPECT_EQ(t->partitions[0].type, "Apple_partition_map");
  EXPECT_EQ(t->partitions[0].type_name, "partition map");
  EXPECT_EQ(t->partitions[0].name, "Apple");
  EXPECT_EQ(t->partitions[0].start_bytes, 512u);
  EXPECT_EQ(t->partitions[0].length_bytes, 63u * 512);
  EXPECT_EQ(t->partitions[1].number, 2u);
  EXPECT_EQ(t->partitions[1].type, "Apple_HFS");
  EXPECT_EQ(t->partitions[1].type_name, "Apple HFS/HFS+");
  EXPECT_EQ(t->partitions[1].name, "disk image");
  EXPECT_EQ(t->partitions[1].start_bytes, 64u * 512);
  EXPECT_EQ(t->partitions[1].length_bytes, (kBlocks - 74u) * 512);
  EXPECT_EQ(t->partitions[2].type, "Apple_Free");
  EXPECT_EQ(t->partitions[2].start_bytes + t->partitions[2].length_bytes, d.Size());
}

TEST(ApmTest, BlockSizeComesFromTheDriverDescriptor) {
  MemDisk d(uint64_t{kBlocks} * 512);
  PutApmDdr(d, 2048, kBlocks / 4);
  PutApmEntry(d, 2048, 2, 1, 3, "Apple", "Apple_partition_map");
  PutApmEntry(d, 4096, 2, 4, 100, "CD", "Apple_HFS");
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->sector_bytes, 2048u);
  ASSERT_EQ(t->partitions.size(), 2u);
  EXPECT_EQ(t->partitions[1].start_bytes, 4u * 2048);
  EXPECT_EQ(t->partitions[1].length_bytes, 100u * 2048);
}

TEST(ApmTest, MapAt512DespiteTheDescriptorIsUsedWithANote) {
  MemDisk d = HdiutilLikeDisk();
  PutApmDdr(d, 2048, kBlocks / 4);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->sector_bytes, 512u);
  EXPECT_EQ(t->partitions.size(), 3u);
  EXPECT_THAT(t->notes, ElementsAre(HasSubstr("blocks of 2048 bytes but the map uses 512")));
}

TEST(ApmTest, ZeroBlockSizeMeans512) {
  MemDisk d = HdiutilLikeDisk();
  PutApmDdr(d, 0, 0);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->partitions.size(), 3u);
  EXPECT_THAT(t->notes, IsEmpty());
}

TEST(ApmTest, NoDriverDescriptorIsNotApm) {
  MemDisk d = HdiutilLikeDisk();
  d.Fill(0, 2, 0);
  EXPECT_CODE(partition::DecodeApmDriverDescriptor(std::span<const std::byte>(d.at(0), 512)),
              kCorrupt);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->scheme, PartitionScheme::kNone);
}

TEST(ApmTest, NoFirstEntryIsNotApm) {
  MemDisk d = HdiutilLikeDisk();
  d.Fill(512, 2, 0);
  EXPECT_CODE(partition::DecodeApmEntry(std::span<const std::byte>(d.at(512), 512)), kCorrupt);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->scheme, PartitionScheme::kNone);
  EXPECT_CODE(partition::ReadApm(d), kCorrupt);
}

TEST(ApmTest, ZeroMapCountIsCorrupt) {
  MemDisk d = HdiutilLikeDisk(0);
  auto t = ReadPartitionTable(d);
  EXPECT_CODE(t, kCorrupt);
  EXPECT_THAT(t.status().message(), HasSubstr("0 entries"));
}

TEST(ApmTest, MapPastTheDiskIsCorrupt) {
  MemDisk d = HdiutilLikeDisk(kBlocks);
  auto t = ReadPartitionTable(d);
  EXPECT_CODE(t, kCorrupt);
  EXPECT_THAT(t.status().message(), HasSubstr("leaves the disk"));
}

TEST(ApmTest, MapCountOverTheCapIsUnsupported) {
  MemDisk d = HdiutilLikeDisk(kMaxPartitions + 1);
  EXPECT_CODE(ReadPartitionTable(d), kUnsupported);
}

TEST(ApmTest, MissingEntryEndsTheMapWithANote) {
  MemDisk d = HdiutilLikeDisk(4);  // entry 4 is missing
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->partitions.size(), 3u);
  EXPECT_THAT(t->notes, ElementsAre(HasSubstr("map entry 4 at block 4 has no PM signature")));
}

TEST(ApmTest, PartitionPastTheEndIsLeftOut) {
  MemDisk d = HdiutilLikeDisk();
  PutApmEntry(d, 1024, 3, 64, kBlocks, "disk image", "Apple_HFS");
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  ASSERT_EQ(t->partitions.size(), 2u);
  EXPECT_EQ(t->partitions[1].number, 3u);
  EXPECT_THAT(t->notes, ElementsAre(HasSubstr("apm: partition 2")));
}

TEST(ApmTest, NonAsciiNamesAreMasked) {
  MemDisk d = HdiutilLikeDisk();
  PutApmEntry(d, 1024, 3, 64, 100, "Disque\x8e\x01", "Apple_HFS");
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->partitions[1].name, "Disque??");
}

TEST(ApmTest, ApmWinsOverAPlainMbrSignature) {
  MemDisk d = HdiutilLikeDisk();
  PutMbrSignature(d, 0);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->scheme, PartitionScheme::kApm);
}

}  // namespace
}  // namespace imgfs::testing
