// SPDX-License-Identifier: MIT
// Bochs redolog decoding from bytes: a valid v1 and v2 header, one mutation
// per validation rule, then the device over builder-made images in memory
// (bitmaps, holes, out-of-order extents, damaged catalogs and bitmaps).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "core/io/file.h"
#include "formats/bochs/header.h"
#include "formats/open.h"
#include "tests/formats/bochs/test_bochs_builder.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::bochs {
namespace {

using testing::BochsSpec;
using testing::BuildBochs;
using testing::ExpectedDisk;
using testing::Pattern;
using testing::PutLE32;

std::span<const std::byte> Span(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

Result<Header> Decode(const std::string& file) {
  return DecodeHeader(Span(file).first(std::min<size_t>(file.size(), kHeaderBytes)), file.size());
}

BochsSpec Small(uint32_t version = 0x00020000) {
  BochsSpec s;
  s.version = version;
  s.disk_bytes = 40 * 1024 + 100;  // 10 extents of 4 KiB; a partial last sector
  s.sectors[1] = Pattern(512, 1);
  s.sectors[3] = Pattern(512, 3);
  s.sectors[17] = Pattern(300, 17);
  s.sectors[79] = Pattern(512, 79);
  return s;
}

TEST(BochsHeader, DecodesV2AndV1) {
  for (uint32_t version : {0x00020000u, 0x00010000u}) {
    auto h = Decode(BuildBochs(Small(version)));
    ASSERT_OK(h);
    EXPECT_EQ(h->version, version);
    EXPECT_EQ(h->catalog_entries, 11u);
    EXPECT_EQ(h->extent_bytes, 4096u);
    EXPECT_EQ(h->bitmap_bytes, 1u);
    EXPECT_EQ(h->disk_bytes_stored, 40u * 1024 + 100);
    EXPECT_EQ(h->disk_bytes, 40u * 1024);
    EXPECT_EQ(h->data_offset(), 512u + 44);
    EXPECT_EQ(h->DataHostOffset(1), 512u + 44 + 9 * 512 + 512);
  }
}

struct Mutation {
  const char* name;
  size_t offset;
  uint32_t value;
  StatusCode code;
};

class BochsHeaderMutation : public ::testing::TestWithParam<Mutation> {};

TEST_P(BochsHeaderMutation, IsRefused) {
  const Mutation m = GetParam();
  std::string file = BuildBochs(Small());
  PutLE32(&file, m.offset, m.value);
  auto h = Decode(file);
  ASSERT_FALSE(h.ok()) << m.name;
  EXPECT_EQ(h.status().code(), m.code) << h.status().ToString();
  EXPECT_EQ(h.status().message().find('\n'), std::string::npos);
  EXPECT_EQ(h.status().message().rfind("bochs: ", 0), 0u) << h.status().ToString();
}

INSTANTIATE_TEST_SUITE_P(
    Rules, BochsHeaderMutation,
    ::testing::Values(Mutation{"magic", 0, 0x41414141, StatusCode::kCorrupt},
                      Mutation{"type", 0x20, 0x41414141, StatusCode::kCorrupt},
                      Mutation{"subtype", 0x30, 0x6f646e55, StatusCode::kUnsupported},
                      Mutation{"version", 0x40, 0x00030000, StatusCode::kUnsupported},
                      Mutation{"header_small", 0x44, 100, StatusCode::kCorrupt},
                      Mutation{"header_huge", 0x44, 0x7fffffff, StatusCode::kCorrupt},
                      Mutation{"catalog_past_eof", 0x48, 0x01000000, StatusCode::kCorrupt},
                      Mutation{"catalog_over_cap", 0x48, 0xfffffff0, StatusCode::kUnsupported},
                      Mutation{"catalog_too_small", 0x48, 2, StatusCode::kCorrupt},
                      Mutation{"bitmap_small", 0x4c, 0, StatusCode::kCorrupt},
                      Mutation{"bitmap_huge", 0x4c, 0x40000000, StatusCode::kUnsupported},
                      Mutation{"extent_zero", 0x50, 0, StatusCode::kCorrupt},
                      Mutation{"extent_odd", 0x50, 4097, StatusCode::kCorrupt},
                      Mutation{"extent_huge", 0x50, 0x80000000, StatusCode::kUnsupported},
                      Mutation{"disk_huge", 0x5c, 0x7fffffff, StatusCode::kCorrupt}),
    [](const ::testing::TestParamInfo<Mutation>& p) { return std::string(p.param.name); });

TEST(BochsHeader, ShortFileIsCorrupt) {
  const std::string file = BuildBochs(Small()).substr(0, 300);
  EXPECT_CODE(Decode(file), kCorrupt);
}

Result<std::unique_ptr<BlockDevice>> Open(const std::string& bytes, Cache* cache,
                                          ThreadPool* pool = nullptr) {
  OpenOptions options;
  options.pool = pool;
  return OpenImageFile(NewMemoryFile("t.img", bytes), options, cache);
}

std::string ReadAll(const BlockDevice& dev) {
  std::string out(dev.Size(), '\0');
  EXPECT_OK(dev.Read(0, std::span(reinterpret_cast<std::byte*>(out.data()), out.size())));
  return out;
}

TEST(BochsDevice, ReadsWrittenSectorsAndZerosElsewhere) {
  for (bool reverse : {false, true}) {
    for (uint32_t version : {0x00020000u, 0x00010000u}) {
      BochsSpec spec = Small(version);
      spec.reverse_order = reverse;
      Cache cache(1 << 20);
      auto dev = Open(BuildBochs(spec), &cache);
      ASSERT_OK(dev);
      EXPECT_EQ((*dev)->Describe().format, "bochs");
      EXPECT_EQ(ReadAll(**dev), ExpectedDisk(spec));
      auto report = (*dev)->Check();
      ASSERT_OK(report);
      EXPECT_TRUE(report->clean());
    }
  }
}

TEST(BochsDevice, ExtentsShowBitmapHoles) {
  Cache cache(1 << 20);
  auto dev = Open(BuildBochs(Small()), &cache);
  ASSERT_OK(dev);
  std::vector<Extent> ext;
  ASSERT_OK((*dev)->Extents(0, (*dev)->Size(), &ext));
  std::vector<std::pair<uint64_t, uint64_t>> data;
  for (const Extent& e : ext) {
    if (e.kind == ExtentKind::kData) {
      data.emplace_back(e.offset / 512, e.length / 512);
    }
  }
  EXPECT_EQ(data, (std::vector<std::pair<uint64_t, uint64_t>>{{1, 1}, {3, 1}, {17, 1}, {79, 1}}));
}

TEST(BochsDevice, ParallelReadsOfLargeImage) {
  BochsSpec spec;
  spec.extent_bytes = 32768;
  spec.disk_bytes = 8 << 20;
  for (uint64_t s = 0; s < spec.disk_bytes / 512; s += (s % 7 == 0 ? 1 : 3)) {
    spec.sectors[s] = Pattern(512, static_cast<uint32_t>(s));
  }
  spec.reverse_order = true;
  ThreadPool pool(2);
  Cache cache(1 << 20);
  auto dev = Open(BuildBochs(spec), &cache, &pool);
  ASSERT_OK(dev);
  EXPECT_EQ(ReadAll(**dev), ExpectedDisk(spec));
}

TEST(BochsDevice, DamagedCatalogFailsOnlyTheReadsThatMeetIt) {
  BochsSpec spec = Small();
  std::string file = BuildBochs(spec);
  PutLE32(&file, 512 + 4 * 4, 0x00ffffff);  // extent 4 stored far past EOF
  Cache cache(1 << 20);
  auto dev = Open(file, &cache);
  ASSERT_OK(dev);
  std::string buf(4096, '\0');
  auto span = std::span(reinterpret_cast<std::byte*>(buf.data()), buf.size());
  EXPECT_OK((*dev)->Read(0, span));
  auto s = (*dev)->Read(4 * 4096, span);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt) << s.ToString();
  EXPECT_NE(s.message().find("extent 4"), std::string::npos) << s.ToString();
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_FALSE(report->clean());
}

TEST(BochsDevice, ExtentStoredTwiceIsReportedByCheck) {
  std::string file = BuildBochs(Small());
  PutLE32(&file, 512 + 5 * 4, 0);  // extent 5 shares stored extent 0
  Cache cache(1 << 20);
  auto dev = Open(file, &cache);
  ASSERT_OK(dev);
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  ASSERT_EQ(report->errors.size(), 1u);
  EXPECT_NE(report->errors[0].find("used twice"), std::string::npos);
}

// v1 keeps the disk size at 0x54, where v2 keeps its timestamp: the same
// bytes read as v2 give another size.
TEST(BochsDevice, V1DiskFieldIsAtItsOwnOffset) {
  std::string file = BuildBochs(Small(0x00010000));
  Cache cache(1 << 20);
  auto dev = Open(file, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Size(), 40u * 1024);
  PutLE32(&file, 0x40, 0x00020000);
  auto h = Decode(file);
  ASSERT_OK(h);
  EXPECT_EQ(h->disk_bytes, 0u);
  EXPECT_EQ(h->timestamp, 40u * 1024 + 100);
}

// Fuzz seeds (tests/fuzz/corpus/bochs/), written on request:
//   IMGFS_FUZZ_CORPUS_DIR=tests/fuzz/corpus build/tests/formats/bochs_header_test
//     --gtest_also_run_disabled_tests --gtest_filter='*WriteFuzzSeeds*'
TEST(BochsSeeds, DISABLED_WriteFuzzSeeds) {
  const char* dir = std::getenv("IMGFS_FUZZ_CORPUS_DIR");
  if (dir == nullptr) {
    GTEST_SKIP() << "IMGFS_FUZZ_CORPUS_DIR not set";
  }
  const std::string sub = std::string(dir) + "/bochs";
  std::filesystem::create_directories(sub);
  auto write = [&](const std::string& name, const BochsSpec& spec) {
    std::ofstream(sub + "/" + name, std::ios::binary) << BuildBochs(spec);
  };
  BochsSpec s = Small();
  s.extent_bytes = 512;
  s.disk_bytes = 16 * 512;
  s.sectors = {{1, "a"}, {2, "b"}, {9, "c"}, {15, "d"}};
  write("v2-e512", s);
  s.version = 0x00010000;
  write("v1-e512", s);
  s = Small();
  write("v2-e4k", s);
  s.reverse_order = true;
  s.version = 0x00010000;
  write("v1-e4k-reversed", s);
}

}  // namespace
}  // namespace imgfs::bochs
