// SPDX-License-Identifier: MIT
// Parallels header and format extension decoding from bytes, and the
// device over in-memory images made by the test builder: one valid image
// per signature, then one mutation per validation rule.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "core/io/file.h"
#include "formats/open.h"
#include "formats/parallels/header.h"
#include "tests/formats/parallels/test_parallels_builder.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::parallels {
namespace {

using testing::BuildHds;
using testing::ExpectedDisk;
using testing::HdsSpec;
using testing::Pattern;

std::vector<std::byte> Bytes(const std::string& s) {
  std::vector<std::byte> b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

void Put32(std::vector<std::byte>& b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); }
void Put64(std::vector<std::byte>& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); }

HdsSpec Small(bool ext) {
  HdsSpec s;
  s.cluster_offsets = ext;
  s.cluster_sectors = 8;
  s.disk_sectors = 37;  // 4.6 clusters
  s.clusters[1] = Pattern(4096, 1);
  s.clusters[4] = "tail";
  return s;
}

Result<Header> Decode(const std::vector<std::byte>& b, uint64_t file_size = 0) {
  return DecodeHeader(std::span(b.data(), std::min<size_t>(b.size(), kHeaderBytes)),
                      file_size != 0 ? file_size : b.size());
}

TEST(ParallelsHeader, DecodesBothSignatures) {
  for (bool ext : {true, false}) {
    auto b = Bytes(BuildHds(Small(ext)));
    auto h = Decode(b);
    ASSERT_OK(h);
    EXPECT_EQ(h->cluster_offsets, ext);
    EXPECT_EQ(h->cluster_sectors, 8u);
    EXPECT_EQ(h->bat_entries, 5u);
    EXPECT_EQ(h->disk_bytes(), 37u * 512);
    EXPECT_EQ(h->data_offset, ext ? 4096u : 512u);
    EXPECT_EQ(h->EntryHostOffset(2), ext ? 8192u : 1024u);
    EXPECT_FALSE(h->dirty());
    EXPECT_EQ(h->ext_offset, 0u);
  }
}

TEST(ParallelsHeader, OldSignatureUsesLowHalfOfSizeAndDataOffZero) {
  HdsSpec s = Small(false);
  s.data_off_zero = true;
  auto b = Bytes(BuildHds(s));
  Put32(b, 40, 0xffffffff);  // high half of nb_sectors: ignored
  auto h = Decode(b);
  ASSERT_OK(h);
  EXPECT_EQ(h->disk_sectors, 37u);
  EXPECT_EQ(h->data_offset, 512u);  // after the 84-byte header and BAT
}

TEST(ParallelsHeader, InUseFlag) {
  HdsSpec s = Small(true);
  s.in_use = kInUseDirty;
  auto h = Decode(Bytes(BuildHds(s)));
  ASSERT_OK(h);
  EXPECT_TRUE(h->dirty());
  auto b = Bytes(BuildHds(s));
  Put32(b, 44, 0x12345678);
  EXPECT_CODE(Decode(b), kCorrupt);
}

TEST(ParallelsHeader, RejectsEachBrokenField) {
  const auto good = Bytes(BuildHds(Small(true)));
  EXPECT_CODE(DecodeHeader(std::span(good.data(), 63), good.size()), kCorrupt);  // truncated
  auto b = good;
  b[0] = std::byte{'X'};
  EXPECT_CODE(Decode(b), kCorrupt);  // magic
  b = good;
  Put32(b, 16, 3);
  EXPECT_CODE(Decode(b), kUnsupported);  // version
  b = good;
  Put32(b, 28, 0);
  EXPECT_CODE(Decode(b), kCorrupt);  // zero cluster size
  b = good;
  Put32(b, 28, kMaxClusterSectors + 1);
  EXPECT_CODE(Decode(b), kUnsupported);  // cluster size over the cap
  b = good;
  Put64(b, 36, uint64_t{1} << 60);
  EXPECT_CODE(Decode(b), kUnsupported);  // absurd disk size
  b = good;
  Put64(b, 36, 41);
  EXPECT_CODE(Decode(b), kCorrupt);  // disk larger than the BAT covers
  b = good;
  Put32(b, 32, 0x40000000);
  Put64(b, 36, 8);
  EXPECT_CODE(Decode(b), kCorrupt);  // BAT past end of file
  b = good;
  Put32(b, 48, 0);  // data area computed at 512: fine
  EXPECT_OK(Decode(b));
  b = good;
  Put32(b, 32, 200);
  Put64(b, 36, 8);
  Put32(b, 48, 1);  // data at 512 inside a BAT ending at 864
  EXPECT_CODE(Decode(b), kCorrupt);
  b = good;
  Put64(b, 56, 1000);  // extension past end of file
  EXPECT_CODE(Decode(b), kCorrupt);
  b = good;
  Put64(b, 56, uint64_t{1} << 62);  // absurd extension offset
  EXPECT_CODE(Decode(b), kCorrupt);
}

TEST(ParallelsHeader, EncodeRoundTrips) {
  auto h = Decode(Bytes(BuildHds(Small(true))));
  ASSERT_OK(h);
  auto again = DecodeHeader(EncodeHeader(*h), 1 << 20);
  ASSERT_OK(again);
  EXPECT_EQ(again->bat_entries, h->bat_entries);
  EXPECT_EQ(again->data_offset, h->data_offset);
  EXPECT_EQ(again->cluster_offsets, h->cluster_offsets);
}

TEST(ParallelsExtension, DecodesDirtyBitmapAndReportsDamage) {
  HdsSpec s = Small(true);
  s.dirty_bitmap_ext = true;
  const auto b = Bytes(BuildHds(s));
  auto h = Decode(b);
  ASSERT_OK(h);
  ASSERT_NE(h->ext_offset, 0u);
  auto ext_bytes = std::span(b).subspan(h->ext_offset);
  Extension e = DecodeExtension(ext_bytes);
  EXPECT_TRUE(e.problems.empty());
  ASSERT_EQ(e.bitmaps.size(), 1u);
  EXPECT_EQ(e.bitmaps[0].granularity_sectors, 8u);
  EXPECT_EQ(e.bitmaps[0].l1, (std::vector<uint64_t>{0, 1}));
  std::vector<std::byte> bad(ext_bytes.begin(), ext_bytes.end());
  Put32(bad, 40, 1u << 30);  // feature longer than the cluster
  EXPECT_FALSE(DecodeExtension(bad).problems.empty());
  bad.assign(ext_bytes.begin(), ext_bytes.end());
  Put64(bad, 0, 1);  // no magic
  EXPECT_FALSE(DecodeExtension(bad).problems.empty());
  bad.assign(ext_bytes.begin(), ext_bytes.begin() + 30);  // no end marker
  EXPECT_FALSE(DecodeExtension(bad).problems.empty());
  bad.assign(ext_bytes.begin(), ext_bytes.end());
  Put32(bad, 76, 1000);  // L1 table larger than its feature
  EXPECT_FALSE(DecodeExtension(bad).problems.empty());
}

Result<std::unique_ptr<BlockDevice>> OpenBytes(const std::string& bytes, Cache* cache) {
  OpenOptions o;
  return OpenImageFile(NewMemoryFile("t.hds", bytes), o, cache);
}

std::string ReadAll(const BlockDevice& dev) {
  std::string out(dev.Size(), '\0');
  EXPECT_OK(dev.Read(0, std::as_writable_bytes(std::span(out))));
  return out;
}

TEST(ParallelsDevice, ReadsBuilderImagesOfBothSignatures) {
  for (bool ext : {true, false}) {
    for (bool reverse : {false, true}) {
      HdsSpec s = Small(ext);
      s.reverse_storage = reverse;
      s.clusters[2] = Pattern(4096, 2);
      s.dirty_bitmap_ext = ext;
      s.in_use = kInUseDirty;
      Cache cache(1 << 20);
      auto dev = OpenBytes(BuildHds(s), &cache);
      ASSERT_OK(dev);
      EXPECT_EQ((*dev)->Describe().format, "parallels");
      EXPECT_TRUE((*dev)->Describe().dirty);
      EXPECT_EQ(ReadAll(**dev), ExpectedDisk(s));
      auto report = (*dev)->Check();
      ASSERT_OK(report);
      EXPECT_TRUE(report->errors.empty());
      EXPECT_FALSE(report->warnings.empty());  // the in-use flag
    }
  }
}

TEST(ParallelsDevice, EmptyImageFlagReadsZeros) {
  HdsSpec s = Small(true);
  s.flags = kFlagEmpty;
  Cache cache(1 << 20);
  auto dev = OpenBytes(BuildHds(s), &cache);
  ASSERT_OK(dev);
  EXPECT_EQ(ReadAll(**dev), std::string(37 * 512, '\0'));
}

TEST(ParallelsDevice, BadBatEntriesFailTheReadNotTheOpen) {
  HdsSpec s = Small(true);
  s.raw_bat[3] = 1000;  // cluster 1000: past end of file
  s.raw_bat[0] = 0x7fffffff;
  Cache cache(1 << 20);
  auto dev = OpenBytes(BuildHds(s), &cache);
  ASSERT_OK(dev);
  std::string buf(4096, '\0');
  auto st = (*dev)->Read(3 * 4096, std::as_writable_bytes(std::span(buf)));
  EXPECT_CODE(st, kCorrupt);
  EXPECT_NE(st.message().find("BAT entry 3 at 0x4c"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("past end of file"), std::string::npos) << st.message();
  EXPECT_OK((*dev)->Read(4096, std::as_writable_bytes(std::span(buf))));
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_EQ(report->errors.size(), 2u);
}

TEST(ParallelsDevice, CheckFindsDuplicateAndMisalignedClusters) {
  HdsSpec s = Small(false);
  s.raw_bat[3] = 1 + 8;  // the same sector as cluster 4's
  s.raw_bat[0] = 2;      // inside cluster 1, not on a cluster boundary
  Cache cache(1 << 20);
  auto dev = OpenBytes(BuildHds(s), &cache);
  ASSERT_OK(dev);
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_EQ(report->errors.size(), 2u);
}

TEST(ParallelsDevice, TruncatedImagesAreRefused) {
  const std::string good = BuildHds(Small(true));
  Cache cache(1 << 20);
  EXPECT_CODE(OpenBytes(good.substr(0, 40), &cache), kCorrupt);
  // Cut inside the BAT: the header names more than the file holds.
  HdsSpec s = Small(true);
  s.bat_entries = 2000;
  s.disk_sectors = 8;
  s.truncate_to = 1000;
  EXPECT_CODE(OpenBytes(BuildHds(s), &cache), kCorrupt);
}

}  // namespace
}  // namespace imgfs::parallels

namespace imgfs::parallels {
namespace {

// Writes the fuzz seeds that qemu-img cannot make (small clusters, the old
// signature, the in-use flag, a format extension, a damaged BAT) into
// $IMGFS_FUZZ_CORPUS_DIR/parallels, and descriptors into
// $IMGFS_FUZZ_CORPUS_DIR/parallels_descriptor. Run by hand:
//   IMGFS_FUZZ_CORPUS_DIR=tests/fuzz/corpus build/tests/formats/parallels_header_test
//     --gtest_also_run_disabled_tests --gtest_filter='*WriteFuzzSeeds*'
TEST(ParallelsSeeds, DISABLED_WriteFuzzSeeds) {
  const char* dir = std::getenv("IMGFS_FUZZ_CORPUS_DIR");
  if (dir == nullptr) {
    GTEST_SKIP() << "IMGFS_FUZZ_CORPUS_DIR not set";
  }
  const std::string sub = std::string(dir) + "/parallels";
  const std::string xml_sub = std::string(dir) + "/parallels_descriptor";
  std::filesystem::create_directories(sub);
  std::filesystem::create_directories(xml_sub);
  auto small = [] {
    HdsSpec s;
    s.cluster_sectors = 1;
    s.disk_sectors = 8;
    s.clusters[0] = Pattern(512, 1);
    s.clusters[1] = Pattern(300, 2);
    s.clusters[5] = Pattern(512, 3);
    return s;
  };
  std::vector<std::pair<std::string, HdsSpec>> seeds;
  seeds.emplace_back("ext-c512", small());
  HdsSpec s = small();
  s.cluster_offsets = false;
  s.data_off_zero = true;
  s.reverse_storage = true;
  seeds.emplace_back("old-dataoff0-reversed-c512", s);
  s = small();
  s.in_use = kInUseDirty;
  s.dirty_bitmap_ext = true;
  seeds.emplace_back("dirty-bitmap-ext-c512", s);
  s = small();
  s.raw_bat[3] = 9999;
  seeds.emplace_back("bat-past-eof-c512", s);
  s = small();
  s.cluster_sectors = 3;
  s.disk_sectors = 20;
  seeds.emplace_back("odd-cluster-3s", s);
  for (const auto& [name, spec] : seeds) {
    std::ofstream(sub + "/" + name + ".hds", std::ios::binary) << BuildHds(spec);
  }
  testing::BundleSpec b;
  b.disk_sectors = 8192;
  const std::string root = testing::SeededGuid(1);
  const std::string top = testing::SeededGuid(2);
  b.storages.push_back({0, 4096, 2048, {{root, "Plain", "a.hds"}, {top, "Compressed", "a2.hds"}}});
  b.storages.push_back(
      {4096, 8192, 2048, {{root, "Compressed", "b.hds"}, {top, "Compressed", "b2.hds"}}});
  b.shots = {{root, "{00000000-0000-0000-0000-000000000000}"}, {top, root}};
  b.top_guid = top;
  std::ofstream(xml_sub + "/split-two-snapshots.xml") << testing::BuildDescriptor(b);
  b.storages.pop_back();
  b.disk_sectors = 4096;
  b.top_guid.clear();
  std::ofstream(xml_sub + "/no-top-guid.xml") << testing::BuildDescriptor(b);
}

}  // namespace
}  // namespace imgfs::parallels
