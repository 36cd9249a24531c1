// SPDX-License-Identifier: MIT
// The qcow2 device on small in-memory images: read path, extents, check,
// snapshots and hostile inputs (what the fuzzer will do).
#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "tests/formats/qcow2/image_builder.h"
#include "tests/testing/recording_file.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/zlib_stream.h"

namespace imgfs::qcow2 {
namespace {

using testing::MiniImage;
using testing::Put16;
using testing::Put32;
using testing::Put64;
using testing::PutBytes;

Result<std::unique_ptr<BlockDevice>> Open(const std::string& bytes, Cache* cache) {
  OpenOptions options;
  options.format = "qcow2";
  return OpenImageFile(NewMemoryFile("t.qcow2", bytes), options, cache);
}

std::vector<std::byte> ReadAll(const BlockDevice& dev, uint64_t offset, size_t n) {
  std::vector<std::byte> buf(n, std::byte{0xee});
  EXPECT_OK(dev.Read(offset, buf));
  return buf;
}

TEST(Qcow2DeviceTest, ReadsDataZeroAndUnallocated) {
  MiniImage img;
  Cache cache(1 << 20);
  auto dev = Open(img.bytes, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Size(), MiniImage::kSize);
  auto buf = ReadAll(**dev, 0, 2048);
  EXPECT_EQ(buf[0], std::byte{0xab});
  EXPECT_EQ(buf[511], std::byte{0xab});
  EXPECT_EQ(buf[512], std::byte{0});   // zero cluster
  EXPECT_EQ(buf[2047], std::byte{0});  // unallocated
  // Unaligned read across the data/zero boundary.
  buf = ReadAll(**dev, 510, 5);
  EXPECT_EQ(buf[1], std::byte{0xab});
  EXPECT_EQ(buf[2], std::byte{0});
  std::vector<std::byte> past(2);
  EXPECT_CODE((*dev)->Read(MiniImage::kSize - 1, past), kOutOfRange);
  ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.format, "qcow2");
  EXPECT_EQ(info.cluster_size, 512u);
  EXPECT_EQ(info.format_specific["data"]["compat"], "1.1");
}

TEST(Qcow2DeviceTest, ExtentsDescribeEachCluster) {
  MiniImage img;
  Cache cache(1 << 20);
  auto dev = Open(img.bytes, &cache);
  ASSERT_OK(dev);
  std::vector<Extent> ext;
  ASSERT_OK(CollectExtents(**dev, 0, MiniImage::kSize, &ext));
  ASSERT_EQ(ext.size(), 3u);
  EXPECT_EQ(ext[0].kind, ExtentKind::kData);
  EXPECT_EQ(ext[0].host_offset, MiniImage::kData);
  EXPECT_EQ(ext[1].kind, ExtentKind::kZero);
  EXPECT_EQ(ext[2].kind, ExtentKind::kUnallocated);
  EXPECT_EQ(ext[2].offset + ext[2].length, MiniImage::kSize);
  // One call returns at most one L2 table's worth (32 KiB here).
  std::vector<Extent> one;
  ASSERT_OK((*dev)->Extents(0, MiniImage::kSize, &one));
  EXPECT_LE(one.back().offset + one.back().length, 32u * 1024);
}

TEST(Qcow2DeviceTest, CheckIsCleanThenFindsOverlapAndLeak) {
  MiniImage img;
  Cache cache(1 << 20);
  auto report = (*Open(img.bytes, &cache))->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean()) << (report->errors.empty() ? "" : report->errors[0]);
  // Guest cluster 2 maps to the same host cluster as guest cluster 0.
  MiniImage overlap;
  Put64(&overlap.bytes, MiniImage::kL2 + 16, MiniImage::kData);
  report = (*Open(overlap.bytes, &cache))->Check();
  ASSERT_OK(report);
  ASSERT_FALSE(report->errors.empty());
  EXPECT_NE(report->errors[0].find("refcount=1 reference=2"), std::string::npos);
  // The data cluster is no longer referenced: a leak, not an error.
  MiniImage leak;
  Put64(&leak.bytes, MiniImage::kL2, 0);
  report = (*Open(leak.bytes, &cache))->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->errors.empty());
  ASSERT_EQ(report->warnings.size(), 1u);
  EXPECT_NE(report->warnings[0].find("leaked cluster 5"), std::string::npos);
  // An L2 entry past end of file.
  MiniImage past;
  Put64(&past.bytes, MiniImage::kL2 + 24, 0x100000);
  report = (*Open(past.bytes, &cache))->Check();
  ASSERT_OK(report);
  ASSERT_FALSE(report->errors.empty());
  EXPECT_NE(report->errors[0].find("past end of file"), std::string::npos);
}

TEST(Qcow2DeviceTest, BadL2OffsetFailsTheReadOnly) {
  MiniImage img;
  Put64(&img.bytes, MiniImage::kL1 + 8, 0x100000);  // second L2 past EOF
  Cache cache(1 << 20);
  auto dev = Open(img.bytes, &cache);
  ASSERT_OK(dev);
  std::vector<std::byte> buf(512);
  EXPECT_OK((*dev)->Read(0, buf));
  auto s = (*dev)->Read(32 * 1024, buf);
  EXPECT_CODE(s, kCorrupt);
  EXPECT_NE(s.message().find("L2 table at 0x100000"), std::string::npos) << s.ToString();
}

std::string RawDeflate(const std::string& in) { return imgfs::testing::ZlibDeflate(in, -12, 9); }

TEST(Qcow2DeviceTest, CompressedClusters) {
  MiniImage img;
  std::string stream = RawDeflate(std::string(512, 'Q'));
  ASSERT_LT(stream.size(), 512u);
  // cluster_bits 9: offset in bits 0..60; stream at 0xc10, no extra sector.
  PutBytes(&img.bytes, 0xc10, stream);
  Put64(&img.bytes, MiniImage::kL2 + 16, (1ull << 62) | 0xc10);
  // Guest cluster 3: garbage stream at 0xe00 (file ends inside its sector).
  PutBytes(&img.bytes, 0xe00, std::string(100, '\xff'));
  Put64(&img.bytes, MiniImage::kL2 + 24, (1ull << 62) | 0xe00);
  Cache cache(1 << 20);
  auto dev = Open(img.bytes, &cache);
  ASSERT_OK(dev);
  auto buf = ReadAll(**dev, 1024 + 7, 100);
  EXPECT_EQ(buf[0], std::byte{'Q'});
  EXPECT_EQ(buf[99], std::byte{'Q'});
  std::vector<std::byte> bad(10);
  EXPECT_CODE((*dev)->Read(1536, bad), kCorrupt);
  std::vector<Extent> ext;
  ASSERT_OK((*dev)->Extents(1024, 512, &ext));
  ASSERT_EQ(ext.size(), 1u);
  EXPECT_TRUE(ext[0].compressed);
  EXPECT_FALSE(ext[0].host_offset.has_value());
}

TEST(Qcow2DeviceTest, ConcurrentReadsAgree) {
  MiniImage img;
  Cache cache(4096);  // small: forces evictions while threads read
  auto dev = Open(img.bytes, &cache);
  ASSERT_OK(dev);
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<std::byte> buf(600);
      for (int i = 0; i < 500; ++i) {
        if (!(*dev)->Read(0, buf).ok() || buf[0] != std::byte{0xab} || buf[599] != std::byte{0}) {
          ++bad;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(bad.load(), 0);
}

// Snapshot table with one snapshot whose L1 (at 0xc00) maps guest cluster 0
// to the data cluster through the same L2 table, and a 1 KiB disk size.
std::string WithSnapshot() {
  MiniImage img;
  std::string& b = img.bytes;
  Put64(&b, 0xc00, MiniImage::kL2);
  Put64(&b, 0xc08, 0);
  uint64_t t = 0xe00;
  Put64(&b, t, 0xc00);
  Put32(&b, t + 8, 2);
  Put16(&b, t + 12, 1);
  Put16(&b, t + 14, 4);
  Put32(&b, t + 36, 16);
  Put64(&b, t + 40 + 8, 1024);  // disk_size
  PutBytes(&b, t + 56, "1snap");
  b.resize(0x1000);
  Put32(&b, kNbSnapshotsOffset, 1);
  Put64(&b, kSnapshotsOffsetOffset, t);
  return b;
}

TEST(Qcow2DeviceTest, SnapshotViews) {
  Cache cache(1 << 20);
  auto dev = Open(WithSnapshot(), &cache);
  ASSERT_OK(dev);
  ImageInfo info = (*dev)->Describe();
  ASSERT_EQ(info.snapshots.size(), 1u);
  EXPECT_EQ(info.snapshots[0].name, "snap");
  EXPECT_EQ(info.snapshots[0].virtual_size, 1024u);
  auto snap = (*dev)->OpenSnapshot("snap");
  ASSERT_OK(snap);
  EXPECT_EQ((*snap)->Size(), 1024u);
  auto buf = ReadAll(**snap, 0, 1024);
  EXPECT_EQ(buf[0], std::byte{0xab});
  EXPECT_EQ(buf[600], std::byte{0});
  // The view outlives the device that opened it.
  dev->reset();
  buf = ReadAll(**snap, 0, 16);
  EXPECT_EQ(buf[15], std::byte{0xab});
  EXPECT_CODE((*snap)->Write(0, buf), kReadOnly);
}

TEST(Qcow2DeviceTest, SnapshotWithBadL1IsAnError) {
  std::string b = WithSnapshot();
  Put64(&b, 0xe00, 0xc08);  // unaligned snapshot L1
  Cache cache(1 << 20);
  auto dev = Open(b, &cache);
  ASSERT_OK(dev);
  EXPECT_CODE((*dev)->OpenSnapshot("1"), kCorrupt);
  Put64(&b, 0xe00, 0x10000);  // past end of file
  dev = Open(b, &cache);
  ASSERT_OK(dev);
  EXPECT_CODE((*dev)->OpenSnapshot("1"), kCorrupt);
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_FALSE(report->errors.empty());
}

// 65536 snapshots whose L1 tables overlap the whole file: opening reads the
// table once, and Check stops at its budget instead of reading gigabytes.
TEST(Qcow2DeviceTest, HostileSnapshotTableIsBounded) {
  MiniImage img;
  std::string& b = img.bytes;
  const uint64_t table = 0x1000;
  const uint32_t count = 65536;
  b.resize(table + uint64_t{count} * 48);
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t at = table + uint64_t{i} * 48;
    Put64(&b, at, MiniImage::kL1);
    Put32(&b, at + 8, 40000 + i % 4 * 10000 + i);
    Put16(&b, at + 12, 1);
    PutBytes(&b, at + 40, "x");
  }
  Put32(&b, kNbSnapshotsOffset, count);
  Put64(&b, kSnapshotsOffsetOffset, table);
  Cache cache(1 << 20);
  std::atomic<uint64_t> bytes_read{0};
  OpenOptions options;
  options.format = "qcow2";
  auto dev = OpenImageFile(
      std::make_unique<imgfs::testing::RecordingFile>(b, "t.qcow2", &bytes_read), options, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Describe().snapshots.size(), count);
  // Opening reads the header and the snapshot table once, not the L1s.
  EXPECT_LT(bytes_read.load(), 2 * b.size());
  bytes_read = 0;
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_FALSE(report->errors.empty());
  // The 64 MiB snapshot-L1 budget plus a few passes over the (3 MiB) file,
  // where reading every snapshot's L1 would be about 36 GiB.
  EXPECT_LE(bytes_read.load(), (uint64_t{64} << 20) + 8 * b.size());
}

TEST(Qcow2DeviceTest, DataFileWithoutNameIsRefused) {
  MiniImage img;
  img.SetHeader64(kIncompatibleFeaturesOffset, kIncompatDataFile);
  Cache cache(1 << 20);
  auto dev = Open(img.bytes, &cache);
  EXPECT_CODE(dev, kInvalidArgument);
  EXPECT_NE(dev.status().message().find("names none"), std::string::npos);
  img.AddExtension(112, kExtDataFile, "x.data");
  EXPECT_CODE(Open(img.bytes, &cache), kUnsupported);  // in-memory: no aux files
}

TEST(Qcow2DeviceTest, BackingIsRefusedInMemoryUnlessNotFollowed) {
  MiniImage img;
  img.SetHeader64(kBackingFileOffsetOffset, 400);
  img.SetHeader32(kBackingFileSizeOffset, 4);
  PutBytes(&img.bytes, 400, "base");
  Cache cache(1 << 20);
  EXPECT_CODE(Open(img.bytes, &cache), kUnsupported);
  OpenOptions options;
  options.format = "qcow2";
  options.follow_backing = false;
  auto dev = OpenImageFile(NewMemoryFile("t", img.bytes), options, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Describe().backing_filename, "base");
  auto buf = ReadAll(**dev, 4096, 16);
  EXPECT_EQ(buf[0], std::byte{0});
}

TEST(Qcow2DeviceTest, DirtyImagesAreReadable) {
  MiniImage img;
  img.SetHeader64(kIncompatibleFeaturesOffset, kIncompatDirty);
  Cache cache(1 << 20);
  auto dev = Open(img.bytes, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE((*dev)->Describe().dirty);
}

TEST(Qcow2DeviceTest, ProbeFindsQcow2) {
  MiniImage img;
  Cache cache(1 << 20);
  auto dev = OpenImageFile(NewMemoryFile("t", img.bytes), OpenOptions{}, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Describe().format, "qcow2");
}

TEST(Qcow2DeviceTest, LaterVersionsAreRefusedNotShownAsRaw) {
  MiniImage img;
  img.SetHeader32(kVersionOffset, 4);
  Cache cache(1 << 20);
  auto dev = OpenImageFile(NewMemoryFile("t", img.bytes), OpenOptions{}, &cache);
  EXPECT_CODE(dev, kUnsupported);
  EXPECT_NE(dev.status().message().find("version 4"), std::string::npos);
}

TEST(Qcow2DeviceTest, EmptyAndTruncatedFilesFail) {
  Cache cache(1 << 20);
  EXPECT_CODE(Open("", &cache), kCorrupt);
  MiniImage img;
  EXPECT_CODE(Open(img.bytes.substr(0, 40), &cache), kCorrupt);
  EXPECT_CODE(Open(img.bytes.substr(0, 0x500), &cache), kCorrupt);  // refcount block cut
}

TEST(Qcow2DeviceTest, ReadErrorsPropagate) {
  MiniImage img;
  Cache cache(1 << 20);
  OpenOptions options;
  options.format = "qcow2";
  for (int n = 0; n < 12; ++n) {
    FaultPlan plan;
    plan.fail_read_at_call = n;
    auto dev = OpenImageFile(NewFaultFile(NewMemoryFile("t", img.bytes), plan), options, &cache);
    if (!dev.ok()) {
      EXPECT_CODE(dev, kIOError);
      continue;
    }
    std::vector<std::byte> buf(1024);
    Status s = (*dev)->Read(0, buf);
    EXPECT_TRUE(s.ok() || s.code() == StatusCode::kIOError) << s.ToString();
  }
}

// Random bytes behind a valid magic and version, and random mutations of a
// valid image: every call returns (no crash, no hang, bounded memory).
TEST(Qcow2DeviceTest, RandomInputsNeverCrash) {
  std::mt19937_64 rng(20261125);
  SCOPED_TRACE("seed 20261125");
  Cache cache(1 << 20);
  for (int iter = 0; iter < 400; ++iter) {
    std::string b;
    if (iter % 2 == 0) {
      b.resize(512 + rng() % 8192);
      for (char& c : b) {
        c = static_cast<char>(rng());
      }
      Put32(&b, 0, kMagic);
      Put32(&b, 4, 2 + static_cast<uint32_t>(iter % 4 == 0));
      Put32(&b, kClusterBitsOffset, 9 + static_cast<uint32_t>(rng() % 4));
    } else {
      b = WithSnapshot();
      for (int k = 0; k < 4; ++k) {
        b[rng() % b.size()] = static_cast<char>(rng());
      }
    }
    auto dev = Open(b, &cache);
    if (!dev.ok()) {
      continue;
    }
    std::vector<std::byte> buf(4096);
    uint64_t size = std::min<uint64_t>((*dev)->Size(), 1 << 20);
    for (uint64_t off = 0; off + buf.size() <= size; off += buf.size()) {
      (void)(*dev)->Read(off, buf);
    }
    if ((*dev)->Size() > 0) {
      std::vector<Extent> ext;
      (void)(*dev)->Extents(0, std::min<uint64_t>((*dev)->Size(), 1 << 20), &ext);
    }
    (void)(*dev)->Describe();
    (void)(*dev)->Check();
    auto snap = (*dev)->OpenSnapshot("1");
    if (snap.ok() && (*snap)->Size() >= 512) {
      std::vector<std::byte> one(512);
      (void)(*snap)->Read(0, one);
    }
  }
}

}  // namespace
}  // namespace imgfs::qcow2
