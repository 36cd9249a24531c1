// SPDX-License-Identifier: MIT
// cloop decoding from bytes: heads (V2.0, V4.0, first and last), one
// mutation per validation rule of the head and the index, then the device
// over builder-made images in memory: every compressor flag we decode,
// the ones we refuse by name, blocks that decode to the wrong size, and
// parallel read-ahead through the chunk engine.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "core/codec/codec.h"
#include "core/exec/thread_pool.h"
#include "core/io/file.h"
#include "formats/cloop/header.h"
#include "formats/open.h"
#include "tests/formats/cloop/test_cloop_builder.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::cloop {
namespace {

using testing::BuildCloop;
using testing::CloopSpec;
using testing::PaddedDisk;
using testing::PutBE32;
using testing::PutBE64;

std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    // Half compressible: runs of one byte, then noise.
    s[i] =
        (i / 1000) % 2 == 0 ? static_cast<char>('a' + i / 1000 % 26) : static_cast<char>(x >> 16);
  }
  return s;
}

CloopSpec Small(int version = 2, bool last = false) {
  CloopSpec s;
  s.version = version;
  s.header_last = last;
  s.block_bytes = 4096;
  s.disk = Pattern(5 * 4096 + 300, 7);
  return s;
}

Result<std::unique_ptr<BlockDevice>> Open(const std::string& bytes, Cache* cache,
                                          ThreadPool* pool = nullptr) {
  OpenOptions options;
  options.pool = pool;
  options.format = "cloop";
  return OpenImageFile(NewMemoryFile("t.cloop", bytes), options, cache);
}

std::string ReadAll(const BlockDevice& dev, size_t piece = 0) {
  std::string out(dev.Size(), '\0');
  if (piece == 0) {
    piece = out.size();
  }
  for (size_t at = 0; at < out.size(); at += piece) {
    const size_t n = std::min(piece, out.size() - at);
    Status s = dev.Read(at, std::span(reinterpret_cast<std::byte*>(out.data()) + at, n));
    EXPECT_OK(s);
  }
  return out;
}

std::string OpenError(const std::string& bytes) {
  Cache cache(1 << 20);
  auto dev = Open(bytes, &cache);
  EXPECT_FALSE(dev.ok());
  if (dev.ok()) {
    return "";
  }
  EXPECT_EQ(dev.status().message().find('\n'), std::string::npos);
  return dev.status().ToString();
}

TEST(CloopHead, DecodesEveryPlacement) {
  for (int version : {2, 4}) {
    for (bool last : {false, true}) {
      const std::string file = BuildCloop(Small(version, last));
      std::span<const std::byte> all(reinterpret_cast<const std::byte*>(file.data()), file.size());
      auto h = DecodeHead(all.first(kHeadBytes), all.last(kHeadBytes), file.size());
      ASSERT_OK(h);
      EXPECT_EQ(h->version, version);
      EXPECT_EQ(h->placement, last ? Placement::kHeaderLast : Placement::kHeaderFirst);
      EXPECT_EQ(h->block_bytes, 4096u);
      EXPECT_EQ(h->block_count, 6u);
      EXPECT_EQ(h->index_offset, last ? file.size() - 136 - 7 * 8 : 136u);
    }
  }
}

TEST(CloopDevice, ReadsEveryVersionPlacementAndFlag) {
  struct Case {
    int version;
    bool last;
    std::vector<uint8_t> flags;
  };
  std::vector<Case> cases = {
      {2, false, {}}, {2, true, {}}, {4, false, {0, 1, 0, 1, 0, 0}}, {4, true, {1, 0, 1, 0, 1, 1}}};
  if (codec::Available(codec::Codec::kXz)) {
    cases.push_back({4, false, {2, 0, 1, 2, 2, 0}});
    cases.push_back({4, true, {2, 2, 2, 2, 2, 2}});
  }
  for (const Case& c : cases) {
    CloopSpec spec = Small(c.version, c.last);
    spec.flags = c.flags;
    Cache cache(1 << 20);
    auto dev = Open(BuildCloop(spec), &cache);
    ASSERT_OK(dev);
    EXPECT_EQ((*dev)->Size(), 6u * 4096);
    EXPECT_EQ(ReadAll(**dev), PaddedDisk(spec));
    EXPECT_EQ(ReadAll(**dev, 1000), PaddedDisk(spec));
    auto report = (*dev)->Check();
    ASSERT_OK(report);
    EXPECT_TRUE(report->clean());
    std::vector<Extent> ext;
    ASSERT_OK((*dev)->Extents(0, (*dev)->Size(), &ext));
    uint64_t covered = 0;
    for (const Extent& e : ext) {
      EXPECT_EQ(e.kind, ExtentKind::kData);
      covered += e.length;
    }
    EXPECT_EQ(covered, (*dev)->Size());
  }
}

// lz4 and lzo blocks as python3-lz4 and python3-lzo compress them (the
// builder), alone and mixed with every other compressor, head first and last.
TEST(CloopDevice, ReadsLz4AndLzoBlocksFromAnIndependentCompressor) {
  IMGFS_REQUIRE_LZ_PYTHON();
  const bool xz = codec::Available(codec::Codec::kXz);
  struct Case {
    bool last;
    std::vector<uint8_t> flags;
  };
  const std::vector<Case> cases = {{false, {3, 3, 3, 3, 3, 3}},
                                   {true, {4, 4, 4, 4, 4, 4}},
                                   {false, {0, 1, uint8_t(xz ? 2 : 0), 3, 4, 3}},
                                   {true, {4, 3, 1, 0, uint8_t(xz ? 2 : 1), 4}}};
  for (const Case& c : cases) {
    CloopSpec spec = Small(4, c.last);
    spec.flags = c.flags;
    const std::string file = BuildCloop(spec);
    if (!codec::Available(codec::Codec::kLz4) || !codec::Available(codec::Codec::kLzo)) {
      // A build without liblz4 or liblzo2 refuses them by name.
      const std::string err = OpenError(file);
      EXPECT_TRUE(err.find("lz4-compressed") != std::string::npos ||
                  err.find("lzo-compressed") != std::string::npos)
          << err;
      continue;
    }
    Cache cache(1 << 20);
    auto dev = Open(file, &cache);
    ASSERT_OK(dev);
    EXPECT_EQ(ReadAll(**dev), PaddedDisk(spec));
    EXPECT_EQ(ReadAll(**dev, 1000), PaddedDisk(spec));
    auto report = (*dev)->Check();
    ASSERT_OK(report);
    EXPECT_TRUE(report->clean());
    const ImageInfo info = (*dev)->Describe();
    const nlohmann::json& used = info.format_specific["data"]["compressors"];
    for (uint8_t f : c.flags) {
      const std::string name = CompressorName(static_cast<Compressor>(f));
      EXPECT_NE(std::find(used.begin(), used.end(), name), used.end()) << name;
    }
  }
}

// Damaged lz4 and lzo blocks: the reads that meet them fail with one line
// naming the block, the others still read; no crash, nothing written past
// the block (the chunk engine's buffer is one block).
TEST(CloopBadInput, CorruptLz4AndLzoBlocksFailTheirReads) {
  IMGFS_REQUIRE_LZ_PYTHON();
  if (!codec::Available(codec::Codec::kLz4) || !codec::Available(codec::Codec::kLzo)) {
    GTEST_SKIP() << "built without liblz4 or liblzo2";
  }
  for (uint8_t flag : {3, 4}) {
    const std::string name = CompressorName(static_cast<Compressor>(flag));
    CloopSpec spec = Small(4);
    spec.flags = std::vector<uint8_t>(6, flag);
    const std::string good = BuildCloop(spec);
    const auto offset = [&](size_t i) {
      uint64_t v = 0;
      for (size_t k = 0; k < 8; ++k) {
        v = v << 8 | static_cast<uint8_t>(good[136 + i * 8 + k]);
      }
      return v & kOffsetMask;
    };
    // Block 2: every 7th byte flipped; block 4: its second half 0xff.
    std::string bad = good;
    for (uint64_t at = offset(2); at < offset(3); at += 7) {
      bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    }
    for (uint64_t at = (offset(4) + offset(5)) / 2; at < offset(5); ++at) {
      bad[at] = '\xff';
    }
    Cache cache(1 << 20);
    auto dev = Open(bad, &cache);
    ASSERT_OK(dev);
    std::string buf(4096, '\0');
    auto read = [&](uint64_t block) {
      return (*dev)->Read(block * 4096, std::span(reinterpret_cast<std::byte*>(buf.data()), 4096));
    };
    for (uint64_t block : {2, 4}) {
      const Status s = read(block);
      EXPECT_EQ(s.code(), StatusCode::kCorrupt) << s.ToString();
      EXPECT_NE(s.message().find("cloop: " + name + " block " + std::to_string(block)),
                std::string::npos)
          << s.ToString();
      EXPECT_EQ(s.message().find('\n'), std::string::npos);
    }
    for (uint64_t block : {0, 1, 3, 5}) {
      EXPECT_OK(read(block));
      EXPECT_EQ(buf, PaddedDisk(spec).substr(block * 4096, 4096));
    }
    auto report = (*dev)->Check();
    ASSERT_OK(report);
    EXPECT_EQ(report->errors.size(), 2u);

    // Streams that hold more than the block: built with 8 KiB blocks, read
    // as 4 KiB ones.
    CloopSpec big = Small(4);
    big.block_bytes = 8192;
    big.flags = std::vector<uint8_t>(4, flag);
    std::string longer = BuildCloop(big);
    PutBE32(&longer, 128, 4096);
    Cache cache2(1 << 20);
    auto dev2 = Open(longer, &cache2);
    ASSERT_OK(dev2);
    const Status s = (*dev2)->Read(0, std::span(reinterpret_cast<std::byte*>(buf.data()), 4096));
    EXPECT_EQ(s.code(), StatusCode::kCorrupt) << s.ToString();
    EXPECT_NE(s.message().find(name + ": "), std::string::npos) << s.ToString();
  }
}

TEST(CloopDevice, RefusesUndecodableCompressorsByName) {
  std::vector<uint8_t> flags = {5, 9, 15};
  if (!codec::Available(codec::Codec::kLz4)) {
    flags.push_back(3);
  }
  if (!codec::Available(codec::Codec::kLzo)) {
    flags.push_back(4);
  }
  for (uint8_t flag : flags) {
    CloopSpec spec = Small(4);
    spec.flags = {0, 0, flag};
    const std::string err = OpenError(BuildCloop(spec));
    EXPECT_NE(err.find("block 2"), std::string::npos) << err;
    const std::string want = flag < 5
                                 ? CompressorName(static_cast<Compressor>(flag)) + "-compressed"
                                 : "flag " + std::to_string(flag);
    EXPECT_NE(err.find(want), std::string::npos) << err;
  }
}

TEST(CloopDevice, ParallelReadAheadMatches) {
  CloopSpec spec;
  spec.block_bytes = 65536;
  spec.disk = Pattern(12 << 20, 3);
  ThreadPool pool(2);
  Cache cache(4 << 20);
  auto dev = Open(BuildCloop(spec), &cache, &pool);
  ASSERT_OK(dev);
  EXPECT_EQ(ReadAll(**dev, 1 << 20), spec.disk);
  EXPECT_EQ(ReadAll(**dev, 128 << 10), spec.disk);
}

// Damaged heads and indexes: one-line errors, at open.
TEST(CloopBadInput, HeadAndIndex) {
  const std::string good = BuildCloop(Small());
  auto with = [&](size_t at, uint32_t v) {
    std::string f = good;
    PutBE32(&f, at, v);
    return f;
  };
  auto with64 = [&](size_t at, uint64_t v) {
    std::string f = good;
    PutBE64(&f, at, v);
    return f;
  };
  EXPECT_NE(OpenError(good.substr(0, 100)).find("shorter than"), std::string::npos);
  EXPECT_NE(OpenError(with(128, 1000)).find("multiple of 512"), std::string::npos);
  EXPECT_NE(OpenError(with(128, 0)).find("multiple of 512"), std::string::npos);
  EXPECT_NE(OpenError(with(128, 0x80000000)).find("64 MiB cap"), std::string::npos);
  EXPECT_NE(OpenError(with(132, 5000)).find("past end of file"), std::string::npos);
  EXPECT_NE(OpenError(with(132, 0xffffffff)).find("over the cap"), std::string::npos);
  // Offsets: decreasing, into the index, past the end, absurd sizes.
  EXPECT_NE(OpenError(with64(136 + 2 * 8, 200)).find("must not decrease"), std::string::npos);
  EXPECT_NE(OpenError(with64(136, 8)).find("overlaps the header"), std::string::npos);
  EXPECT_NE(OpenError(with64(136 + 6 * 8, 1 << 30)).find("leaves the data"), std::string::npos);
  // Header last, index past the start of the file.
  std::string last = BuildCloop(Small(4, true));
  PutBE32(&last, last.size() - 4, 1 << 20);
  EXPECT_NE(OpenError(last).find("past end of file"), std::string::npos);
}

TEST(CloopBadInput, BlockOfTheWrongSizeFailsItsReads) {
  CloopSpec two = Small();
  two.block_bytes = 2048;  // every block decodes to 2048 bytes, not 4096
  std::string wrong = BuildCloop(two);
  PutBE32(&wrong, 128, 4096);
  PutBE32(&wrong, 132, 6);
  Cache cache(1 << 20);
  auto dev = Open(wrong, &cache);
  ASSERT_OK(dev);
  std::string buf(4096, '\0');
  Status s = (*dev)->Read(0, std::span(reinterpret_cast<std::byte*>(buf.data()), buf.size()));
  EXPECT_EQ(s.code(), StatusCode::kCorrupt) << s.ToString();
  EXPECT_NE(s.message().find("cloop: zlib block 0"), std::string::npos) << s.ToString();
  EXPECT_EQ(s.message().find('\n'), std::string::npos);
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_FALSE(report->clean());
}

// Fuzz seeds (tests/fuzz/corpus/cloop/), written on request:
//   IMGFS_FUZZ_CORPUS_DIR=tests/fuzz/corpus build/tests/formats/cloop_header_test
//     --gtest_also_run_disabled_tests --gtest_filter='*WriteFuzzSeeds*'
TEST(CloopSeeds, DISABLED_WriteFuzzSeeds) {
  const char* dir = std::getenv("IMGFS_FUZZ_CORPUS_DIR");
  if (dir == nullptr) {
    GTEST_SKIP() << "IMGFS_FUZZ_CORPUS_DIR not set";
  }
  const std::string sub = std::string(dir) + "/cloop";
  std::filesystem::create_directories(sub);
  auto write = [&](const std::string& name, CloopSpec spec) {
    spec.block_bytes = 512;
    spec.disk = Pattern(4 * 512 - 100, 11);
    std::ofstream(sub + "/" + name, std::ios::binary) << BuildCloop(spec);
  };
  write("v2-first", Small(2, false));
  write("v2-last", Small(2, true));
  CloopSpec v4 = Small(4, false);
  v4.flags = {0, 1, 2, 0};
  write("v4-first-mixed", v4);
  v4.header_last = true;
  v4.flags = {1, 0, 1, 2};
  write("v4-last-mixed", v4);
  if (testing::HaveLzPython()) {
    v4.flags = {3, 4, 1, 3};
    write("v4-last-lz4-lzo", v4);
    v4.header_last = false;
    v4.flags = {4, 0, 3, 4};
    write("v4-first-lzo-lz4", v4);
  }
}

}  // namespace
}  // namespace imgfs::cloop
