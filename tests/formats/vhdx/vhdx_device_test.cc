// SPDX-License-Identifier: MIT
// The vhdx device on images made by the test builder (written from the
// spec): every block state, chunk boundaries, 4096-byte sectors, logs left
// to replay, differencing chains with sector bitmaps, and hostile inputs.
#include <gtest/gtest.h>

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "tests/formats/vhdx/test_vhdx_builder.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::vhdx {
namespace {

using testing::TempDir;
using testing::VhdxBuilder;
using testing::VhdxLogUpdate;
using testing::WriteWholeFile;

constexpr uint64_t kMiB = 1 << 20;

Result<std::unique_ptr<BlockDevice>> Open(const std::string& bytes, Cache* cache) {
  OpenOptions options;
  options.format = "vhdx";
  return OpenImageFile(NewMemoryFile("t.vhdx", bytes), options, cache);
}

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>((i * 131 + static_cast<size_t>(seed) * 7 + i / 4096) % 251 + 1);
  }
  return s;
}

std::string ReadString(const BlockDevice& dev, uint64_t offset, size_t n) {
  std::string out(n, '\0');
  EXPECT_OK(dev.Read(offset, std::as_writable_bytes(std::span(out.data(), n))));
  return out;
}

std::vector<Extent> AllExtents(const BlockDevice& dev) {
  std::vector<Extent> out;
  EXPECT_OK(CollectExtents(dev, 0, dev.Size(), &out));
  return out;
}

TEST(VhdxDeviceTest, EveryPayloadBlockState) {
  VhdxBuilder b(8 * kMiB);
  const std::string data = Pattern(kMiB, 1);
  b.WriteBlock(0, data);
  b.SetState(1, 2);                       // zero
  b.SetState(2, 3);                       // unmapped
  b.SetState(3, 1);                       // undefined
  b.WriteBlock(5, data.substr(0, 4096));  // the rest of the block reads zero
  Cache cache(4 << 20);
  auto dev = Open(b.Build(), &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Size(), 8 * kMiB);
  std::string expected(8 * kMiB, '\0');
  expected.replace(0, kMiB, data);
  expected.replace(5 * kMiB, 4096, data.substr(0, 4096));
  EXPECT_TRUE(testing::DeviceMatches(**dev, expected));
  const auto ext = AllExtents(**dev);
  ASSERT_GE(ext.size(), 5u);
  EXPECT_EQ(ext[0].kind, ExtentKind::kData);
  EXPECT_EQ(ext[0].host_offset, b.BlockOffset(0));
  EXPECT_EQ(ext[1].kind, ExtentKind::kZero);
  EXPECT_EQ(ext[1].offset, kMiB);
  EXPECT_EQ(ext[2].kind, ExtentKind::kUnallocated);
  EXPECT_EQ(ext[2].length, 3 * kMiB);  // unmapped, undefined, not present
  EXPECT_EQ(ext[3].kind, ExtentKind::kData);
  EXPECT_EQ(ext[3].host_offset, b.BlockOffset(5));
  const ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.format, "vhdx");
  EXPECT_EQ(info.cluster_size, kMiB);
  EXPECT_FALSE(info.dirty);
  EXPECT_EQ(info.format_specific["data"]["creator"], "imgfs test builder");
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean()) << (report->errors.empty() ? "" : report->errors[0]);
}

TEST(VhdxDeviceTest, InterleavedBitmapEntriesAndLargeSectors) {
  // 512-byte sectors and 1 MiB blocks: 4096 blocks per chunk, so block
  // 4096 sits at BAT index 4097, after chunk 0's bitmap entry.
  for (uint32_t sector : {512u, 4096u}) {
    SCOPED_TRACE(sector);
    const uint64_t per_chunk = (uint64_t{1} << 23) * sector / kMiB;
    VhdxBuilder b((per_chunk + 3) * kMiB - sector, 1 << 20, sector);
    b.WriteBlock(per_chunk - 1, Pattern(kMiB, 2));
    b.WriteBlock(per_chunk, Pattern(kMiB, 3));
    b.WriteBlock(per_chunk + 2, Pattern(kMiB, 4));  // the last, short block
    Cache cache(4 << 20);
    auto dev = Open(b.Build(), &cache);
    ASSERT_OK(dev);
    EXPECT_EQ(ReadString(**dev, (per_chunk - 1) * kMiB, kMiB), Pattern(kMiB, 2));
    EXPECT_EQ(ReadString(**dev, per_chunk * kMiB, kMiB), Pattern(kMiB, 3));
    EXPECT_EQ(ReadString(**dev, (per_chunk + 2) * kMiB, kMiB - sector),
              Pattern(kMiB, 4).substr(0, kMiB - sector));
    EXPECT_EQ(ReadString(**dev, 5 * kMiB, 4096), std::string(4096, '\0'));
    EXPECT_EQ((*dev)->Describe().format_specific["data"]["logical-sector-size"], sector);
  }
}

TEST(VhdxDeviceTest, BlockSizesUpTo256MiB) {
  for (uint32_t block : {2u << 20, 32u << 20, 256u << 20}) {
    SCOPED_TRACE(block);
    VhdxBuilder b(uint64_t{3} * block + 512, block);
    b.WriteBlock(3, Pattern(4096, 5));
    Cache cache(4 << 20);
    auto dev = Open(b.Build(), &cache);
    ASSERT_OK(dev);
    EXPECT_EQ(ReadString(**dev, uint64_t{3} * block, 512), Pattern(512, 5));
    EXPECT_EQ(ReadString(**dev, block, 512), std::string(512, '\0'));
  }
}

// A dirty image: the BAT sector and part of block 0 hold stale bytes on
// disk; the log holds the real ones.
struct DirtyCase {
  const char* name;
  size_t per_entry;
  uint64_t first_sector;
  bool old_sequence;
};

class VhdxLogReplay : public ::testing::TestWithParam<DirtyCase> {};

TEST_P(VhdxLogReplay, ReadsAsIfTheLogWereWritten) {
  const DirtyCase& c = GetParam();
  VhdxBuilder b(6 * kMiB);
  std::string data = Pattern(kMiB, 6);
  data.replace(kMiB / 2, kMiB / 2, std::string(kMiB / 2, '\0'));
  b.WriteBlock(0, data);
  b.WriteBlock(4, Pattern(kMiB, 7));
  b.SetState(2, 2);
  const std::string clean = b.Build();
  const uint64_t block0 = b.BlockOffset(0);
  const std::string dirty = b.BuildDirty(
      {b.bat_offset(), b.metadata_offset() + 64 * 1024, block0 + 8192}, '\0', c.per_entry,
      c.first_sector, c.old_sequence, {VhdxLogUpdate{block0 + kMiB / 2, true, kMiB / 4, {}}});
  Cache cache(4 << 20);
  auto want = Open(clean, &cache);
  ASSERT_OK(want);
  auto dev = Open(dirty, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(testing::DeviceMatches(**dev, ReadString(**want, 0, 6 * kMiB)));
  const ImageInfo info = (*dev)->Describe();
  EXPECT_TRUE(info.dirty);
  EXPECT_GT(info.format_specific["data"]["log-entries-replayed"].get<uint64_t>(), 0u);
  ASSERT_FALSE(info.notes.empty());
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->errors.empty());
  EXPECT_FALSE(report->warnings.empty());
}

INSTANTIATE_TEST_SUITE_P(Layouts, VhdxLogReplay,
                         ::testing::Values(DirtyCase{"OneEntry", 8, 0, false},
                                           DirtyCase{"SeveralEntries", 1, 3, false},
                                           DirtyCase{"WrapsTheLog", 1, 254, false},
                                           DirtyCase{"NewerSequenceWins", 2, 10, true}),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(VhdxLogReplayTest, WithoutReplayTheStaleBytesWouldShow) {
  // Guards the test above: the stale image differs from the real one.
  VhdxBuilder b(2 * kMiB);
  b.WriteBlock(0, Pattern(kMiB, 8));
  std::string dirty = b.BuildDirty({b.bat_offset()}, '\0');
  // Dropping the log GUID from both headers hides the log.
  for (size_t h : {64 * 1024, 128 * 1024}) {
    dirty.replace(h + 48, 16, std::string(16, '\0'));
  }
  testing::FixVhdxChecksums(&dirty);
  Cache cache(1 << 20);
  auto dev = Open(dirty, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ(ReadString(**dev, 0, 4096), std::string(4096, '\0'));
}

TEST(VhdxLogReplayTest, EntryPointingOutsideTheFileIsRefused) {
  VhdxBuilder b(2 * kMiB);
  b.WriteBlock(0, Pattern(kMiB, 9));
  const std::string clean = b.Build();
  const std::string dirty = b.BuildDirty({}, '\0', 4, 0, false,
                                         {VhdxLogUpdate{clean.size() + 4096 * 16, true, 4096, {}}});
  Cache cache(1 << 20);
  auto dev = Open(dirty, &cache);
  EXPECT_CODE(dev, kCorrupt);
  EXPECT_NE(dev.status().message().find("outside the file"), std::string::npos)
      << dev.status().message();
}

TEST(VhdxLogReplayTest, EntryAsLongAsTheLogEndsTheSearch) {
  // One entry filling the whole circular log: its successor would be
  // itself, which the sequence numbers rule out; it is replayed once.
  VhdxBuilder b(2 * kMiB);
  b.WriteBlock(0, Pattern(kMiB, 12));
  const std::string clean = b.Build();
  std::string dirty = b.BuildDirty({b.bat_offset()}, '\0', 8);
  const size_t log = b.log_offset();
  auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) {
      dirty[at + i] = static_cast<char>(v >> (8 * i));
    }
  };
  put32(log + 8, 1 << 20);  // EntryLength: the whole log
  put32(log + 4, 0);
  put32(log + 4, testing::TestCrc32c(dirty.substr(log, 1 << 20)));
  Cache cache(1 << 20);
  auto want = Open(clean, &cache);
  ASSERT_OK(want);
  auto dev = Open(dirty, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ(ReadString(**dev, 0, 4096), Pattern(4096, 12));
  EXPECT_EQ((*dev)->Describe().format_specific["data"]["log-entries-replayed"], 1);
}

TEST(VhdxLogReplayTest, FlushedOffsetPastTheFileIsRefused) {
  VhdxBuilder b(2 * kMiB);
  b.WriteBlock(0, Pattern(kMiB, 13));
  std::string dirty = b.BuildDirty({b.bat_offset()}, '\0');
  const size_t log = b.log_offset();
  uint32_t length = 0;
  for (int i = 0; i < 4; ++i) {
    length |= static_cast<uint32_t>(static_cast<uint8_t>(dirty[log + 8 + i])) << (8 * i);
  }
  dirty[log + 48 + 5] = 1;  // FlushedFileOffset += 1 TiB
  for (int i = 0; i < 4; ++i) {
    dirty[log + 4 + i] = 0;
  }
  const uint32_t crc = testing::TestCrc32c(dirty.substr(log, length));
  for (int i = 0; i < 4; ++i) {
    dirty[log + 4 + i] = static_cast<char>(crc >> (8 * i));
  }
  Cache cache(1 << 20);
  auto dev = Open(dirty, &cache);
  EXPECT_CODE(dev, kCorrupt);
  EXPECT_NE(dev.status().message().find("writes were lost"), std::string::npos)
      << dev.status().message();
}

TEST(VhdxLogReplayTest, DamagedEntryIsNotReplayed) {
  VhdxBuilder b(2 * kMiB);
  b.WriteBlock(0, Pattern(kMiB, 10));
  std::string dirty = b.BuildDirty({b.bat_offset()}, '\0');
  dirty[b.log_offset() + 4096 + 100] ^= 1;  // the data sector: checksum fails
  Cache cache(1 << 20);
  auto dev = Open(dirty, &cache);
  ASSERT_OK(dev);  // no valid sequence: nothing to replay
  EXPECT_EQ(ReadString(**dev, 0, 16), std::string(16, '\0'));
  EXPECT_FALSE((*dev)->Describe().dirty);
}

// A parent, and a child whose blocks mix its own sectors and the parent's.
class VhdxDifferencing : public ::testing::Test {
 protected:
  void SetUp() override {
    VhdxBuilder parent(4 * kMiB);
    parent.SetDataWriteGuidSeed(7);
    parent.WriteBlock(0, Pattern(kMiB, 11));
    parent.WriteBlock(1, Pattern(kMiB, 12));
    parent.WriteBlock(2, Pattern(kMiB, 13));
    WriteWholeFile(dir_.Join("parent.vhdx"), parent.Build());
    linkage_ = parent.DataWriteGuidText();
    expected_ = Pattern(kMiB, 11) + Pattern(kMiB, 12) + Pattern(kMiB, 13) + std::string(kMiB, '\0');
  }

  // The child: block 0 partially its own, block 1 not present (parent),
  // block 2 fully its own, block 3 zero.
  std::string Child(std::vector<std::pair<std::string, std::string>> locator) {
    VhdxBuilder child(4 * kMiB);
    child.SetDataWriteGuidSeed(8);
    child.SetParent(std::move(locator));
    std::vector<bool> present(kMiB / 512);
    for (size_t s = 0; s < present.size(); ++s) {
      present[s] = (s % 7 == 3) || (s >= 100 && s < 300);
    }
    const std::string own = Pattern(kMiB, 21);
    child.WritePartial(0, own, present);
    for (size_t s = 0; s < present.size(); ++s) {
      if (present[s]) {
        expected_.replace(s * 512, 512, own.substr(s * 512, 512));
      }
    }
    child.WriteBlock(2, Pattern(kMiB, 22));
    expected_.replace(2 * kMiB, kMiB, Pattern(kMiB, 22));
    child.SetState(3, 2);
    return child.Build();
  }

  TempDir dir_;
  std::string linkage_;
  std::string expected_;
};

TEST_F(VhdxDifferencing, SectorBitmapsChooseBetweenChildAndParent) {
  WriteWholeFile(dir_.Join("child.avhdx"),
                 Child({{"parent_linkage", linkage_},
                        {"relative_path", ".\\parent.vhdx"},
                        {"absolute_win32_path", "C:\\VMs\\parent.vhdx"}}));
  Cache cache(8 << 20);
  auto dev = OpenImage(dir_.Join("child.avhdx"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(testing::DeviceMatches(**dev, expected_));
  const ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.backing_filename, "parent.vhdx");
  EXPECT_EQ(info.backing_format, "vhdx");
  EXPECT_EQ(info.format_specific["data"]["parent-locator"]["relative_path"], ".\\parent.vhdx");
  // Extents: child data at depth 0, the parent's at depth 1.
  const auto ext = AllExtents(**dev);
  bool depth1 = false;
  for (const Extent& e : ext) {
    depth1 |= e.depth == 1 && e.kind == ExtentKind::kData;
  }
  EXPECT_TRUE(depth1);
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean());
  // --no-backing: the parent's sectors read as zeros.
  OpenOptions top;
  top.follow_backing = false;
  auto alone = OpenImage(dir_.Join("child.avhdx"), top, &cache);
  ASSERT_OK(alone);
  EXPECT_EQ(ReadString(**alone, kMiB, 512), std::string(512, '\0'));
  EXPECT_EQ(ReadString(**alone, 2 * kMiB, 512), Pattern(512, 22));
}

TEST_F(VhdxDifferencing, WindowsPathFallsBackToTheImageDirectory) {
  WriteWholeFile(dir_.Join("child.avhdx"),
                 Child({{"parent_linkage", linkage_},
                        {"absolute_win32_path", "D:\\Hyper-V\\Disks\\parent.vhdx"}}));
  Cache cache(8 << 20);
  auto dev = OpenImage(dir_.Join("child.avhdx"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(testing::DeviceMatches(**dev, expected_));
}

TEST_F(VhdxDifferencing, WrongLinkageIsRefused) {
  WriteWholeFile(dir_.Join("child.avhdx"),
                 Child({{"parent_linkage", "{00000000-1111-2222-3333-444444444444}"},
                        {"relative_path", "parent.vhdx"}}));
  Cache cache(8 << 20);
  auto dev = OpenImage(dir_.Join("child.avhdx"), {}, &cache);
  EXPECT_CODE(dev, kCorrupt);
  EXPECT_NE(dev.status().message().find("parent changed"), std::string::npos);
}

TEST_F(VhdxDifferencing, MissingParentIsNotFound) {
  WriteWholeFile(dir_.Join("child.avhdx"),
                 Child({{"parent_linkage", linkage_}, {"relative_path", "gone.vhdx"}}));
  Cache cache(8 << 20);
  EXPECT_CODE(OpenImage(dir_.Join("child.avhdx"), {}, &cache), kNotFound);
}

TEST_F(VhdxDifferencing, CyclicParentsAreRefused) {
  // a names b as its parent and b names a.
  VhdxBuilder a(4 * kMiB);
  a.SetDataWriteGuidSeed(30);
  VhdxBuilder c(4 * kMiB);
  c.SetDataWriteGuidSeed(31);
  a.SetParent({{"parent_linkage", c.DataWriteGuidText()}, {"relative_path", "b.vhdx"}});
  c.SetParent({{"parent_linkage", a.DataWriteGuidText()}, {"relative_path", "a.vhdx"}});
  WriteWholeFile(dir_.Join("a.vhdx"), a.Build());
  WriteWholeFile(dir_.Join("b.vhdx"), c.Build());
  Cache cache(8 << 20);
  auto dev = OpenImage(dir_.Join("a.vhdx"), {}, &cache);
  EXPECT_FALSE(dev.ok());
  EXPECT_NE(dev.status().message().find("loop"), std::string::npos) << dev.status().message();
}

TEST_F(VhdxDifferencing, ChainDepthLimitApplies) {
  // parent.vhdx <- mid.avhdx <- child.avhdx: three images.
  VhdxBuilder mid(4 * kMiB);
  mid.SetDataWriteGuidSeed(40);
  mid.SetParent({{"parent_linkage", linkage_}, {"relative_path", "parent.vhdx"}});
  mid.WriteBlock(3, Pattern(kMiB, 41));
  WriteWholeFile(dir_.Join("mid.avhdx"), mid.Build());
  VhdxBuilder top(4 * kMiB);
  top.SetParent({{"parent_linkage", mid.DataWriteGuidText()}, {"relative_path", "mid.avhdx"}});
  WriteWholeFile(dir_.Join("top.avhdx"), top.Build());
  Cache cache(8 << 20);
  auto dev = OpenImage(dir_.Join("top.avhdx"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ(ReadString(**dev, 3 * kMiB, 512), Pattern(512, 41));
  EXPECT_EQ(ReadString(**dev, 0, 512), Pattern(512, 11));
  OpenOptions shallow;
  shallow.max_chain_depth = 1;
  auto refused = OpenImage(dir_.Join("top.avhdx"), shallow, &cache);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("deeper"), std::string::npos)
      << refused.status().message();
}

// Hostile and broken images: one error each, never a crash.
TEST(VhdxBadInputTest, EachBrokenStructureIsRefused) {
  VhdxBuilder b(4 * kMiB);
  b.WriteBlock(0, Pattern(kMiB, 40));
  const std::string good = b.Build();
  const uint64_t m = b.metadata_offset();
  auto put32 = [](std::string* f, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) {
      (*f)[at + i] = static_cast<char>(v >> (8 * i));
    }
  };
  struct Case {
    const char* what;
    std::function<void(std::string*)> mutate;
    const char* message;
  };
  const Case cases[] = {
      {"truncated", [](std::string* f) { f->resize(100000); }, "shorter than"},
      {"both header CRCs",
       [](std::string* f) {
         (*f)[64 * 1024 + 200] ^= 1;
         (*f)[128 * 1024 + 200] ^= 1;
       },
       "neither header"},
      {"region table past EOF",
       [&](std::string* f) {
         put32(f, 192 * 1024 + 32, 0x40000000);  // BAT offset low word: 1 GiB
         put32(f, 256 * 1024 + 32, 0x40000000);
         testing::FixVhdxChecksums(f);
       },
       "past end of file"},
      {"metadata past its region", [&](std::string* f) { put32(f, m + 32 + 16, 0x200000); },
       "outside its region"},
      {"block size 3 MiB", [&](std::string* f) { put32(f, m + 64 * 1024, 3 << 20); }, "block size"},
      {"block size 512 MiB", [&](std::string* f) { put32(f, m + 64 * 1024, 512u << 20); },
       "block size"},
      {"virtual size 1 EiB",
       [&](std::string* f) {
         put32(f, m + 64 * 1024 + 8 + 4, 0x10000000);  // high word of the size
       },
       "virtual size"},
      {"sector size 1024", [&](std::string* f) { put32(f, m + 64 * 1024 + 8 + 8 + 16, 1024); },
       "sector sizes"},
      {"BAT larger than its region",
       [&](std::string* f) {
         // 2 TiB with 1 MiB blocks needs a 16 MiB BAT; the region holds 1 MiB.
         put32(f, m + 64 * 1024 + 8 + 4, 0x200);
       },
       "does not fit"},
      {"metadata entry count", [&](std::string* f) { put32(f, m + 8, 0xffff0000); }, "entries"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    std::string f = good;
    c.mutate(&f);
    Cache cache(1 << 20);
    auto dev = Open(f, &cache);
    ASSERT_FALSE(dev.ok());
    EXPECT_NE(dev.status().message().find(c.message), std::string::npos) << dev.status().message();
    EXPECT_EQ(dev.status().message().find('\n'), std::string::npos);
  }
}

TEST(VhdxBadInputTest, OneBadHeaderUsesTheOther) {
  VhdxBuilder b(2 * kMiB);
  b.WriteBlock(0, Pattern(kMiB, 41));
  std::string f = b.Build();
  f[128 * 1024 + 300] ^= 1;  // the current (second) header
  Cache cache(1 << 20);
  auto dev = Open(f, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Describe().format_specific["data"]["current-header"], 1);
  EXPECT_EQ(ReadString(**dev, 0, 512), Pattern(512, 41));
}

TEST(VhdxBadInputTest, DamagedBatEntryFailsOnlyItsReads) {
  VhdxBuilder b(2 * kMiB);
  b.WriteBlock(1, Pattern(kMiB, 42));
  std::string f = b.Build();
  f[b.bat_offset()] = 5;  // block 0: a state the spec does not define
  Cache cache(1 << 20);
  auto dev = Open(f, &cache);
  ASSERT_OK(dev);
  std::vector<std::byte> buf(512);
  EXPECT_CODE((*dev)->Read(0, buf), kCorrupt);
  EXPECT_EQ(ReadString(**dev, kMiB, 512), Pattern(512, 42));
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_FALSE(report->errors.empty());
}

TEST(VhdxBadInputTest, IoErrorsPropagate) {
  VhdxBuilder b(2 * kMiB);
  b.WriteBlock(0, Pattern(kMiB, 43));
  const std::string f = b.Build();
  for (int n = 0; n < 8; ++n) {
    Cache cache(1 << 20);
    OpenOptions options;
    options.format = "vhdx";
    auto dev = OpenImageFile(NewFaultFile(NewMemoryFile("t.vhdx", f), FaultPlan{n, -1, false}),
                             options, &cache);
    if (dev.ok()) {
      std::vector<std::byte> buf(4096);
      (void)(*dev)->Read(0, buf);  // may fail with the injected error; must not crash
    }
  }
}

}  // namespace
}  // namespace imgfs::vhdx
