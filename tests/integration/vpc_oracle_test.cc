// SPDX-License-Identifier: MIT
// VHD (vpc) against independent readers. Every disk qemu-img can make
// (dynamic and fixed, force_size on and off, odd sizes) is written with
// qemu-io and compared byte for byte, and by allocation map, with
// `qemu-img convert -O raw` / `qemu-img map`. Differencing disks, which
// QEMU cannot make or read, come from the spec-based test builder and are
// judged by 7-Zip and vhdimount (libvhdi). Chains mix formats (qcow2 over
// vpc, differencing VHDs over a qemu-made VHD) and the chain rules (loops,
// --no-backing, --confine-backing, the parent's unique id) hold.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "core/util/endian.h"
#include "formats/open.h"
#include "formats/vpc/header.h"
#include "tests/formats/vpc/test_vhd_builder.h"
#include "tests/testing/oracles.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::DeviceMatches;
using testing::ExtentsMatchMap;
using testing::QemuImgRaw;
using testing::QemuMap;
using testing::ReadWholeFile;
using testing::Sh;
using testing::TempDir;
using testing::WriteWholeFile;
using vpc::DiskType;
using vpc::testing::BuildVhd;
using vpc::testing::VhdSpec;

struct QemuCase {
  const char* name;
  const char* options;
  const char* size;
};

// Writes: unaligned, across a 2 MiB block boundary, sparse, at the end.
constexpr const char* kWrites =
    "-c 'write -P 0x5a 1M 64k' -c 'write -P 0xa5 2093000 9000' -c 'write -P 0x11 5000000 700' "
    "-c 'write -P 0x3c 0 512'";

// Opens `path` with the default options and compares every byte.
::testing::AssertionResult OpensAs(const std::string& path, const std::string& expected) {
  Cache cache(4 << 20);
  auto dev = OpenImage(path, {}, &cache);
  if (!dev.ok()) {
    return ::testing::AssertionFailure() << dev.status().ToString();
  }
  return DeviceMatches(**dev, expected);
}

class VpcQemuTest : public ::testing::TestWithParam<QemuCase> {};

TEST_P(VpcQemuTest, MatchesQemuImg) {
  IMGFS_REQUIRE_QEMU();
  const QemuCase& c = GetParam();
  TempDir dir;
  // The last write ends at the virtual size, whatever rule set it.
  ASSERT_TRUE(Sh(dir.path(), std::string("qemu-img create -q -f vpc -o ") + c.options + " d.vhd " +
                                 c.size + " && qemu-io -f vpc " + kWrites +
                                 " d.vhd >/dev/null && S=$(qemu-img info -f vpc d.vhd | sed -n "
                                 "'s/.*(\\([0-9]*\\) bytes).*/\\1/p') && "
                                 "qemu-io -f vpc -c \"write -P 0x77 $((S - 1000)) 1000\" "
                                 "d.vhd >/dev/null"));
  std::string expected;
  ASSERT_TRUE(QemuImgRaw(dir.Join("d.vhd"), "vpc", &expected));
  Cache cache(4 << 20);
  auto dev = OpenImage(dir.Join("d.vhd"), {}, &cache);  // probed: fixed ones by their tail
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Describe().format, "vpc");
  EXPECT_EQ((*dev)->Size(), expected.size());
  EXPECT_TRUE(DeviceMatches(**dev, expected));
  EXPECT_TRUE(ExtentsMatchMap(**dev, QemuMap(dir.path(), "d.vhd", "-f vpc")));
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean());
}

INSTANTIATE_TEST_SUITE_P(
    Options, VpcQemuTest,
    ::testing::Values(QemuCase{"Dynamic", "subformat=dynamic", "10M"},
                      QemuCase{"DynamicOdd", "subformat=dynamic", "7654321"},
                      QemuCase{"DynamicForceSize", "subformat=dynamic,force_size=on", "10M"},
                      QemuCase{"DynamicForceSizeOdd", "force_size=on", "7654321"},
                      QemuCase{"Fixed", "subformat=fixed", "10M"},
                      QemuCase{"FixedOdd", "subformat=fixed", "7654321"},
                      QemuCase{"FixedForceSize", "subformat=fixed,force_size=on", "6M"},
                      QemuCase{"FixedForceSizeOdd", "subformat=fixed,force_size=on", "6000001"},
                      QemuCase{"DynamicLarge", "subformat=dynamic", "40M"}),
    [](const ::testing::TestParamInfo<QemuCase>& i) { return std::string(i.param.name); });

TEST(VpcOracle, ConvertedFromQcow2MatchesQemu) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), "qemu-img create -q -f qcow2 s.qcow2 9M && qemu-io -f qcow2 " +
                                 std::string(kWrites) +
                                 " s.qcow2 >/dev/null && qemu-img convert -O vpc s.qcow2 d.vhd"));
  std::string expected;
  ASSERT_TRUE(QemuImgRaw(dir.Join("d.vhd"), "vpc", &expected));
  EXPECT_TRUE(OpensAs(dir.Join("d.vhd"), expected));
}

// Virtual PC ("vpc ") disks are sized by their geometry, which rounds the
// size down: a builder-made disk whose current_size is not a whole number
// of cylinders reads shorter, as qemu-img reads it; a Hyper-V ("win ") one
// with the same bytes reads its full current_size.
TEST(VpcOracle, CreatorDecidesTheSizeAsQemuDoes) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  for (const char* app : {"vpc ", "win "}) {
    VhdSpec spec;
    spec.size_bytes = 5000 * 512;
    spec.creator_app = app;
    spec.contents.assign(spec.size_bytes, '\0');
    spec.contents.replace(spec.size_bytes - 9000, 9000, 9000, 'z');
    WriteWholeFile(dir.Join("c.vhd"), BuildVhd(spec));
    std::string expected;
    ASSERT_TRUE(QemuImgRaw(dir.Join("c.vhd"), "vpc", &expected));
    Cache cache(1 << 20);
    auto dev = OpenImage(dir.Join("c.vhd"), {}, &cache);
    ASSERT_OK(dev);
    EXPECT_TRUE(DeviceMatches(**dev, expected)) << app;
    const bool chs = std::string(app) == "vpc ";
    EXPECT_EQ((*dev)->Describe().format_specific["data"]["size-rule"],
              chs ? "chs" : "current-size");
    if (chs) {
      EXPECT_LT(expected.size(), spec.size_bytes);  // 73 x 4 x 17 = 4964 sectors
    } else {
      EXPECT_EQ(expected.size(), spec.size_bytes);
    }
  }
}

// qcow2 over qcow2 over vpc, three deep, against qemu-img.
TEST(VpcOracle, Qcow2ChainOverVpc) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f vpc -o force_size=on base.vhd 6M && "
                 "qemu-io -f vpc -c 'write -P 0x01 0 3M' base.vhd >/dev/null && "
                 "qemu-img create -q -f qcow2 -b base.vhd -F vpc mid.qcow2 && "
                 "qemu-io -f qcow2 -c 'write -P 0x02 1M 1M' mid.qcow2 >/dev/null && "
                 "qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 && "
                 "qemu-io -f qcow2 -c 'write -P 0x03 1536k 4k' top.qcow2 >/dev/null"));
  std::string expected;
  ASSERT_TRUE(QemuImgRaw(dir.Join("top.qcow2"), "qcow2", &expected));
  Cache cache(4 << 20);
  auto dev = OpenImage(dir.Join("top.qcow2"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(DeviceMatches(**dev, expected));
  EXPECT_TRUE(ExtentsMatchMap(**dev, QemuMap(dir.path(), "top.qcow2")));
}

// The unique id stored in a VHD's footer.
vpc::UniqueId IdOfFile(const std::string& path) {
  const std::string bytes = ReadWholeFile(path);
  vpc::UniqueId id{};
  for (size_t i = 0; i < id.size(); ++i) {
    id[i] = static_cast<std::byte>(bytes[68 + i]);
  }
  return id;
}

// A pattern in every `every`th sector from `first`, tagged with `tag`.
void Stamp(uint64_t first, uint64_t every, char tag, VhdSpec* spec, std::string* expected) {
  spec->stored.resize(spec->size_bytes / 512);
  for (uint64_t s = first; s < spec->size_bytes / 512; s += every) {
    spec->stored[s] = true;
    for (uint64_t i = 0; i < 512; ++i) {
      spec->contents[s * 512 + i] = static_cast<char>(tag + (i % 13));
    }
    expected->replace(s * 512, 512, spec->contents, s * 512, 512);
  }
}

// Widens what `spec` stores to whole blocks: every sector of a block it
// allocates becomes its own (zeros where it wrote nothing).
void WholeBlocks(VhdSpec* spec, std::string* expected) {
  const uint64_t per_block = spec->block_bytes / 512;
  for (uint64_t b = 0; b * per_block < spec->stored.size(); ++b) {
    const uint64_t first = b * per_block;
    const uint64_t end = std::min<uint64_t>(first + per_block, spec->stored.size());
    if (std::find(spec->stored.begin() + static_cast<ptrdiff_t>(first),
                  spec->stored.begin() + static_cast<ptrdiff_t>(end),
                  true) == spec->stored.begin() + static_cast<ptrdiff_t>(end)) {
      continue;
    }
    for (uint64_t s = first; s < end; ++s) {
      spec->stored[s] = true;
    }
    expected->replace(first * 512, (end - first) * 512, spec->contents, first * 512,
                      (end - first) * 512);
  }
}

VhdSpec Child(const std::string& dir, const std::string& parent, char seed) {
  VhdSpec spec;
  spec.type = DiskType::kDifferencing;
  spec.size_bytes = 6 << 20;
  spec.contents.assign(spec.size_bytes, '\0');
  spec.unique_id = vpc::testing::IdOf(static_cast<uint8_t>(seed));
  spec.parent_unique_id = IdOfFile(dir + "/" + parent);
  spec.parent_name = parent;
  spec.locators = {{"W2ku", "C:\\VMs\\" + parent}, {"W2ru", ".\\" + parent}};
  return spec;
}

// base.vhd (qemu-img, force_size) <- d1.vhd <- d2.vhd (builder); returns
// the disk d2 describes. With `whole_blocks`, the children own every sector
// of the blocks they allocate.
std::string MakeDifferencingChain(const TempDir& dir, bool whole_blocks = false) {
  EXPECT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f vpc -o force_size=on base.vhd 6M && "
                 "qemu-io -f vpc -c 'write -P 0x61 0 2M' -c 'write -P 0x62 4M 100k' "
                 "base.vhd >/dev/null"));
  std::string expected;
  EXPECT_TRUE(QemuImgRaw(dir.Join("base.vhd"), "vpc", &expected));
  VhdSpec d1 = Child(dir.path(), "base.vhd", 'a');
  Stamp(3, 7, 'A', &d1, &expected);  // sectors across blocks, some over base data
  if (whole_blocks) {
    WholeBlocks(&d1, &expected);
  }
  WriteWholeFile(dir.Join("d1.vhd"), BuildVhd(d1));
  VhdSpec d2 = Child(dir.path(), "d1.vhd", 'b');
  d2.locators = {{"W2ru", ".\\d1.vhd"}};
  Stamp(5, 11, 'B', &d2, &expected);
  if (whole_blocks) {
    WholeBlocks(&d2, &expected);
  }
  WriteWholeFile(dir.Join("d2.vhd"), BuildVhd(d2));
  return expected;
}

// Sector-granular bitmaps: 7-Zip reads them as the specification says.
TEST(VpcOracle, DifferencingChainMatchesSevenZip) {
  IMGFS_REQUIRE_QEMU();
  IMGFS_REQUIRE_TOOL("7zz");
  TempDir dir;
  const std::string expected = MakeDifferencingChain(dir);
  std::string by_7zz;
  ASSERT_TRUE(testing::SevenZipExtractDisk(dir.Join("d2.vhd"), "vhd", &by_7zz));
  EXPECT_TRUE(by_7zz == expected) << "7zz disagrees with the chain as built";
  Cache cache(4 << 20);
  auto dev = OpenImage(dir.Join("d2.vhd"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(DeviceMatches(**dev, expected));
  ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.backing_filename, "d1.vhd");
  EXPECT_EQ(info.full_backing_filename, dir.Join("d1.vhd"));
  EXPECT_EQ(info.format_specific["data"]["subformat"], "differencing");
  // Depths: d2's own sectors at 0, d1's at 1, base's at 2.
  std::vector<Extent> extents;
  ASSERT_OK(CollectExtents(**dev, 0, (*dev)->Size(), &extents));
  std::vector<uint32_t> depth_of(3, 99);
  for (const Extent& e : extents) {
    for (uint64_t s : {uint64_t{5}, uint64_t{3}, uint64_t{1}}) {
      if (s * 512 >= e.offset && s * 512 < e.offset + e.length && e.kind == ExtentKind::kData) {
        depth_of[s == 5 ? 0 : s == 3 ? 1 : 2] = e.depth;
      }
    }
  }
  EXPECT_EQ(depth_of, (std::vector<uint32_t>{0, 1, 2}));
}

// libvhdi 20210425 (Debian 12's vhdimount) reads an allocated block of a
// differencing disk whole, ignoring its bitmap, so it judges chains whose
// children own whole blocks.
TEST(VpcOracle, WholeBlockDifferencingChainMatchesVhdimountAndSevenZip) {
  IMGFS_REQUIRE_QEMU();
  IMGFS_REQUIRE_TOOL("7zz");
  IMGFS_REQUIRE_TOOL("vhdimount");
  TempDir dir;
  const std::string expected = MakeDifferencingChain(dir, /*whole_blocks=*/true);
  std::string by_vhdi;
  ASSERT_TRUE(testing::VhdimountRaw(dir.Join("d2.vhd"), &by_vhdi));
  EXPECT_TRUE(by_vhdi == expected) << "vhdimount disagrees with the chain as built";
  std::string by_7zz;
  ASSERT_TRUE(testing::SevenZipExtractDisk(dir.Join("d2.vhd"), "vhd", &by_7zz));
  EXPECT_TRUE(by_7zz == expected) << "7zz disagrees with the chain as built";
  EXPECT_TRUE(OpensAs(dir.Join("d2.vhd"), expected));
}

// Mixed formats, three deep: top.qcow2 (qemu-img) <- mid.vhd (a
// differencing VHD, builder) <- base.qcow2 (qemu-img). QEMU cannot read the
// middle layer's parent, so the expected disk is composed here from
// qemu-img's reading of base.qcow2, the sectors mid.vhd stores and the
// bytes qemu-io wrote to top.qcow2 (one whole cluster, so that qemu, which
// reads mid.vhd without its parent, copies nothing up from it).
TEST(VpcOracle, MixedChainQcow2OverVpcOverQcow2) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 base.qcow2 6M && "
                 "qemu-io -f qcow2 -c 'write -P 0x71 0 3M' base.qcow2 >/dev/null"));
  std::string expected;
  ASSERT_TRUE(QemuImgRaw(dir.Join("base.qcow2"), "qcow2", &expected));
  VhdSpec mid;
  mid.type = DiskType::kDifferencing;
  mid.size_bytes = 6 << 20;
  mid.contents.assign(mid.size_bytes, '\0');
  mid.locators = {{"W2ru", ".\\base.qcow2"}};
  Stamp(2, 5, 'M', &mid, &expected);
  WriteWholeFile(dir.Join("mid.vhd"), BuildVhd(mid));
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 -u -b mid.vhd -F vpc top.qcow2 6M && "
                 "qemu-io -f qcow2 -c 'write -P 0x33 1M 64k' top.qcow2 "
                 ">/dev/null"));
  expected.replace(1 << 20, 64 << 10, 64 << 10, '\x33');
  EXPECT_TRUE(OpensAs(dir.Join("top.qcow2"), expected));
  Cache cache(4 << 20);
  auto dev = OpenImage(dir.Join("top.qcow2"), {}, &cache);
  ASSERT_OK(dev);
  ASSERT_NE((*dev)->backing(), nullptr);
  ASSERT_NE((*dev)->backing()->backing(), nullptr);
  EXPECT_EQ((*dev)->backing()->backing()->Describe().format, "qcow2");
}

TEST(VpcOracle, NoBackingReadsOnlyTheTopLayer) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  MakeDifferencingChain(dir);
  Cache cache(4 << 20);
  OpenOptions o;
  o.follow_backing = false;
  auto dev = OpenImage(dir.Join("d2.vhd"), o, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->backing(), nullptr);
  std::string sector(512, '\0');
  ASSERT_OK((*dev)->Read(512, std::as_writable_bytes(std::span(sector))));
  EXPECT_EQ(sector, std::string(512, '\0'));  // base's data, not read
  ASSERT_OK((*dev)->Read(5 * 512, std::as_writable_bytes(std::span(sector))));
  EXPECT_EQ(sector[0], 'B');
}

TEST(VpcOracle, ParentFoundByAbsoluteWindowsPathName) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f vpc -o force_size=on base.vhd 6M && "
                 "qemu-io -f vpc -c 'write -P 0x61 0 1M' base.vhd >/dev/null"));
  VhdSpec d = Child(dir.path(), "base.vhd", 'c');
  d.locators = {{"W2ku", "D:\\elsewhere\\base.vhd"}};
  d.parent_name = "";
  WriteWholeFile(dir.Join("d.vhd"), BuildVhd(d));
  Cache cache(4 << 20);
  auto dev = OpenImage(dir.Join("d.vhd"), {}, &cache);
  ASSERT_OK(dev);
  std::string sector(512, '\0');
  ASSERT_OK((*dev)->Read(0, std::as_writable_bytes(std::span(sector))));
  EXPECT_EQ(sector, std::string(512, '\x61'));
}

TEST(VpcOracle, ParentWithAnotherUniqueIdIsRefused) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), "qemu-img create -q -f vpc base.vhd 6M"));
  VhdSpec d = Child(dir.path(), "base.vhd", 'c');
  d.parent_unique_id = vpc::testing::IdOf(0x33);
  WriteWholeFile(dir.Join("d.vhd"), BuildVhd(d));
  Cache cache(4 << 20);
  auto dev = OpenImage(dir.Join("d.vhd"), {}, &cache);
  EXPECT_CODE(dev, kCorrupt);
  EXPECT_NE(dev.status().message().find("unique id"), std::string::npos);
}

TEST(VpcOracle, MissingParentIsNotFound) {
  TempDir dir;
  VhdSpec d;
  d.type = DiskType::kDifferencing;
  d.size_bytes = 1 << 20;
  d.parent_name = "gone.vhd";
  d.locators = {{"W2ru", ".\\gone.vhd"}, {"MacX", "file://localhost/nonexistent/gone.vhd"}};
  WriteWholeFile(dir.Join("d.vhd"), BuildVhd(d));
  Cache cache(1 << 20);
  EXPECT_CODE(OpenImage(dir.Join("d.vhd"), {}, &cache), kNotFound);
}

TEST(VpcOracle, CyclicParentsAreRefused) {
  TempDir dir;
  VhdSpec a;
  a.type = DiskType::kDifferencing;
  a.size_bytes = 1 << 20;
  a.unique_id = vpc::testing::IdOf(1);
  a.parent_unique_id = vpc::testing::IdOf(2);
  a.locators = {{"W2ru", ".\\b.vhd"}};
  VhdSpec b = a;
  b.unique_id = vpc::testing::IdOf(2);
  b.parent_unique_id = vpc::testing::IdOf(1);
  b.locators = {{"W2ru", ".\\a.vhd"}};
  WriteWholeFile(dir.Join("a.vhd"), BuildVhd(a));
  WriteWholeFile(dir.Join("b.vhd"), BuildVhd(b));
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join("a.vhd"), {}, &cache);
  EXPECT_CODE(dev, kInvalidArgument);
  EXPECT_NE(dev.status().message().find("loops"), std::string::npos) << dev.status().ToString();
  // A disk that is its own parent, too.
  a.locators = {{"W2ru", ".\\a.vhd"}};
  a.parent_unique_id = a.unique_id;
  WriteWholeFile(dir.Join("a.vhd"), BuildVhd(a));
  EXPECT_CODE(OpenImage(dir.Join("a.vhd"), {}, &cache), kInvalidArgument);
}

TEST(VpcOracle, ChainDepthLimitHolds) {
  TempDir dir;
  VhdSpec d;
  d.size_bytes = 1 << 20;
  d.unique_id = vpc::testing::IdOf(0);
  WriteWholeFile(dir.Join("l0.vhd"), BuildVhd(d));
  for (int i = 1; i < 6; ++i) {
    d.type = DiskType::kDifferencing;
    d.parent_unique_id = d.unique_id;
    d.unique_id = vpc::testing::IdOf(static_cast<uint8_t>(i));
    d.locators = {{"W2ru", "l" + std::to_string(i - 1) + ".vhd"}};
    WriteWholeFile(dir.Join("l" + std::to_string(i) + ".vhd"), BuildVhd(d));
  }
  Cache cache(1 << 20);
  OpenOptions o;
  o.max_chain_depth = 4;
  EXPECT_CODE(OpenImage(dir.Join("l5.vhd"), o, &cache), kInvalidArgument);
  o.max_chain_depth = 6;
  EXPECT_OK(OpenImage(dir.Join("l5.vhd"), o, &cache));
}

TEST(VpcOracle, ConfineBackingRefusesParentOutsideTheDirectory) {
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), "mkdir sub"));
  VhdSpec base;
  base.size_bytes = 1 << 20;
  base.unique_id = vpc::testing::IdOf(9);
  WriteWholeFile(dir.Join("base.vhd"), BuildVhd(base));
  VhdSpec d = base;
  d.type = DiskType::kDifferencing;
  d.unique_id = vpc::testing::IdOf(10);
  d.parent_unique_id = base.unique_id;
  d.locators = {{"W2ru", "..\\base.vhd"}};
  WriteWholeFile(dir.Join("sub/d.vhd"), BuildVhd(d));
  Cache cache(1 << 20);
  EXPECT_OK(OpenImage(dir.Join("sub/d.vhd"), {}, &cache));
  OpenOptions o;
  o.confine_backing = true;
  EXPECT_CODE(OpenImage(dir.Join("sub/d.vhd"), o, &cache), kPermission);
}

}  // namespace
}  // namespace imgfs
