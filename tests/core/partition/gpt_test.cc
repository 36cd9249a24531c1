// SPDX-License-Identifier: MIT
// GPT reading from bytes: one valid disk, then one mutation per rule
// (signature, revision, header size, header CRC, my LBA, usable range,
// entry size, entry count, entry array CRC and placement, partitions past
// the end or reversed), the backup fallback and its notes, 4096-byte blocks.
#include "core/partition/gpt.h"

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

constexpr uint64_t kDiskBytes = 4 << 20;  // 8192 sectors

std::array<uint8_t, 16> Seq(uint8_t first) {
  std::array<uint8_t, 16> g{};
  for (size_t i = 0; i < g.size(); ++i) {
    g[i] = static_cast<uint8_t>(first + i);
  }
  return g;
}

std::vector<GptPart> TwoParts() {
  GptPart efi{.index = 0,
              .type = kEfiSystemGuid,
              .unique = Seq(1),
              .first_lba = 2048,
              .last_lba = 4095,
              .name = u"EFI"};
  // "Données ☃😀": accents, a BMP symbol and a surrogate pair.
  GptPart lin{.index = 2,
              .type = kLinuxFsGuid,
              .unique = Seq(0x21),
              .first_lba = 4096,
              .last_lba = 8000,
              .attributes = uint64_t{1} << 2,
              .name = u"Donn\u00e9es \u2603\U0001F600"};
  return {efi, lin};
}

MemDisk ValidDisk(GptLayout l = {}) {
  MemDisk d(kDiskBytes);
  WriteGpt(d, TwoParts(), l);
  return d;
}

uint64_t PrimaryAt(const GptLayout& l = {}) { return l.block; }

void ExpectTwoParts(const PartitionTable& t) {
  ASSERT_EQ(t.partitions.size(), 2u);
  const Partition& efi = t.partitions[0];
  EXPECT_EQ(efi.number, 1u);
  EXPECT_EQ(efi.type, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
  EXPECT_EQ(efi.type_name, "EFI System");
  EXPECT_EQ(efi.name, "EFI");
  EXPECT_EQ(efi.guid, "04030201-0605-0807-090A-0B0C0D0E0F10");
  EXPECT_EQ(efi.start_bytes, 2048 * t.sector_bytes);
  EXPECT_EQ(efi.length_bytes, 2048 * t.sector_bytes);
  EXPECT_FALSE(efi.bootable);
  const Partition& lin = t.partitions[1];
  EXPECT_EQ(lin.number, 3u);
  EXPECT_EQ(lin.type, "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
  EXPECT_EQ(lin.type_name, "Linux filesystem");
  EXPECT_EQ(lin.name,
            "Donn\xc3\xa9"
            "es \xe2\x98\x83\xf0\x9f\x98\x80");
  EXPECT_EQ(lin.start_bytes, 4096 * t.sector_bytes);
  EXPECT_EQ(lin.length_bytes, 3905 * t.sector_bytes);
  EXPECT_TRUE(lin.bootable);
}

TEST(GptTest, ReadsThePrimary) {
  MemDisk d = ValidDisk();
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->scheme, PartitionScheme::kGpt);
  EXPECT_EQ(t->sector_bytes, 512u);
  EXPECT_THAT(t->notes, IsEmpty());
  ExpectTwoParts(*t);
}

TEST(GptTest, Reads4096ByteBlocks) {
  GptLayout l{.block = 4096, .entry_count = 128, .entry_bytes = 128};
  MemDisk d(64 << 20);
  WriteGpt(d, TwoParts(), l);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->sector_bytes, 4096u);
  EXPECT_THAT(t->notes, IsEmpty());
  ExpectTwoParts(*t);
}

TEST(GptTest, GuidStringIsMixedEndian) {
  partition::Guid g{};
  for (size_t i = 0; i < 16; ++i) {
    g[i] = std::byte{kEfiSystemGuid[i]};
  }
  EXPECT_EQ(partition::GuidToString(g), "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
}

TEST(GptTest, Utf16ReplacesUnpairedSurrogates) {
  const uint8_t bytes[] = {0x41, 0, 0x3d, 0xd8, 0x42, 0, 0x00, 0xdc, 0, 0, 0x43, 0};
  std::vector<std::byte> b(sizeof bytes);
  std::memcpy(b.data(), bytes, sizeof bytes);
  EXPECT_EQ(partition::Utf16LeToUtf8(b),
            "A\xef\xbf\xbd"
            "B\xef\xbf\xbd");
}

// Each primary-header mutation: the header alone is refused with `code`,
// and the whole table falls back to the backup with a note.
struct HeaderMutation {
  const char* name;
  void (*mutate)(MemDisk&);
  StatusCode code;
  const char* reason;
};

void Set32(MemDisk& d, size_t field, uint32_t v) {
  StoreLE32(d.at(PrimaryAt() + field), v);
  FixGptHeaderCrc(d, {}, 1);
}
void Set64(MemDisk& d, size_t field, uint64_t v) {
  StoreLE64(d.at(PrimaryAt() + field), v);
  FixGptHeaderCrc(d, {}, 1);
}

const HeaderMutation kHeaderMutations[] = {
    {"signature", [](MemDisk& d) { d.at(PrimaryAt())[0] = std::byte{'X'}; }, StatusCode::kCorrupt,
     "no \"EFI PART\" signature"},
    {"revision", [](MemDisk& d) { Set32(d, 8, 0x00020000); }, StatusCode::kUnsupported,
     "revision 0x20000"},
    {"header_size_small", [](MemDisk& d) { Set32(d, 12, 91); }, StatusCode::kCorrupt,
     "header size 91"},
    {"header_size_big", [](MemDisk& d) { Set32(d, 12, 513); }, StatusCode::kCorrupt,
     "header size 513"},
    {"header_crc", [](MemDisk& d) { d.at(PrimaryAt() + 40)[0] ^= std::byte{1}; },
     StatusCode::kCorrupt, "header CRC32"},
    {"my_lba", [](MemDisk& d) { Set64(d, 24, 7); }, StatusCode::kCorrupt, "says it is at LBA 7"},
    {"usable_range", [](MemDisk& d) { Set64(d, 40, 9000); }, StatusCode::kCorrupt,
     "first usable LBA 9000"},
    {"entry_size_small", [](MemDisk& d) { Set32(d, 84, 64); }, StatusCode::kCorrupt,
     "entry size 64"},
    {"entry_size_odd", [](MemDisk& d) { Set32(d, 84, 192); }, StatusCode::kCorrupt,
     "entry size 192"},
    {"entry_size_big", [](MemDisk& d) { Set32(d, 84, 8192); }, StatusCode::kUnsupported,
     "entry size 8192"},
    {"entry_count_big", [](MemDisk& d) { Set32(d, 80, 0x10000000); }, StatusCode::kUnsupported,
     "268435456 entries"},
};

TEST(GptTest, EachHeaderRuleRefusesThePrimaryAndTheBackupIsUsed) {
  for (const HeaderMutation& m : kHeaderMutations) {
    SCOPED_TRACE(m.name);
    MemDisk d = ValidDisk();
    m.mutate(d);
    auto header = partition::DecodeGptHeader(std::span<const std::byte>(d.at(PrimaryAt()), 512), 1);
    EXPECT_EQ(header.status().code(), m.code) << header.status().ToString();
    EXPECT_THAT(header.status().message(), HasSubstr(m.reason));
    auto t = ReadPartitionTable(d);
    ASSERT_OK(t);
    ExpectTwoParts(*t);
    ASSERT_FALSE(t->notes.empty());
    EXPECT_THAT(t->notes[0], HasSubstr("primary header unusable"));
    EXPECT_THAT(t->notes[0], HasSubstr(m.reason));
    EXPECT_THAT(t->notes[0], HasSubstr("using the backup header at LBA 8191"));
  }
}

TEST(GptTest, EntryArrayCrcMismatchUsesTheBackupTheHeaderNames) {
  MemDisk d = ValidDisk();
  // Move the backup away from the last LBA; only the alternate LBA finds it.
  MemDisk moved(kDiskBytes + 512 * 64);
  std::memcpy(moved.at(0), d.at(0), kDiskBytes);
  moved.at(2 * 512 + 40)[0] ^= std::byte{1};  // first entry's first LBA
  auto t = ReadPartitionTable(moved);
  ASSERT_OK(t);
  ExpectTwoParts(*t);
  ASSERT_FALSE(t->notes.empty());
  EXPECT_THAT(t->notes[0], HasSubstr("entry array CRC32"));
  EXPECT_THAT(t->notes[0], HasSubstr("backup header at LBA 8191"));
}

TEST(GptTest, EntryArrayLeavingTheDiskUsesTheBackup) {
  MemDisk d = ValidDisk();
  Set64(d, 72, 8180);  // 32 blocks from 8180 pass the end
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  ExpectTwoParts(*t);
  EXPECT_THAT(t->notes[0], HasSubstr("entry array at LBA 8180"));
}

TEST(GptTest, BothHeadersDamagedIsCorrupt) {
  MemDisk d = ValidDisk();
  d.at(PrimaryAt() + 40)[0] ^= std::byte{1};
  d.at(8191 * 512)[0] = std::byte{0};
  auto t = ReadPartitionTable(d);
  EXPECT_CODE(t, kCorrupt);
  EXPECT_THAT(t.status().message(), HasSubstr("header at LBA 1: header CRC32"));
  EXPECT_THAT(t.status().message(), HasSubstr("header at LBA 8191: no \"EFI PART\""));
}

TEST(GptTest, DamagedBackupBehindAGoodPrimaryIsANote) {
  MemDisk d = ValidDisk();
  d.at(8191 * 512 + 40)[0] ^= std::byte{1};
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  ExpectTwoParts(*t);
  EXPECT_THAT(t->notes, ElementsAre(HasSubstr("backup header unusable")));
}

TEST(GptTest, TruncatedDiskKeepsWhatFits) {
  MemDisk d = ValidDisk();
  MemDisk cut(3 << 20);  // 6144 sectors: partition 3 (4096..8000) leaves it
  std::memcpy(cut.at(0), d.at(0), cut.Size());
  auto t = ReadPartitionTable(cut);
  ASSERT_OK(t);
  ASSERT_EQ(t->partitions.size(), 1u);
  EXPECT_EQ(t->partitions[0].number, 1u);
  EXPECT_THAT(t->notes,
              ElementsAre(HasSubstr("usable area ends at LBA 8158"), HasSubstr("gpt: partition 3"),
                          HasSubstr("backup header unusable")));
}

TEST(GptTest, ReversedPartitionIsLeftOut) {
  std::vector<GptPart> parts = TwoParts();
  std::swap(parts[1].first_lba, parts[1].last_lba);
  MemDisk d(kDiskBytes);
  WriteGpt(d, parts);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  ASSERT_EQ(t->partitions.size(), 1u);
  EXPECT_THAT(t->notes, ElementsAre(HasSubstr("partition 3 ends at LBA 4096, before it starts")));
}

TEST(GptTest, PartitionPastTheEndIsLeftOut) {
  std::vector<GptPart> parts = TwoParts();
  parts[1].last_lba = UINT64_MAX;
  MemDisk d(kDiskBytes);
  WriteGpt(d, parts);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  ASSERT_EQ(t->partitions.size(), 1u);
  EXPECT_THAT(t->notes, ElementsAre(HasSubstr("gpt: partition 3")));
}

TEST(GptTest, TooManyUsedEntriesIsUnsupported) {
  std::vector<GptPart> parts;
  for (uint32_t i = 0; i < kMaxPartitions + 1; ++i) {
    GptPart p;
    p.index = i;
    p.type = kLinuxFsGuid;
    p.first_lba = p.last_lba = 100 + i;
    parts.push_back(p);
  }
  MemDisk d(kDiskBytes);
  WriteGpt(d, parts, {.block = 512, .entry_count = 512, .entry_bytes = 128});
  EXPECT_CODE(ReadPartitionTable(d), kUnsupported);
}

TEST(GptTest, LargerEntriesAndCountsWithinTheCaps) {
  MemDisk d(kDiskBytes);
  WriteGpt(d, TwoParts(), {.block = 512, .entry_count = 64, .entry_bytes = 256});
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  ExpectTwoParts(*t);
}

TEST(GptTest, NoProtectiveMbrStillReadsWithANote) {
  MemDisk d = ValidDisk();
  d.Fill(0, 512, 0);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  ExpectTwoParts(*t);
  EXPECT_THAT(t->notes, ElementsAre(HasSubstr("no protective MBR")));
}

TEST(GptTest, MbrWithoutProtectiveEntryWinsOverAStaleGpt) {
  MemDisk d = ValidDisk();
  PutMbrEntry(d, 0, 0, 0, 0x83, 2048, 4096);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->scheme, PartitionScheme::kMbr);
  ASSERT_EQ(t->partitions.size(), 1u);
  EXPECT_THAT(t->notes, ElementsAre(HasSubstr("GPT header at LBA 1 is ignored")));
}

TEST(GptTest, HybridMbrMeansGpt) {
  MemDisk d = ValidDisk();
  PutMbrEntry(d, 0, 1, 0x80, 0x0c, 2048, 2048);
  auto t = ReadPartitionTable(d);
  ASSERT_OK(t);
  EXPECT_EQ(t->scheme, PartitionScheme::kGpt);
  ExpectTwoParts(*t);
}

TEST(GptTest, ProtectiveMbrWithoutAnyHeaderIsCorrupt) {
  MemDisk d(kDiskBytes);
  PutMbrEntry(d, 0, 0, 0, 0xee, 1, 8191);
  PutMbrSignature(d, 0);
  EXPECT_CODE(ReadPartitionTable(d), kCorrupt);
}

TEST(GptTest, TypeNames) {
  EXPECT_EQ(partition::GptTypeName("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"), "Microsoft basic data");
  EXPECT_EQ(partition::GptTypeName("48465300-0000-11AA-AA11-00306543ECAC"), "Apple HFS/HFS+");
  EXPECT_EQ(partition::GptTypeName("7C3457EF-0000-11AA-AA11-00306543ECAC"), "Apple APFS");
  EXPECT_EQ(partition::GptTypeName("0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"), "Linux swap");
  EXPECT_EQ(partition::GptTypeName("21686148-6449-6E6F-744E-656564454649"), "BIOS boot");
  EXPECT_EQ(partition::GptTypeName("00000000-0000-0000-0000-000000000001"), "");
}

}  // namespace
}  // namespace imgfs::testing
