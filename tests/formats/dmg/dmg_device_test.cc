// SPDX-License-Identifier: MIT
// The UDIF device from hand-made images: every chunk kind, several blkx
// tables, the binary resource fork, extents, the cache and parallel reads,
// Check(), and one hostile image per validation rule.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/exec/thread_pool.h"
#include "core/util/endian.h"
#include "formats/dmg/codec.h"
#include "formats/dmg/device.h"
#include "formats/dmg/sparseimage.h"
#include "formats/open.h"
#include "tests/formats/dmg/test_data.h"
#include "tests/formats/dmg/test_dmg_builder.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::dmg {
namespace {

using testing::BuildTestDmg;
using testing::BuildTestDmgPartitions;
using testing::CompressIntoChunks;
using testing::MixedData;
using testing::TestChunk;
using testing::TestDmgOptions;
using testing::TestPartition;

std::string AsText(const std::vector<std::byte>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

Result<std::unique_ptr<BlockDevice>> OpenBytes(const std::vector<std::byte>& bytes, Cache* cache,
                                               ThreadPool* pool = nullptr) {
  OpenOptions options;
  options.pool = pool;
  return OpenImageFile(NewMemoryFile("t.dmg", AsText(bytes)), options, cache);
}

std::vector<std::byte> ReadAll(const BlockDevice& dev) {
  std::vector<std::byte> out(static_cast<size_t>(dev.Size()));
  EXPECT_OK(dev.Read(0, out));
  return out;
}

// Chunks of every kind this build decodes, with the expected disk bytes.
struct Sample {
  std::vector<TestChunk> chunks;
  std::vector<std::byte> disk;
};

Sample EveryKind() {
  Sample s;
  auto add = [&](TestChunk c, std::span<const std::byte> bytes) {
    s.chunks.push_back(std::move(c));
    s.disk.insert(s.disk.end(), bytes.begin(), bytes.end());
  };
  const std::vector<std::byte> zeros(64 * 512);
  add(TestChunk{ChunkType::kZeroFill, 64, {}}, zeros);
  std::vector<std::byte> raw = MixedData(8 * 512, 3);
  add(TestChunk{ChunkType::kRaw, 8, raw}, raw);
  add(TestChunk{ChunkType::kIgnore, 64, {}}, zeros);
  for (ChunkType t : {ChunkType::kZlib, ChunkType::kBzip2, ChunkType::kLzma, ChunkType::kAdc,
                      ChunkType::kLzfse}) {
    if (!CanDecompress(t)) {
      continue;
    }
    std::vector<std::byte> data = MixedData(40 * 512 + 512, static_cast<uint32_t>(t));
    auto chunks = CompressIntoChunks(t, data, 16);
    if (!chunks.ok()) {
      continue;  // a codec without an encoder (LZFSE) is covered by its own tests
    }
    for (TestChunk& c : *chunks) {
      s.chunks.push_back(std::move(c));
    }
    s.disk.insert(s.disk.end(), data.begin(), data.end());
  }
  return s;
}

TEST(DmgDeviceTest, ReadsEveryChunkKind) {
  Sample s = EveryKind();
  Cache cache(64 << 20);
  auto dev = OpenBytes(BuildTestDmg(s.chunks), &cache);
  ASSERT_OK(dev);
  ASSERT_EQ((*dev)->Size(), s.disk.size());
  EXPECT_EQ(ReadAll(**dev), s.disk);
  // Unaligned reads across chunk boundaries.
  for (uint64_t off :
       {uint64_t{1}, uint64_t{64 * 512 - 7}, uint64_t{72 * 512 + 3}, uint64_t{150 * 512 + 100}}) {
    std::vector<std::byte> got(5000);
    ASSERT_OK((*dev)->Read(off, got));
    EXPECT_EQ(0, std::memcmp(got.data(), s.disk.data() + off, got.size())) << off;
  }
  ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.format, "dmg");
  EXPECT_EQ(info.format_specific["type"], "dmg");
  EXPECT_EQ(info.format_specific["data"]["variant"], "mixed");
  const auto& blkx = info.format_specific["data"]["blkx"];
  ASSERT_EQ(blkx.size(), 1u);
  EXPECT_EQ(blkx[0]["name"], "whole disk (Apple_HFS : 0)");
  auto check = (*dev)->Check();
  ASSERT_OK(check);
  EXPECT_TRUE(check->clean()) << (check->errors.empty() ? "" : check->errors[0]);
}

TEST(DmgDeviceTest, ExtentsReportZeroAndData) {
  Sample s = EveryKind();
  Cache cache(1 << 20);
  auto dev = OpenBytes(BuildTestDmg(s.chunks), &cache);
  ASSERT_OK(dev);
  std::vector<Extent> ext;
  ASSERT_OK(CollectExtents(**dev, 0, (*dev)->Size(), &ext));
  ASSERT_GE(ext.size(), 4u);
  EXPECT_EQ(ext[0].kind, ExtentKind::kZero);
  EXPECT_EQ(ext[0].length, 64u * 512);
  EXPECT_EQ(ext[1].kind, ExtentKind::kData);
  EXPECT_TRUE(ext[1].host_offset.has_value());
  EXPECT_EQ(*ext[1].host_offset, 0u);  // raw chunk stored first
  EXPECT_EQ(ext[2].kind, ExtentKind::kZero);
  EXPECT_EQ(ext[3].kind, ExtentKind::kData);
  EXPECT_TRUE(ext[3].compressed);
}

TEST(DmgDeviceTest, SmallReadDecompressesOnlyItsChunk) {
  std::vector<std::byte> data = MixedData(64 * 4096, 5);
  auto chunks = CompressIntoChunks(ChunkType::kZlib, data, 64);  // 32 KiB chunks
  ASSERT_OK(chunks);
  Cache cache(64 << 20);
  auto dev = OpenBytes(BuildTestDmg(*chunks), &cache);
  ASSERT_OK(dev);
  std::vector<std::byte> got(4096);
  ASSERT_OK((*dev)->Read(5 * 4096, got));
  EXPECT_EQ(0, std::memcmp(got.data(), data.data() + 5 * 4096, 4096));
  EXPECT_EQ(cache.TotalCharge(), 64u * 512);  // one 32 KiB chunk, not the disk
  ASSERT_OK((*dev)->Read(5 * 4096 + 100, got));
  EXPECT_EQ(cache.hits(), 1u);
}

TEST(DmgDeviceTest, ParallelMultiChunkReadsMatch) {
  std::vector<std::byte> data = MixedData(2 << 20, 7);
  auto chunks = CompressIntoChunks(ChunkType::kZlib, data, 128);
  ASSERT_OK(chunks);
  ThreadPool pool(3);
  Cache cache(1 << 20);
  auto dev = OpenBytes(BuildTestDmg(*chunks), &cache, &pool);
  ASSERT_OK(dev);
  EXPECT_EQ(ReadAll(**dev), data);
  std::vector<std::byte> got(300000);
  ASSERT_OK((*dev)->Read(12345, got));
  EXPECT_EQ(0, std::memcmp(got.data(), data.data() + 12345, got.size()));
}

std::vector<TestPartition> ThreePartitions(std::vector<std::byte>* disk) {
  std::vector<TestPartition> parts;
  const char* names[] = {"Protective Master Boot Record (MBR : 0)",
                         "GPT Header (Primary GPT Header : 1)", "disk image (Apple_HFS : 2)"};
  int32_t id = -1;
  for (const char* name : names) {
    std::vector<std::byte> data = MixedData(8 * 512, static_cast<uint32_t>(id + 10));
    auto chunks = CompressIntoChunks(ChunkType::kZlib, data, 4);
    EXPECT_OK(chunks);
    parts.push_back(TestPartition{name, id++, std::move(*chunks)});
    disk->insert(disk->end(), data.begin(), data.end());
  }
  return parts;
}

TEST(DmgDeviceTest, SeveralBlkxTablesComposeInOrder) {
  std::vector<std::byte> disk;
  auto parts = ThreePartitions(&disk);
  Cache cache(1 << 20);
  auto dev = OpenBytes(BuildTestDmgPartitions(parts), &cache);
  ASSERT_OK(dev);
  EXPECT_EQ(ReadAll(**dev), disk);
  ImageInfo info = (*dev)->Describe();
  const auto& blkx = info.format_specific["data"]["blkx"];
  ASSERT_EQ(blkx.size(), 3u);
  EXPECT_EQ(blkx[0]["id"], -1);
  EXPECT_EQ(blkx[2]["name"], "disk image (Apple_HFS : 2)");
  EXPECT_EQ(blkx[2]["first-sector"], 16u);
  EXPECT_EQ(blkx[1]["compression"], "zlib");
  EXPECT_EQ(info.format_specific["data"]["variant"], "UDZO");
  auto check = (*dev)->Check();
  ASSERT_OK(check);
  EXPECT_TRUE(check->clean());
}

TEST(DmgDeviceTest, ReadsTheBinaryResourceFork) {
  std::vector<std::byte> disk;
  auto parts = ThreePartitions(&disk);
  TestDmgOptions options;
  options.resource_fork = true;
  Cache cache(1 << 20);
  auto dev = OpenBytes(BuildTestDmgPartitions(parts, options), &cache);
  ASSERT_OK(dev);
  EXPECT_EQ(ReadAll(**dev), disk);
  ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.format_specific["data"]["resource"], "resource fork");
  EXPECT_EQ(info.format_specific["data"]["blkx"][1]["name"], "GPT Header (Primary GPT Header : 1)");
  auto check = (*dev)->Check();
  ASSERT_OK(check);
  EXPECT_TRUE(check->clean());
}

TEST(DmgDeviceTest, CheckFindsChecksumMismatches) {
  std::vector<std::byte> raw = MixedData(16 * 512, 9);
  std::vector<std::byte> img = BuildTestDmg(std::vector<TestChunk>{{ChunkType::kRaw, 16, raw}});
  img[100] ^= std::byte{1};  // inside the raw chunk: data fork and blkx CRC change
  Cache cache(1 << 20);
  auto dev = OpenBytes(img, &cache);
  ASSERT_OK(dev);
  auto check = (*dev)->Check();
  ASSERT_OK(check);
  ASSERT_EQ(check->errors.size(), 2u);
  EXPECT_NE(check->errors[0].find("data fork checksum mismatch"), std::string::npos);
  EXPECT_NE(check->errors[1].find("blkx 0"), std::string::npos);
}

// Koly field offsets for mutations.
constexpr size_t kKolyDataForkLength = 32;
constexpr size_t kKolyXmlOffset = 216;
constexpr size_t kKolyXmlLength = 224;
constexpr size_t kKolySegmentCount = 60;

void PatchKoly64(std::vector<std::byte>* img, size_t field, uint64_t v) {
  StoreBE64(img->data() + img->size() - 512 + field, v);
}

// hdiutil on macOS 15 writes segment 0 of 0, no segment UUID and no
// data-fork checksum into the koly of an unsegmented image.
TEST(DmgDeviceTest, OpensAnUnsegmentedTrailerWithoutDataChecksum) {
  std::vector<std::byte> data = MixedData(32 * 512, 12);
  auto chunks = CompressIntoChunks(ChunkType::kZlib, data, 16);
  ASSERT_OK(chunks);
  std::vector<std::byte> img = BuildTestDmg(*chunks);
  std::byte* koly = img.data() + img.size() - 512;
  std::memset(koly + 56, 0, 8 + 16 + 136);  // segment number, count, UUID, data checksum
  Cache cache(1 << 20);
  auto dev = OpenBytes(img, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ(ReadAll(**dev), data);
  auto check = (*dev)->Check();
  ASSERT_OK(check);
  EXPECT_TRUE(check->clean());
}

TEST(DmgDeviceTest, HostileImagesFailWithOneLine) {
  std::vector<std::byte> data = MixedData(32 * 512, 11);
  auto chunks = CompressIntoChunks(ChunkType::kZlib, data, 16);
  ASSERT_OK(chunks);
  const std::vector<std::byte> good = BuildTestDmg(*chunks);
  Cache cache(1 << 20);
  auto expect_fail = [&](std::vector<std::byte> img, StatusCode code, const char* what) {
    auto dev = OpenBytes(img, &cache);
    if (dev.ok()) {
      std::vector<std::byte> all((*dev)->Size());
      Status s = (*dev)->Read(0, all);
      EXPECT_EQ(s.code(), code) << what << ": " << s.ToString();
      EXPECT_EQ(s.message().find('\n'), std::string::npos);
      return;
    }
    EXPECT_EQ(dev.status().code(), code) << what << ": " << dev.status().ToString();
    EXPECT_EQ(dev.status().message().find('\n'), std::string::npos);
  };
  {
    auto img = good;
    PatchKoly64(&img, kKolyXmlOffset, img.size());
    expect_fail(img, StatusCode::kCorrupt, "xml past end");
  }
  {
    auto img = good;
    PatchKoly64(&img, kKolyXmlLength, uint64_t{1} << 40);
    expect_fail(img, StatusCode::kCorrupt, "huge xml");
  }
  {
    auto img = good;
    PatchKoly64(&img, kKolyDataForkLength, uint64_t{1} << 50);
    expect_fail(img, StatusCode::kCorrupt, "data fork past end");
  }
  {
    auto img = good;
    StoreBE32(img.data() + img.size() - 512 + kKolySegmentCount, 3);
    expect_fail(img, StatusCode::kUnsupported, "segmented");
  }
  {
    // Corrupt the first zlib stream: its header byte.
    auto img = good;
    img[0] = std::byte{0xff};
    expect_fail(img, StatusCode::kCorrupt, "corrupt zlib");
  }
  {
    // Truncate a chunk: its stored length shrinks by moving the next chunk.
    std::vector<TestChunk> cut = *chunks;
    cut[0].payload.resize(cut[0].payload.size() / 2);
    expect_fail(BuildTestDmg(cut), StatusCode::kCorrupt, "truncated chunk");
  }
  {
    std::vector<TestChunk> raw{{ChunkType::kRaw, 4, std::vector<std::byte>(1000)}};
    expect_fail(BuildTestDmg(raw), StatusCode::kCorrupt, "short raw chunk");
  }
  {
    std::vector<TestChunk> big{{ChunkType::kZlib, kMaxChunkSectors + 1, std::vector<std::byte>(8)}};
    expect_fail(BuildTestDmg(big), StatusCode::kCorrupt, "absurd chunk size");
  }
}

TEST(DmgDeviceTest, OverlappingTablesAreRefused) {
  std::vector<std::byte> disk;
  auto parts = ThreePartitions(&disk);
  std::vector<std::byte> img = BuildTestDmgPartitions(parts);
  // Re-encode: load, shift the third table onto the second, rebuild the XML.
  auto image = LoadUdif(std::shared_ptr<const File>(NewMemoryFile("t", AsText(img))));
  ASSERT_OK(image);
  UdifImage copy = **image;
  copy.entries[2].table.first_sector = 10;
  auto composed = ComposeChunks(copy);
  EXPECT_CODE(composed, kCorrupt);
  EXPECT_NE(composed.status().message().find("overlaps"), std::string::npos);
}

// Chunks that share stored bytes are errors, found even when they are not
// neighbours in file order, and a table whose compressed chunks share bytes
// is not checksummed (decompressing shared bytes once per chunk is the
// cost a tiny hostile image would otherwise impose).
TEST(DmgDeviceTest, CheckReportsSharedStoredBytesWithoutChecksummingThem) {
  std::vector<std::byte> pattern = MixedData(8 * 512, 4);
  std::vector<std::byte> data;
  for (int i = 0; i < 2; ++i) {
    data.insert(data.end(), pattern.begin(), pattern.end());
  }
  auto zlib = CompressIntoChunks(ChunkType::kZlib, data, 8);
  ASSERT_OK(zlib);
  ASSERT_EQ(zlib->size(), 2u);
  std::vector<TestPartition> parts = {{"first", -1, *zlib},
                                      {"second", 0, {{ChunkType::kRaw, 8, MixedData(8 * 512, 5)}}}};
  std::vector<std::byte> img = BuildTestDmgPartitions(parts);
  Cache cache(1 << 20);
  auto dev = OpenBytes(img, &cache);
  ASSERT_OK(dev);
  auto image = LoadUdif(std::shared_ptr<const File>(NewMemoryFile("t", AsText(img))));
  ASSERT_OK(image);
  auto chunks = ComposeChunks(**image);
  ASSERT_OK(chunks);
  std::vector<MappedChunk*> z;
  MappedChunk* raw = nullptr;
  for (MappedChunk& c : *chunks) {
    if (c.type == ChunkType::kZlib) {
      z.push_back(&c);
    } else if (c.type == ChunkType::kRaw) {
      raw = &c;
    }
  }
  ASSERT_EQ(z.size(), 2u);
  ASSERT_NE(raw, nullptr);
  {  // Untouched: clean.
    auto check = CheckUdif(**image, *chunks, **dev);
    ASSERT_OK(check);
    EXPECT_TRUE(check->errors.empty()) << check->errors[0];
  }
  // The raw chunk's 4096 stored bytes cover both (small) zlib chunks.
  ASSERT_LT(z[1]->file_offset + z[1]->length, z[0]->file_offset + raw->length);
  raw->file_offset = z[0]->file_offset;
  auto check = CheckUdif(**image, *chunks, **dev);
  ASSERT_OK(check);
  size_t share_lines = 0;
  bool skipped_first = false;
  for (const std::string& e : check->errors) {
    share_lines += e.find("share stored bytes at") != std::string::npos ? 1 : 0;
    skipped_first |= e.find("blkx 0 'first' not checksummed") != std::string::npos;
    EXPECT_EQ(e.find("blkx 1"), std::string::npos) << e;
  }
  EXPECT_EQ(share_lines, 2u);  // raw with each zlib chunk
  EXPECT_TRUE(skipped_first);
  bool checked_second = false;
  for (const std::string& c : check->checked) {
    checked_second |= c.starts_with("blkx 1 'second' crc32");
  }
  EXPECT_TRUE(checked_second);  // raw chunks are cheap to read: still checked
}

// Regenerates tests/fuzz/corpus/dmg (the fuzz seeds). Disabled, so a normal
// run neither writes nor skips it; run by hand:
//   IMGFS_WRITE_DMG_CORPUS=tests/fuzz/corpus/dmg build/tests/formats/dmg_device_test
//     --gtest_also_run_disabled_tests --gtest_filter='*WritesFuzzSeeds*'
TEST(DmgDeviceTest, DISABLED_WritesFuzzSeeds) {
  const char* dir = std::getenv("IMGFS_WRITE_DMG_CORPUS");  // NOLINT(concurrency-mt-unsafe)
  if (dir == nullptr) {
    GTEST_SKIP() << "set IMGFS_WRITE_DMG_CORPUS=DIR to write the dmg fuzz seeds";
  }
  auto write = [&](const std::string& name, const std::vector<std::byte>& v) {
    auto out = CreatePosixFile(std::string(dir) + "/" + name);
    ASSERT_OK(out);
    ASSERT_OK((*out)->WriteAt(0, v));
  };
  const std::vector<std::byte> data = MixedData(16 * 512, 3);
  for (auto [t, name] : {std::pair{ChunkType::kZlib, "zlib"}, std::pair{ChunkType::kBzip2, "bzip2"},
                         std::pair{ChunkType::kLzma, "lzma"}, std::pair{ChunkType::kAdc, "adc"}}) {
    auto c = CompressIntoChunks(t, data, 8);
    if (!c.ok()) {
      continue;
    }
    c->push_back(TestChunk{ChunkType::kZeroFill, 4, {}});
    write(std::string(name) + ".dmg", BuildTestDmg(*c));
  }
  std::vector<TestPartition> parts;
  for (int i = 0; i < 3; ++i) {
    auto c =
        CompressIntoChunks(ChunkType::kZlib, MixedData(4 * 512, static_cast<uint32_t>(i)), 4, true);
    ASSERT_OK(c);
    parts.push_back(TestPartition{"part " + std::to_string(i), i - 1, *c});
  }
  parts[1].chunks.push_back(
      TestChunk{ChunkType::kRaw, 1, std::vector<std::byte>(512, std::byte{7})});
  parts[2].chunks.push_back(TestChunk{ChunkType::kIgnore, 3, {}});
  write("three-tables.dmg", BuildTestDmgPartitions(parts));
  TestDmgOptions options;
  options.resource_fork = true;
  write("rsrc-fork.dmg", BuildTestDmgPartitions(parts, options));
  SparseHeader h;
  h.sectors_per_band = 4;
  h.sector_count = 24;
  h.band_numbers = {3, 1};
  std::vector<std::byte> sparse = EncodeSparseHeader(h);
  const std::vector<std::byte> band = MixedData(3000, 9);
  sparse.insert(sparse.end(), band.begin(), band.end());
  write("udsp.sparseimage", sparse);
  // Two bands after the header and two more after one index node.
  SparseHeader chained;
  chained.sectors_per_band = 1;
  chained.sector_count = 8;
  chained.band_numbers = {3, 1};
  chained.next_node = 4096 + 2 * 512;
  SparseIndexNode node;
  node.band_numbers = {8, 5};
  sparse = EncodeSparseHeader(chained);
  const std::vector<std::byte> bands = MixedData(1024, 10);
  sparse.insert(sparse.end(), bands.begin(), bands.end());
  const std::vector<std::byte> node_bytes = EncodeSparseIndexNode(node);
  sparse.insert(sparse.end(), node_bytes.begin(), node_bytes.end());
  sparse.insert(sparse.end(), bands.begin(), bands.end());
  write("udsp-chained.sparseimage", sparse);
}

}  // namespace
}  // namespace imgfs::dmg
