// SPDX-License-Identifier: MIT
// MBR and extended-chain reading from bytes: one valid disk, then one
// mutation per rule (signature, status byte, partition past the end, chain
// loop, EBR outside the container, EBR without signature, chain too long).
#include "core/partition/mbr.h"

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

constexpr uint64_t kDiskSectors = 20480;  // 10 MiB

std::vector<uint32_t> Numbers(const PartitionTable& t) {
  std::vector<uint32_t> n;
  for (const Partition& p : t.partitions) {
    n.push_back(p.number);
  }
  return n;
}

// p1 bootable FAT32 at 2048+2048; p2 extended 6144..18431 holding three
// logical partitions (EBRs at 6144, 8192, 10240); p3 Linux at 18432+1024.
MemDisk ValidDisk() {
  MemDisk d(kDiskSectors * kSector);
  PutMbrEntry(d, 0, 0, 0x80, 0x0c, 2048, 2048);
  PutMbrEntry(d, 0, 1, 0x00, 0x05, 6144, 12288);
  PutMbrEntry(d, 0, 2, 0x00, 0x83, 18432, 1024);
  PutMbrSignature(d, 0);
  // EBR 1: logical at EBR+2048, link to 8192 (relative to 6144: 2048).
  PutMbrEntry(d, 6144, 0, 0, 0x83, 1, 2047);
  PutMbrEntry(d, 6144, 1, 0, 0x05, 2048, 2048);
  PutMbrSignature(d, 6144);
  PutMbrEntry(d, 8192, 0, 0, 0x82, 1, 2047);
  PutMbrEntry(d, 8192, 1, 0, 0x05, 4096, 4096);
  PutMbrSignature(d, 8192);
  PutMbrEntry(d, 10240, 0, 0, 0x07, 64, 8000);
  PutMbrSignature(d, 10240);
  return d;
}

TEST(MbrTest, ReadsPrimariesAndLogicalsNumberedLikeLinux) {
  MemDisk d = ValidDisk();
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->scheme, PartitionScheme::kMbr);
  EXPECT_EQ(t->sector_bytes, 512u);
  EXPECT_THAT(t->notes, IsEmpty());
  ASSERT_THAT(Numbers(*t), ElementsAre(1, 3, 5, 6, 7));
  const Partition& p1 = t->partitions[0];
  EXPECT_EQ(p1.type, "0x0c");
  EXPECT_EQ(p1.type_name, "W95 FAT32 (LBA)");
  EXPECT_TRUE(p1.bootable);
  EXPECT_EQ(p1.start_bytes, 2048 * kSector);
  EXPECT_EQ(p1.length_bytes, 2048 * kSector);
  EXPECT_FALSE(t->partitions[1].bootable);
  EXPECT_EQ(t->partitions[1].type_name, "Linux");
  EXPECT_EQ(t->partitions[2].start_bytes, 6145 * kSector);
  EXPECT_EQ(t->partitions[2].length_bytes, 2047 * kSector);
  EXPECT_EQ(t->partitions[3].type, "0x82");
  EXPECT_EQ(t->partitions[3].start_bytes, 8193 * kSector);
  EXPECT_EQ(t->partitions[4].start_bytes, (10240 + 64) * kSector);
  EXPECT_EQ(t->partitions[4].length_bytes, 8000 * kSector);
  EXPECT_EQ(t->partitions[4].type_name, "HPFS/NTFS/exFAT");
}

TEST(MbrTest, Type0fAnd85AreExtendedToo) {
  for (uint8_t type : {uint8_t{0x0f}, uint8_t{0x85}}) {
    MemDisk d = ValidDisk();
    PutMbrEntry(d, 0, 1, 0x00, type, 6144, 12288);
    auto t = ReadPartitionTable(d);
    ASSERT_OK(t);
    EXPECT_THAT(Numbers(*t), ElementsAre(1, 3, 5, 6, 7)) << int{type};
  }
}

TEST(MbrTest, NoSignatureIsNoTable) {
  MemDisk d = ValidDisk();
  d.Fill(510, 2, 0);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->scheme, PartitionScheme::kNone);
  EXPECT_THAT(t->partitions, IsEmpty());
}

TEST(MbrTest, BadStatusByteMeansNotATable) {
  MemDisk d = ValidDisk();
  d.at(0x1be + 16)[0] = std::byte{0x12};
  EXPECT_CODE(partition::DecodeMbr(std::span<const std::byte>(d.at(0), 512)), kCorrupt);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->scheme, PartitionScheme::kNone);
  ASSERT_EQ(t->notes.size(), 1u);
  EXPECT_THAT(t->notes[0], HasSubstr("status 0x12"));
}

TEST(MbrTest, FatBootSectorWithoutTableIsNoTable) {
  MemDisk d(kDiskSectors * kSector);
  const uint8_t jump[] = {0xeb, 0x3c, 0x90};
  std::memcpy(d.at(0), jump, 3);
  std::memcpy(d.at(0x36), "FAT16   ", 8);
  PutMbrSignature(d, 0);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->scheme, PartitionScheme::kNone);
  EXPECT_THAT(t->notes, IsEmpty());
}

TEST(MbrTest, EmptyTableIsMbrWithoutPartitions) {
  MemDisk d(kDiskSectors * kSector);
  PutMbrSignature(d, 0);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->scheme, PartitionScheme::kMbr);
  EXPECT_THAT(t->partitions, IsEmpty());
}

TEST(MbrTest, ZeroLengthEntryIsSkipped) {
  MemDisk d = ValidDisk();
  PutMbrEntry(d, 0, 3, 0, 0x83, 100, 0);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_THAT(Numbers(*t), ElementsAre(1, 3, 5, 6, 7));
  EXPECT_THAT(t->notes, IsEmpty());
}

TEST(MbrTest, PrimaryPastTheEndIsLeftOutWithANote) {
  MemDisk d = ValidDisk();
  PutMbrEntry(d, 0, 2, 0, 0x83, 18432, 4096);  // ends at 22528 > 20480
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_THAT(Numbers(*t), ElementsAre(1, 5, 6, 7));
  ASSERT_EQ(t->notes.size(), 1u);
  EXPECT_THAT(t->notes[0], HasSubstr("mbr: partition 3"));
  EXPECT_THAT(t->notes[0], HasSubstr("leaves the disk"));
}

TEST(MbrTest, PartitionEndingExactlyAtTheEndIsKept) {
  MemDisk d = ValidDisk();
  PutMbrEntry(d, 0, 2, 0, 0x83, 18432, 2048);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_THAT(Numbers(*t), ElementsAre(1, 3, 5, 6, 7));
  EXPECT_EQ(t->partitions[1].start_bytes + t->partitions[1].length_bytes, d.Size());
}

TEST(MbrTest, LogicalPastTheEndIsLeftOut) {
  MemDisk d = ValidDisk();
  PutMbrEntry(d, 10240, 0, 0, 0x07, 64, 0xffffffff);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_THAT(Numbers(*t), ElementsAre(1, 3, 5, 6));
  ASSERT_EQ(t->notes.size(), 1u);
  EXPECT_THAT(t->notes[0], HasSubstr("partition 7"));
}

TEST(MbrTest, ChainLoopStopsWithANote) {
  MemDisk d = ValidDisk();
  PutMbrEntry(d, 10240, 1, 0, 0x05, 0, 2048);  // links back to the first EBR
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_THAT(Numbers(*t), ElementsAre(1, 3, 5, 6, 7));
  ASSERT_EQ(t->notes.size(), 1u);
  EXPECT_THAT(t->notes[0], HasSubstr("loops back to sector 6144"));
}

TEST(MbrTest, SelfLinkedEbrStops) {
  MemDisk d = ValidDisk();
  PutMbrEntry(d, 6144, 1, 0, 0x05, 0, 2048);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_THAT(Numbers(*t), ElementsAre(1, 3, 5));
  EXPECT_THAT(t->notes, ElementsAre(HasSubstr("loops")));
}

TEST(MbrTest, EbrOutsideTheExtendedPartitionStops) {
  MemDisk d = ValidDisk();
  PutMbrEntry(d, 8192, 1, 0, 0x05, 13000, 100);  // 6144 + 13000 > 18432
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_THAT(Numbers(*t), ElementsAre(1, 3, 5, 6));
  EXPECT_THAT(t->notes, ElementsAre(HasSubstr("outside extended partition 2")));
}

TEST(MbrTest, EbrWithoutSignatureStops) {
  MemDisk d = ValidDisk();
  d.Fill(8192 * kSector + 510, 2, 0);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_THAT(Numbers(*t), ElementsAre(1, 3, 5));
  EXPECT_THAT(t->notes, ElementsAre(HasSubstr("extended boot record at sector 8192")));
}

TEST(MbrTest, BlankFirstEbrIsAnEmptyChainWithoutNote) {
  MemDisk d = ValidDisk();
  d.Fill(6144 * kSector, 512, 0);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_THAT(Numbers(*t), ElementsAre(1, 3));
  EXPECT_THAT(t->notes, IsEmpty());
}

TEST(MbrTest, LongChainIsBounded) {
  // An extended partition over a 2 MiB disk with one EBR every 4 sectors,
  // each holding a 1-sector logical partition: more EBRs than partitions
  // may be listed.
  const uint64_t sectors = 4096;
  MemDisk d(sectors * kSector);
  PutMbrEntry(d, 0, 0, 0, 0x05, 4, static_cast<uint32_t>(sectors - 8));
  PutMbrSignature(d, 0);
  for (uint32_t i = 0; i < 400; ++i) {
    const uint64_t ebr = 4 + uint64_t{i} * 4;
    PutMbrEntry(d, ebr, 0, 0, 0x83, 1, 1);
    PutMbrEntry(d, ebr, 1, 0, 0x05, (i + 1) * 4, 4);
    PutMbrSignature(d, ebr);
  }
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->partitions.size(), kMaxPartitions - 4);
  EXPECT_EQ(t->partitions.back().number, kMaxPartitions);
  EXPECT_THAT(t->notes, ElementsAre(HasSubstr("logical partitions; the rest are ignored")));
}

TEST(MbrTest, OverlapsAreNoted) {
  MemDisk d = ValidDisk();
  PutMbrEntry(d, 0, 3, 0, 0x83, 3000, 100);  // inside p1
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_THAT(Numbers(*t), ElementsAre(1, 3, 4, 5, 6, 7));
  EXPECT_THAT(t->notes, ElementsAre("mbr: partitions 1 and 4 overlap"));
}

TEST(MbrTest, TinyDiskHasNoTable) {
  MemDisk d(100);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->scheme, PartitionScheme::kNone);
}

TEST(MbrTest, TypeNames) {
  EXPECT_EQ(partition::MbrTypeName(0x83), "Linux");
  EXPECT_EQ(partition::MbrTypeName(0xee), "GPT");
  EXPECT_EQ(partition::MbrTypeName(0x03), "");
}

}  // namespace
}  // namespace imgfs::testing
