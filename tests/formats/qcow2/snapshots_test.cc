// SPDX-License-Identifier: MIT
#include "formats/qcow2/snapshots.h"

#include <gtest/gtest.h>

#include "tests/formats/qcow2/image_builder.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::qcow2 {
namespace {

using testing::MiniImage;
using testing::Put16;
using testing::Put32;
using testing::Put64;
using testing::PutBytes;

// Writes one entry at `at` and returns the next (8-aligned) offset.
uint64_t PutSnapshot(std::string* s, uint64_t at, const std::string& id, const std::string& name,
                     uint32_t extra_bytes, uint64_t disk_size) {
  Put64(s, at, MiniImage::kL1);
  Put32(s, at + 8, 2);
  Put16(s, at + 12, static_cast<uint16_t>(id.size()));
  Put16(s, at + 14, static_cast<uint16_t>(name.size()));
  Put32(s, at + 16, 1700000000);
  Put32(s, at + 20, 5);
  Put64(s, at + 24, 123456789);
  Put32(s, at + 32, 0);
  Put32(s, at + 36, extra_bytes);
  std::string extra(extra_bytes, '\0');
  if (extra_bytes >= 24) {
    Put64(&extra, 0, 4096);
    Put64(&extra, 8, disk_size);
    Put64(&extra, 16, 77);
  }
  PutBytes(s, at + 40, extra + id + name);
  return (at + 40 + extra_bytes + id.size() + name.size() + 7) & ~uint64_t{7};
}

Header HeaderFor(const MiniImage& img, uint32_t count, uint64_t offset) {
  auto h = DecodeHeader(img.head(), img.bytes.size());
  EXPECT_OK(h);
  Header out = *h;
  out.nb_snapshots = count;
  out.snapshots_offset = offset;
  return out;
}

TEST(Qcow2SnapshotsTest, ReadsEntriesWithAndWithoutExtraData) {
  MiniImage img;
  uint64_t next = PutSnapshot(&img.bytes, 0xc00, "1", "first", 24, 1 << 20);
  uint64_t end = PutSnapshot(&img.bytes, next, "2", "second", 0, 0);
  auto file = NewMemoryFile("m", img.bytes);
  uint64_t table_bytes = 0;
  auto snaps = ReadSnapshotTable(*file, HeaderFor(img, 2, 0xc00), &table_bytes);
  ASSERT_OK(snaps);
  ASSERT_EQ(snaps->size(), 2u);
  EXPECT_EQ(table_bytes, end - 0xc00);
  const Snapshot& a = (*snaps)[0];
  EXPECT_EQ(a.id, "1");
  EXPECT_EQ(a.name, "first");
  EXPECT_EQ(a.vm_state_size, 4096u);
  EXPECT_EQ(a.disk_size, 1u << 20);
  EXPECT_EQ(a.icount, 77u);
  SnapshotInfo info = ToSnapshotInfo((*snaps)[1], 999);
  EXPECT_EQ(info.virtual_size, 999u);
  EXPECT_EQ(info.icount, UINT64_MAX);
  EXPECT_EQ(info.date_sec, 1700000000u);
  EXPECT_EQ(info.vm_clock_nsec, 123456789u);
  EXPECT_EQ(FindSnapshot(*snaps, "second"), &(*snaps)[1]);
  EXPECT_EQ(FindSnapshot(*snaps, "1"), &(*snaps)[0]);
  EXPECT_EQ(FindSnapshot(*snaps, "third"), nullptr);
}

TEST(Qcow2SnapshotsTest, OversizedExtraDataIsCorrupt) {
  MiniImage img;
  PutSnapshot(&img.bytes, 0xc00, "1", "x", 2000, 0);
  auto file = NewMemoryFile("m", img.bytes);
  EXPECT_CODE(ReadSnapshotTable(*file, HeaderFor(img, 1, 0xc00)), kCorrupt);
}

TEST(Qcow2SnapshotsTest, EntriesPastEndOfFileAreCorrupt) {
  MiniImage img;
  PutSnapshot(&img.bytes, 0xc00, "1", "x", 0, 0);
  auto file = NewMemoryFile("m", img.bytes);
  // Claims 1000 entries: the second one is past end of file.
  EXPECT_CODE(ReadSnapshotTable(*file, HeaderFor(img, 1000, 0xc00)), kCorrupt);
  // A name longer than the file.
  Put16(&img.bytes, 0xc00 + 14, 0xffff);
  auto file2 = NewMemoryFile("m", img.bytes);
  EXPECT_CODE(ReadSnapshotTable(*file2, HeaderFor(img, 1, 0xc00)), kCorrupt);
  EXPECT_CODE(ReadSnapshotTable(*file2, HeaderFor(img, 1, 1ull << 40)), kCorrupt);
}

}  // namespace
}  // namespace imgfs::qcow2
