// SPDX-License-Identifier: MIT
// seSparse extents from bytes: the constant and volatile header decoders
// (one valid case, one mutation per rule), the directory and table entry
// layouts, and whole extents made by the test builder, opened alone from
// memory and compared with the disk the builder says they hold.
#include <gtest/gtest.h>

#include <string>

#include "core/cache/cache.h"
#include "core/io/file.h"
#include "core/util/endian.h"
#include "formats/open.h"
#include "formats/vmdk/sesparse.h"
#include "tests/formats/vmdk/test_sesparse_builder.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::vmdk {
namespace {

using testing::AllocatedGte;
using testing::SePattern;
using testing::SeSparseSpec;

// 40 MiB: three grain tables, the last partial.
SeSparseSpec Spec(bool compact) {
  SeSparseSpec s;
  s.capacity_sectors = 40 * 2048;
  s.compact = compact;
  s.grains = {{0, SePattern(4096, 1)},    {1, SePattern(4096, 2)},    {4095, SePattern(100, 3)},
              {4096, SePattern(4096, 4)}, {9000, SePattern(4096, 5)}, {10239, SePattern(4096, 6)}};
  s.zero_grains = {2, 4097};
  s.unmapped_grains = {3};
  return s;
}

std::string Header(bool compact = true) { return BuildSeSparse(Spec(compact)).substr(0, 512); }

std::span<const std::byte> Bytes(const std::string& s) { return std::as_bytes(std::span(s)); }

TEST(VmdkSeSparseHeader, DecodesWhatTheBuilderWrites) {
  for (bool compact : {false, true}) {
    auto h = DecodeSeSparseHeader(Bytes(Header(compact)));
    ASSERT_OK(h);
    EXPECT_EQ(h->capacity_sectors, 40u * 2048);
    EXPECT_EQ(h->gd_entries_needed(), 3u);
    EXPECT_EQ(h->volatile_sector, 1u);
    EXPECT_EQ(h->gd_sector, compact ? 2u : 4096u);
    const SparseHeader s = AsSparseHeader(*h);
    EXPECT_TRUE(s.sesparse);
    EXPECT_EQ(s.grain_bytes(), 4096u);
    EXPECT_EQ(s.gtes_per_gt, 4096u);
  }
}

// Decodes the valid header with the 64-bit word at `at` set to `value`.
Status DecodeWith(size_t at, uint64_t value) {
  std::string b = Header();
  testing::Put64(&b, at, value);
  return DecodeSeSparseHeader(Bytes(b)).status();
}

TEST(VmdkSeSparseHeader, RefusesEachBrokenRule) {
  EXPECT_CODE(DecodeSeSparseHeader(Bytes(Header().substr(0, 511))), kCorrupt);
  EXPECT_CODE(DecodeWith(0, 0xcafebabe00000000), kCorrupt);      // magic
  EXPECT_CODE(DecodeWith(8, 0x0000000100000001), kUnsupported);  // version
  EXPECT_CODE(DecodeWith(24, 16), kUnsupported);                 // grain size
  EXPECT_CODE(DecodeWith(32, 128), kUnsupported);                // grain table size
  EXPECT_CODE(DecodeWith(40, 1), kUnsupported);                  // flags
  EXPECT_CODE(DecodeWith(64, 7), kUnsupported);                  // reserved
  EXPECT_CODE(DecodeWith(16, uint64_t{1} << 60), kCorrupt);      // capacity
  EXPECT_CODE(DecodeWith(16, uint64_t{1} << 54), kUnsupported);  // directory over the cap
  EXPECT_CODE(DecodeWith(80, 0), kCorrupt);                      // no volatile header
  EXPECT_CODE(DecodeWith(88, 0), kCorrupt);
  EXPECT_CODE(DecodeWith(80, uint64_t{1} << 60), kCorrupt);
  EXPECT_CODE(DecodeWith(128, 0), kCorrupt);                  // no directory
  EXPECT_CODE(DecodeWith(128, uint64_t{1} << 62), kCorrupt);  // absurd directory offset
  EXPECT_CODE(DecodeWith(144, uint64_t{1} << 62), kCorrupt);  // absurd tables offset
  EXPECT_CODE(DecodeWith(192, uint64_t{1} << 62), kCorrupt);  // absurd grains offset
  EXPECT_CODE(DecodeWith(136, 0), kCorrupt);                  // a directory that covers nothing
  // The padding, journal, bitmap and back map are not read.
  EXPECT_OK(DecodeWith(400, 0x1234));
  EXPECT_OK(DecodeWith(112, 0));
}

TEST(VmdkSeSparseHeader, VolatileHeader) {
  const std::string file = BuildSeSparse(Spec(true));
  std::string v = file.substr(512, 512);
  EXPECT_OK(CheckSeSparseVolatileHeader(Bytes(v)));
  EXPECT_CODE(CheckSeSparseVolatileHeader(Bytes(v.substr(0, 100))), kCorrupt);
  std::string bad = v;
  testing::Put64(&bad, 0, 0xcafebabe);
  EXPECT_CODE(CheckSeSparseVolatileHeader(Bytes(bad)), kCorrupt);
  bad = v;
  testing::Put64(&bad, 24, 1);
  EXPECT_CODE(CheckSeSparseVolatileHeader(Bytes(bad)), kUnsupported);
}

TEST(VmdkSeSparseEntries, DirectoryEntries) {
  auto none = DecodeSeSparseGde(0);
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());
  auto five = DecodeSeSparseGde(0x1000000000000005);
  ASSERT_OK(five);
  EXPECT_EQ(**five, 5u);
  auto last = DecodeSeSparseGde(0x10000000ffffffff);
  ASSERT_OK(last);
  EXPECT_EQ(**last, 0xffffffffu);
  EXPECT_CODE(DecodeSeSparseGde(0x2000000000000005), kCorrupt);
  EXPECT_CODE(DecodeSeSparseGde(0x1000000100000000), kCorrupt);
  EXPECT_CODE(DecodeSeSparseGde(5), kCorrupt);
}

TEST(VmdkSeSparseEntries, GrainTableEntries) {
  auto kind = [](uint64_t entry) { return DecodeSeSparseGte(entry)->kind; };
  EXPECT_EQ(kind(0), SeGrainKind::kUnallocated);
  EXPECT_EQ(kind(uint64_t{1} << 60), SeGrainKind::kUnmapped);
  EXPECT_EQ(kind(uint64_t{2} << 60), SeGrainKind::kZero);
  EXPECT_EQ(kind(uint64_t{3} << 60), SeGrainKind::kAllocated);
  EXPECT_CODE(DecodeSeSparseGte(1), kCorrupt);  // unallocated with bits set
  for (uint64_t type = 4; type < 16; ++type) {
    SCOPED_TRACE(type);
    EXPECT_CODE(DecodeSeSparseGte(type << 60), kCorrupt);
  }
  // The cluster number is split: bits 48..59 are its low 12 bits, bits
  // 0..47 the rest.
  auto g = DecodeSeSparseGte(0x3123456789abcdef);
  ASSERT_OK(g);
  EXPECT_EQ(g->cluster, 0x456789abcdef123u);
  for (uint64_t cluster : {uint64_t{0}, uint64_t{1}, uint64_t{4095}, uint64_t{4096},
                           uint64_t{0x123456789}, (uint64_t{1} << 60) - 1}) {
    auto d = DecodeSeSparseGte(AllocatedGte(cluster));
    ASSERT_OK(d);
    EXPECT_EQ(d->kind, SeGrainKind::kAllocated);
    EXPECT_EQ(d->cluster, cluster);
  }
  EXPECT_EQ(AllocatedGte(1), 0x3001000000000000u);
  EXPECT_EQ(AllocatedGte(4096), 0x3000000000000001u);
}

Result<std::unique_ptr<BlockDevice>> OpenBytes(const std::string& bytes, Cache* cache) {
  OpenOptions options;
  options.format = "vmdk";
  return OpenImageFile(NewMemoryFile("x-sesparse.vmdk", bytes), options, cache);
}

TEST(VmdkSeSparseDevice, ReadsWhatTheBuilderWrote) {
  Cache cache(4 << 20);
  struct Variant {
    bool compact;
    bool reverse;
    uint64_t first_cluster;
  };
  for (const Variant& v : {Variant{false, false, 0}, Variant{true, false, 0},
                           Variant{false, true, 0}, Variant{true, true, 4100}}) {
    SCOPED_TRACE(std::to_string(v.compact) + std::to_string(v.reverse) +
                 std::to_string(v.first_cluster));
    SeSparseSpec spec = Spec(v.compact);
    spec.reverse_storage = v.reverse;
    spec.first_cluster = v.first_cluster;
    spec.empty_tables = {2};
    auto dev = OpenBytes(BuildSeSparse(spec), &cache);
    ASSERT_OK(dev);
    EXPECT_EQ((*dev)->Size(), 40u << 20);
    EXPECT_TRUE(imgfs::testing::DeviceMatches(**dev, ExpectedSeSparseDisk(spec)));
    const ImageInfo info = (*dev)->Describe();
    EXPECT_EQ(info.format_specific["data"]["create-type"], "seSparse");
    EXPECT_EQ(info.format_specific["data"]["extents"][0]["format"], "SESPARSE");
    EXPECT_EQ(info.cluster_size, 4096u);
    auto report = (*dev)->Check();
    ASSERT_OK(report);
    EXPECT_TRUE(report->clean()) << report->errors.size();
  }
}

TEST(VmdkSeSparseDevice, ExtentsSayDataZeroAndUnallocated) {
  Cache cache(4 << 20);
  const SeSparseSpec spec = Spec(true);
  auto dev = OpenBytes(BuildSeSparse(spec), &cache);
  ASSERT_OK(dev);
  std::vector<Extent> extents;
  ASSERT_OK(CollectExtents(**dev, 0, 6 * 4096, &extents));
  std::vector<std::pair<uint64_t, ExtentKind>> got;
  for (const Extent& e : extents) {
    got.emplace_back(e.length, e.kind);
  }
  // Grains 0-1 data (stored back to back: one extent), 2-3 zero (type 2
  // and unmapped), 4-5 unallocated.
  EXPECT_EQ(got, (std::vector<std::pair<uint64_t, ExtentKind>>{{8192, ExtentKind::kData},
                                                               {8192, ExtentKind::kZero},
                                                               {8192, ExtentKind::kUnallocated}}));
  EXPECT_TRUE(extents[0].host_offset.has_value());
}

TEST(VmdkSeSparseDevice, DamagedEntriesFailOnlyTheReadsThatMeetThem) {
  Cache cache(4 << 20);
  testing::SeSparseLayout layout;
  const SeSparseSpec spec = Spec(true);
  const std::string good = BuildSeSparse(spec, &layout);
  auto read = [&](const std::string& bytes, uint64_t offset) {
    auto dev = OpenBytes(bytes, &cache);
    if (!dev.ok()) {
      return dev.status();
    }
    std::string buf(4096, '\0');
    return (*dev)->Read(offset, std::as_writable_bytes(std::span(buf)));
  };
  const uint64_t gt0 = (layout.gts_sector + layout.table_of_slot.at(0) * 64) * 512;
  std::string bad = good;
  testing::Put64(&bad, gt0 + 8, uint64_t{5} << 60);  // grain 1: invalid type
  EXPECT_CODE(read(bad, 4096), kCorrupt);
  EXPECT_OK(read(bad, 0));
  bad = good;
  testing::Put64(&bad, gt0 + 8, AllocatedGte(uint64_t{1} << 40));  // past the end
  EXPECT_CODE(read(bad, 4096), kCorrupt);
  auto dev = OpenBytes(bad, &cache);
  ASSERT_OK(dev);
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  ASSERT_EQ(report->errors.size(), 1u);
  EXPECT_NE(report->errors[0].find("past the end"), std::string::npos) << report->errors[0];
  bad = good;
  testing::Put64(&bad, layout.gd_sector * 512 + 8, 0x3000000000000001);  // directory slot 1
  EXPECT_CODE(read(bad, 4096u * 4096), kCorrupt);
  EXPECT_OK(read(bad, 0));
  bad = good;
  testing::Put64(&bad, layout.gd_sector * 512 + 8, 0x1000000000100000);  // table past the end
  EXPECT_CODE(read(bad, 4096u * 4096), kCorrupt);
}

}  // namespace
}  // namespace imgfs::vmdk
