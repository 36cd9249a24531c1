// SPDX-License-Identifier: MIT
// seSparse extents (ESXi 6.5+ snapshots), which qemu-img reads but cannot
// write: made by the test builder in ESXi's layout, named by a descriptor
// (createType seSparse) alone or over a qemu-made parent, and compared with
// `qemu-img convert -O raw` and `qemu-img map` of the same descriptor.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "tests/formats/vmdk/test_sesparse_builder.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::ReadWholeFile;
using testing::Sh;
using testing::TempDir;
using testing::WriteWholeFile;
using vmdk::testing::BuildSeSparse;
using vmdk::testing::ExpectedSeSparseDisk;
using vmdk::testing::SePattern;
using vmdk::testing::SeSparseDescriptor;
using vmdk::testing::SeSparseSpec;

constexpr uint64_t kSectors = 40 * 2048 + 24;  // 40 MiB and 3 grains: a partial last table

// Grains at both ends of the first table, the start of the second, the
// last (partial) one; a zero and an unmapped grain in data's neighbourhood.
SeSparseSpec Spec() {
  SeSparseSpec s;
  s.capacity_sectors = kSectors;
  s.grains = {{0, SePattern(4096, 1)},    {1, SePattern(4096, 2)},    {4095, SePattern(4096, 3)},
              {4096, SePattern(4096, 4)}, {4098, SePattern(4096, 5)}, {10242, SePattern(700, 6)}};
  s.zero_grains = {2, 4097, 9000};
  s.unmapped_grains = {3, 5000};
  return s;
}

// qemu-img's reference for `descriptor` in `dir`, checked against what the
// builder says the disk holds (so a builder bug cannot pass as a reader's).
std::string QemuReference(const TempDir& dir, const std::string& descriptor,
                          const std::string& expected) {
  EXPECT_TRUE(Sh(dir.path(), "qemu-img convert -f vmdk -O raw " + descriptor + " ref.raw"));
  std::string ref = ReadWholeFile(dir.Join("ref.raw"));
  EXPECT_EQ(ref.size(), kSectors * 512);
  EXPECT_TRUE(ref == expected) << "qemu-img and the builder disagree";
  return ref;
}

TEST(VmdkSeSparse, ExtentMatchesQemu) {
  IMGFS_REQUIRE_QEMU();
  for (int variant = 0; variant < 3; ++variant) {
    SCOPED_TRACE(variant);
    TempDir dir;
    SeSparseSpec spec = Spec();
    spec.reverse_storage = variant == 1;
    spec.first_cluster = variant == 2 ? 4100 : 0;  // the split cluster field's high part
    spec.empty_tables = {2};
    WriteWholeFile(dir.Join("s-sesparse.vmdk"), BuildSeSparse(spec));
    WriteWholeFile(dir.Join("s.vmdk"), SeSparseDescriptor(kSectors, "s-sesparse.vmdk", 0x1234abcd));
    const std::string ref = QemuReference(dir, "s.vmdk", ExpectedSeSparseDisk(spec));
    const auto map = testing::QemuMap(dir.path(), "s.vmdk");
    Cache cache(1 << 20);
    for (const char* name : {"s.vmdk", "s-sesparse.vmdk"}) {
      SCOPED_TRACE(name);
      auto dev = OpenImage(dir.Join(name), {}, &cache);
      ASSERT_OK(dev);
      EXPECT_TRUE(testing::DeviceMatches(**dev, ref));
      EXPECT_TRUE(testing::ExtentsMatchMap(**dev, map));
      auto report = (*dev)->Check();
      ASSERT_OK(report);
      EXPECT_TRUE(report->clean());
    }
  }
}

TEST(VmdkSeSparse, InfoMatchesQemu) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  WriteWholeFile(dir.Join("s-sesparse.vmdk"), BuildSeSparse(Spec()));
  WriteWholeFile(dir.Join("s.vmdk"), SeSparseDescriptor(kSectors, "s-sesparse.vmdk", 0x1234abcd));
  std::string out;
  ASSERT_TRUE(Sh(dir.path(), "qemu-img info --output=json s.vmdk", &out));
  const auto theirs = nlohmann::json::parse(out)["format-specific"]["data"];
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join("s.vmdk"), {}, &cache);
  ASSERT_OK(dev);
  const ImageInfo info = (*dev)->Describe();
  const auto& ours = info.format_specific["data"];
  EXPECT_EQ(info.virtual_size, kSectors * 512);
  for (const char* key : {"cid", "parent-cid", "create-type"}) {
    EXPECT_EQ(ours[key], theirs[key]) << key;
  }
  ASSERT_EQ(ours["extents"].size(), 1u);
  for (const char* key : {"format", "cluster-size", "virtual-size"}) {
    EXPECT_EQ(ours["extents"][0][key], theirs["extents"][0][key]) << key;
  }
}

// An ESXi snapshot: the seSparse delta over a qemu-made parent, whose CID
// the delta's parentCID names. Unallocated grains read the parent; zero
// and unmapped ones read zeros (as qemu reads them).
TEST(VmdkSeSparse, DeltaOverItsParentMatchesQemu) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), "qemu-img create -q -f vmdk base.vmdk " +
                                 std::to_string(kSectors * 512) +
                                 " && qemu-io -f vmdk -c 'write -P 0x10 0 9M' "
                                 "-c 'write -P 0x20 30M 5000' -c 'write -P 0x30 40M 12k' "
                                 "base.vmdk >/dev/null && qemu-img convert -O raw base.vmdk "
                                 "base.raw"));
  std::string out;
  ASSERT_TRUE(Sh(dir.path(), "qemu-img info --output=json base.vmdk", &out));
  const auto cid = nlohmann::json::parse(out)["format-specific"]["data"]["cid"].get<uint32_t>();
  const SeSparseSpec spec = Spec();
  WriteWholeFile(dir.Join("d-sesparse.vmdk"), BuildSeSparse(spec));
  WriteWholeFile(dir.Join("d.vmdk"),
                 SeSparseDescriptor(kSectors, "d-sesparse.vmdk", 0x55aa55aa, cid, "base.vmdk"));
  const std::string ref =
      QemuReference(dir, "d.vmdk", ExpectedSeSparseDisk(spec, ReadWholeFile(dir.Join("base.raw"))));
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join("d.vmdk"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(testing::DeviceMatches(**dev, ref));
  EXPECT_TRUE(testing::ExtentsMatchMap(**dev, testing::QemuMap(dir.path(), "d.vmdk")));
  const ImageInfo info = (*dev)->Describe();
  EXPECT_TRUE(info.notes.empty());
  EXPECT_EQ(info.backing_filename, "base.vmdk");
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean());

  // A parentCID that is not the parent's: qemu refuses to read through it;
  // imgfs reads, and says so in info and check.
  WriteWholeFile(dir.Join("d.vmdk"),
                 SeSparseDescriptor(kSectors, "d-sesparse.vmdk", 0x55aa55aa, cid ^ 1, "base.vmdk"));
  EXPECT_FALSE(Sh(dir.path(), "qemu-img convert -f vmdk -O raw d.vmdk bad.raw 2>/dev/null"));
  auto stale = OpenImage(dir.Join("d.vmdk"), {}, &cache);
  ASSERT_OK(stale);
  EXPECT_EQ((*stale)->Describe().notes.size(), 1u);
  auto stale_report = (*stale)->Check();
  ASSERT_OK(stale_report);
  EXPECT_EQ(stale_report->errors.size(), 1u);
}

}  // namespace
}  // namespace imgfs
