// SPDX-License-Identifier: MIT
// ESX extents qemu-img cannot write: COWD (vmfsSparse, -delta.vmdk) files
// built here from the layout libvmdk documents, read alone and as the
// delta of an ESX-style snapshot (a descriptor naming a VMFSSPARSE extent
// and a parent), compared with qemu-img, which reads COWD.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "core/util/endian.h"
#include "formats/open.h"
#include "formats/vmdk/header.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::ReadWholeFile;
using testing::Sh;
using testing::TempDir;
using testing::WriteWholeFile;

constexpr uint64_t kSector = 512;

// A COWD file: header, directory at sector 4, every grain table after it,
// then the grains `data` names (grain number -> fill byte), in that order.
std::string MakeCowd(uint64_t capacity_sectors, uint32_t grain_sectors,
                     const std::vector<std::pair<uint32_t, char>>& data) {
  vmdk::SparseHeader h;
  h.capacity_sectors = capacity_sectors;
  h.grain_sectors = grain_sectors;
  h.gd_sector = 4;
  h.gtes_per_gt = vmdk::kCowdGtesPerGt;
  const auto gd_entries = static_cast<uint32_t>(h.gd_entries());
  const uint64_t gd_sectors = (gd_entries * 4 + kSector - 1) / kSector;
  const uint64_t gt_sectors = vmdk::kCowdGtesPerGt * 4 / kSector;
  const uint64_t first_gt = h.gd_sector + gd_sectors;
  std::vector<std::byte> head = vmdk::EncodeCowdHeader(h, gd_entries);
  std::string out(reinterpret_cast<const char*>(head.data()), head.size());
  out.resize((first_gt + gd_entries * gt_sectors) * kSector, '\0');
  auto* p = reinterpret_cast<std::byte*>(out.data());
  for (uint32_t i = 0; i < gd_entries; ++i) {
    StoreLE32(p + h.gd_sector * kSector + 4 * i, static_cast<uint32_t>(first_gt + i * gt_sectors));
  }
  for (const auto& [grain, fill] : data) {
    const uint64_t at = out.size() / kSector;
    const uint64_t gt = first_gt + (grain / vmdk::kCowdGtesPerGt) * gt_sectors;
    StoreLE32(reinterpret_cast<std::byte*>(out.data()) + gt * kSector +
                  4 * (grain % vmdk::kCowdGtesPerGt),
              static_cast<uint32_t>(at));
    out += std::string(grain_sectors * kSector, fill);
  }
  return out;
}

// 70000 sectors of 4 KiB grains: three grain tables; grains at both ends
// of the first table, the start of the second and the last (partial) one.
const std::vector<std::pair<uint32_t, char>> kGrains = {
    {0, 'a'}, {4095, 'b'}, {4096, 'c'}, {8749, 'd'}};
constexpr uint64_t kCapacity = 70000;

// A descriptor naming one VMFSSPARSE extent, with an optional parent.
std::string EsxDescriptor(const std::string& parent_cid, const std::string& parent) {
  return "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=" + parent_cid +
         "\ncreateType=\"vmfsSparse\"\n" +
         (parent.empty() ? "" : "parentFileNameHint=\"" + parent + "\"\n") +
         "\n# Extent description\nRW " + std::to_string(kCapacity) +
         " VMFSSPARSE \"c-delta.vmdk\"\n\n# The Disk Data Base\n#DDB\n\n"
         "ddb.virtualHWVersion = \"4\"\n";
}

// qemu reads COWD only through a descriptor; imgfs reads both ways.
TEST(VmdkEsx, CowdFileMatchesQemu) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  WriteWholeFile(dir.Join("c-delta.vmdk"), MakeCowd(kCapacity, 8, kGrains));
  WriteWholeFile(dir.Join("c.vmdk"), EsxDescriptor("ffffffff", ""));
  ASSERT_TRUE(Sh(dir.path(), "qemu-img convert -f vmdk -O raw c.vmdk ref.raw"));
  const std::string ref = ReadWholeFile(dir.Join("ref.raw"));
  ASSERT_EQ(ref.size(), kCapacity * kSector);
  EXPECT_EQ(ref[4095 * 4096], 'b');
  const auto map = testing::QemuMap(dir.path(), "c.vmdk");
  Cache cache(1 << 20);
  for (const char* name : {"c.vmdk", "c-delta.vmdk"}) {
    SCOPED_TRACE(name);
    auto dev = OpenImage(dir.Join(name), {}, &cache);
    ASSERT_OK(dev);
    EXPECT_TRUE(testing::DeviceMatches(**dev, ref));
    EXPECT_TRUE(testing::ExtentsMatchMap(**dev, map));
    const ImageInfo info = (*dev)->Describe();
    EXPECT_EQ(info.format_specific["data"]["create-type"], "vmfsSparse");
    EXPECT_EQ(info.cluster_size, 4096u);
    auto report = (*dev)->Check();
    ASSERT_OK(report);
    EXPECT_TRUE(report->clean());
  }
}

TEST(VmdkEsx, SnapshotDeltaOverItsParentMatchesQemu) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), "qemu-img create -q -f vmdk -o subformat=monolithicFlat base.vmdk " +
                                 std::to_string(kCapacity * kSector) +
                                 " && qemu-io -f vmdk -c 'write -P 0x10 0 8M' "
                                 "-c 'write -P 0x20 30M 5000' base.vmdk >/dev/null"));
  std::string cid;
  ASSERT_TRUE(Sh(dir.path(), "sed -n 's/^CID=//p' base.vmdk", &cid));
  WriteWholeFile(dir.Join("c-delta.vmdk"), MakeCowd(kCapacity, 8, kGrains));
  WriteWholeFile(dir.Join("c.vmdk"), EsxDescriptor(cid.substr(0, cid.find('\n')), "base.vmdk"));
  ASSERT_TRUE(Sh(dir.path(), "qemu-img convert -f vmdk -O raw c.vmdk ref.raw"));
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join("c.vmdk"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(testing::DeviceMatches(**dev, ReadWholeFile(dir.Join("ref.raw"))));
  EXPECT_TRUE(testing::ExtentsMatchMap(**dev, testing::QemuMap(dir.path(), "c.vmdk")));
  EXPECT_TRUE((*dev)->Describe().notes.empty());  // the CIDs match
}

// ESX flat disks (createType vmfs / vmfsPreallocated): VMFS extents, with
// read from the start of their file (qemu-img refuses a VMFS offset).
TEST(VmdkEsx, VmfsFlatExtentsMatchQemu) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f raw v-flat.vmdk 2M && qemu-io -f raw "
                 "-c 'write -P 0x31 0 1M' -c 'write -P 0x32 1M 1M' v-flat.vmdk "
                 ">/dev/null"));
  auto descriptor = [](const std::string& type) {
    return "# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType=\"" + type +
           "\"\n\n# Extent description\nRW 2048 VMFS \"v-flat.vmdk\"\n"
           "RW 2048 VMFS \"v-flat.vmdk\"\n\n# The Disk Data Base\n#DDB\n\n"
           "ddb.virtualHWVersion = \"4\"\n";
  };
  // qemu-img knows createType vmfs, not vmfsPreallocated: the same extents
  // must read the same under both.
  WriteWholeFile(dir.Join("vmfs.vmdk"), descriptor("vmfs"));
  WriteWholeFile(dir.Join("pre.vmdk"), descriptor("vmfsPreallocated"));
  ASSERT_TRUE(Sh(dir.path(), "qemu-img convert -f vmdk -O raw vmfs.vmdk ref.raw"));
  const std::string ref = ReadWholeFile(dir.Join("ref.raw"));
  for (const char* name : {"vmfs.vmdk", "pre.vmdk"}) {
    SCOPED_TRACE(name);
    Cache cache(1 << 20);
    auto dev = OpenImage(dir.Join(name), {}, &cache);
    ASSERT_OK(dev);
    EXPECT_TRUE(testing::DeviceMatches(**dev, ref));
    EXPECT_EQ((*dev)->Describe().format_specific["data"]["extents"][1]["format"], "VMFS");
  }
}

TEST(VmdkEsx, BadCowdHeadersAreRefused) {
  TempDir dir;
  std::string good = MakeCowd(kCapacity, 8, kGrains);
  auto mutate = [&](const std::string& name, size_t at, uint32_t value) {
    std::string b = good;
    StoreLE32(reinterpret_cast<std::byte*>(b.data()) + at, value);
    WriteWholeFile(dir.Join(name), b);
  };
  mutate("version.vmdk", 4, 2);
  mutate("grain.vmdk", 16, 3);
  mutate("gd.vmdk", 24, 1);            // too few directory entries
  mutate("gdoff.vmdk", 20, 1u << 30);  // directory past the end
  WriteWholeFile(dir.Join("short.vmdk"), good.substr(0, 1000));
  Cache cache(1 << 20);
  EXPECT_CODE(OpenImage(dir.Join("version.vmdk"), {}, &cache), kUnsupported);
  EXPECT_CODE(OpenImage(dir.Join("grain.vmdk"), {}, &cache), kCorrupt);
  EXPECT_CODE(OpenImage(dir.Join("gd.vmdk"), {}, &cache), kCorrupt);
  EXPECT_CODE(OpenImage(dir.Join("gdoff.vmdk"), {}, &cache), kCorrupt);
  EXPECT_CODE(OpenImage(dir.Join("short.vmdk"), {}, &cache), kCorrupt);
}

}  // namespace
}  // namespace imgfs
