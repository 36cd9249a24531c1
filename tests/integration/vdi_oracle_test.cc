// SPDX-License-Identifier: MIT
// VDI images against independent readers: what `qemu-img create -f vdi`
// makes (static and dynamic, odd sizes, as the base of qcow2 chains),
// compared byte for byte with `qemu-img convert -O raw` and `7zz x -tvdi`
// and extent for extent with `qemu-img map`. Neither qemu-img (block size
// must be 1 MiB, no parent UUID) nor 7-Zip ("Unsupported method" for
// differencing, 1 MiB blocks only) reads differencing images or other block
// sizes: those come from the test builder, whose layout both tools confirm
// on the images they can read, and are checked against the contents the
// builder wrote. Then damaged and hostile images: one-line errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "tests/formats/vdi/test_vdi_builder.h"
#include "tests/testing/oracles.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::DeviceMatches;
using testing::ExpectOneLineFailure;
using testing::ExtentsMatchMap;
using testing::ImgfsBinary;
using testing::QemuImgRaw;
using testing::QemuMap;
using testing::ReadWholeFile;
using testing::RunIn;
using testing::SevenZipExtractDisk;
using testing::Sh;
using testing::TempDir;
using testing::WriteWholeFile;
using vdi::testing::BuildVdi;
using vdi::testing::ExpectedDisk;
using vdi::testing::Pattern;
using vdi::testing::SeededUuid;
using vdi::testing::TestUuid;
using vdi::testing::VdiSpec;

constexpr uint64_t kMiB = 1 << 20;

TestUuid UuidAt(const std::string& file, size_t offset) {
  TestUuid u{};
  std::memcpy(u.data(), file.data() + offset, u.size());
  return u;
}

// Opens `path` and compares it with qemu-img's raw bytes and map.
void ExpectMatchesQemu(const TempDir& dir, const std::string& name, const std::string& format) {
  std::string ref;
  ASSERT_TRUE(QemuImgRaw(dir.Join(name), format, &ref));
  Cache cache(4 << 20);
  auto dev = OpenImage(dir.Join(name), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(DeviceMatches(**dev, ref)) << name;
  EXPECT_TRUE(ExtentsMatchMap(**dev, QemuMap(dir.path(), name))) << name;
}

struct QemuCase {
  const char* static_on;
  uint64_t size;
};

class VdiQemuImages : public ::testing::TestWithParam<QemuCase> {};

TEST_P(VdiQemuImages, MatchQemuImgAnd7zip) {
  IMGFS_REQUIRE_QEMU();
  IMGFS_REQUIRE_TOOL("7zz");
  const QemuCase c = GetParam();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), std::string("qemu-img create -q -f vdi -o static=") + c.static_on +
                                 " d.vdi " + std::to_string(c.size)));
  // Unaligned, across a block boundary, zeros over data, and the last bytes.
  const uint64_t size = (c.size + 511) / 512 * 512;
  std::string io = "qemu-io -f vdi -c 'write -P 0x5a 1000 3000' -c 'write -P 0x11 " +
                   std::to_string(size - 777) + " 777'";
  if (size > 2 * kMiB) {
    io += " -c 'write -P 0xa5 " + std::to_string(kMiB - 5000) + " 70000' -c 'write -z " +
          std::to_string(kMiB + 4096) + " 8192'";
  }
  ASSERT_TRUE(Sh(dir.path(), io + " d.vdi"));
  ExpectMatchesQemu(dir, "d.vdi", "vdi");
  std::string ref;
  ASSERT_TRUE(QemuImgRaw(dir.Join("d.vdi"), "vdi", &ref));
  std::string seven;
  ASSERT_TRUE(SevenZipExtractDisk(dir.Join("d.vdi"), "vdi", &seven));
  EXPECT_EQ(seven, ref);
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join("d.vdi"), {}, &cache);
  ASSERT_OK(dev);
  const ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.format, "vdi");
  EXPECT_EQ(info.virtual_size, size);
  EXPECT_EQ(info.cluster_size, kMiB);
  EXPECT_EQ(info.format_specific["data"]["image-type"],
            std::string(c.static_on) == "on" ? "static" : "dynamic");
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean());
}

INSTANTIATE_TEST_SUITE_P(StaticAndDynamic, VdiQemuImages,
                         ::testing::Values(QemuCase{"off", kMiB}, QemuCase{"on", kMiB},
                                           QemuCase{"off", 5000000}, QemuCase{"on", 5000000},
                                           QemuCase{"off", 20 * kMiB + 1536},
                                           QemuCase{"on", 6 * kMiB + 1536}),
                         [](const ::testing::TestParamInfo<QemuCase>& p) {
                           return std::string(p.param.static_on[1] == 'n' ? "Static" : "Dynamic") +
                                  std::to_string(p.param.size);
                         });

TEST(VdiOracle, ConvertedFromQcow2MatchesQemu) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 s.qcow2 9M && "
                 "qemu-io -c 'write -P 0x21 0 4k' -c 'write -P 0x22 3M 1M' -c 'write -P 0x23 "
                 "9000000 1000' s.qcow2 && qemu-img convert -O vdi s.qcow2 c.vdi && "
                 "qemu-img convert -O vdi -o static=on s.qcow2 cs.vdi"));
  ExpectMatchesQemu(dir, "c.vdi", "vdi");
  ExpectMatchesQemu(dir, "cs.vdi", "vdi");
}

TEST(VdiOracle, VdiBaseUnderTwoQcow2Layers) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  for (const char* st : {"off", "on"}) {
    ASSERT_TRUE(Sh(dir.path(),
                   std::string("rm -f *.vdi *.qcow2 && qemu-img create -q -f vdi -o static=") + st +
                       " base.vdi 5M && qemu-io -f vdi -c 'write -P 0x31 0 1536k' "
                       "-c 'write -P 0x32 4M 4096' base.vdi && "
                       "qemu-img create -q -f qcow2 -b base.vdi -F vdi mid.qcow2 6M && "
                       "qemu-io -c 'write -P 0x41 1M 100k' -c 'write -z 4M 2048' mid.qcow2 && "
                       "qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 6M && "
                       "qemu-io -c 'write -P 0x51 500k 10k' -c 'write -P 0x52 5M 77' top.qcow2"));
    ExpectMatchesQemu(dir, "top.qcow2", "qcow2");
    Cache cache(1 << 20);
    auto dev = OpenImage(dir.Join("top.qcow2"), {}, &cache);
    ASSERT_OK(dev);
    ASSERT_NE((*dev)->backing(), nullptr);
    ASSERT_NE((*dev)->backing()->backing(), nullptr);
    EXPECT_EQ((*dev)->backing()->backing()->Describe().format, "vdi");
  }
}

// A qemu-made base, two builder-made differencing layers naming their parent
// by UUID, and decoys: a text file, a VDI with another UUID, and a copy of
// the middle layer whose modification UUID differs (sorted first by name).
class VdiDiffChain : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE_QEMU();
    ASSERT_TRUE(Sh(dir_.path(),
                   "qemu-img create -q -f vdi base.vdi 4M && qemu-io -f vdi -c 'write -P 0x61 0 "
                   "1M' -c 'write -P 0x62 2M 1M' -c 'write -P 0x63 3M 5000' base.vdi"));
    ASSERT_TRUE(QemuImgRaw(dir_.Join("base.vdi"), "vdi", &base_raw_));
    const std::string base = ReadWholeFile(dir_.Join("base.vdi"));
    diff1_.type = 4;
    diff1_.disk_bytes = 4 * kMiB;
    diff1_.uuid = SeededUuid(20);
    diff1_.modification_uuid = SeededUuid(21);
    diff1_.parent_uuid = UuidAt(base, 0x188);
    diff1_.parent_modification_uuid = UuidAt(base, 0x198);
    diff1_.blocks[1] = Pattern(kMiB, 1);
    diff1_.zero_blocks = {2};
    diff2_.type = 4;
    diff2_.disk_bytes = 4 * kMiB;
    diff2_.uuid = SeededUuid(30);
    diff2_.modification_uuid = SeededUuid(31);
    diff2_.parent_uuid = diff1_.uuid;
    diff2_.parent_modification_uuid = diff1_.modification_uuid;
    diff2_.blocks[0] = Pattern(1000, 2);
    diff2_.blocks[3] = Pattern(kMiB, 3);
    WriteWholeFile(dir_.Join("diff1.vdi"), BuildVdi(diff1_));
    WriteWholeFile(dir_.Join("diff2.vdi"), BuildVdi(diff2_));
    WriteWholeFile(dir_.Join("notes.txt"), "not an image\n");
    VdiSpec other = diff1_;
    other.uuid = SeededUuid(99);
    WriteWholeFile(dir_.Join("other.vdi"), BuildVdi(other));
    VdiSpec copy = diff1_;
    copy.modification_uuid = SeededUuid(77);
    copy.blocks[1] = Pattern(kMiB, 66);
    WriteWholeFile(dir_.Join("copy-of-diff1.vdi"), BuildVdi(copy));
    expected_ = ExpectedDisk(diff2_, ExpectedDisk(diff1_, base_raw_));
  }

  TempDir dir_;
  std::string base_raw_;
  VdiSpec diff1_;
  VdiSpec diff2_;
  std::string expected_;
};

TEST_F(VdiDiffChain, BuilderLayoutIsWhatQemuAnd7zipRead) {
  IMGFS_REQUIRE_TOOL("7zz");
  // The differencing layers with their type and parent cleared are plain
  // dynamic images both tools read: their blocks sit where the builder says.
  for (VdiSpec spec : {diff1_, diff2_}) {
    spec.type = 1;
    spec.parent_uuid = {};
    spec.parent_modification_uuid = {};
    spec.zero_blocks.clear();  // qemu and 7-Zip agree with VirtualBox here too
    WriteWholeFile(dir_.Join("detached.vdi"), BuildVdi(spec));
    std::string qemu, seven;
    ASSERT_TRUE(QemuImgRaw(dir_.Join("detached.vdi"), "vdi", &qemu));
    ASSERT_TRUE(SevenZipExtractDisk(dir_.Join("detached.vdi"), "vdi", &seven));
    EXPECT_EQ(qemu, ExpectedDisk(spec));
    EXPECT_EQ(seven, qemu);
  }
  // 7-Zip refuses the differencing image itself.
  EXPECT_NE(RunIn(dir_.path(), "7zz t -tvdi diff1.vdi"), 0);
}

TEST_F(VdiDiffChain, ParentsAreFoundByUuidAndReadThrough) {
  Cache cache(4 << 20);
  auto dev = OpenImage(dir_.Join("diff2.vdi"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(DeviceMatches(**dev, expected_));
  const ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.backing_filename, "diff1.vdi");
  EXPECT_EQ(info.backing_format, "vdi");
  ASSERT_EQ(info.notes.size(), 2u);
  EXPECT_NE(info.notes[0].find("is diff1.vdi, found by UUID among 4 VDI files"), std::string::npos)
      << info.notes[0];
  // diff1 has a look-alike: the modification UUID decides.
  EXPECT_NE(info.notes[1].find("2 files have the parent's UUID (copy-of-diff1.vdi, diff1.vdi); "
                               "chose diff1.vdi (its modification UUID matches)"),
            std::string::npos)
      << info.notes[1];
  const ImageInfo mid = (*dev)->backing()->Describe();
  EXPECT_EQ(mid.backing_filename, "base.vdi");
  EXPECT_EQ(mid.notes.size(), 1u);
  // Depths: blocks 0 and 3 are diff2's, block 1 diff1's, block 2 zeroed in
  // diff1.
  std::vector<Extent> ext;
  ASSERT_OK(CollectExtents(**dev, 0, 4 * kMiB, &ext));
  auto at = [&](uint64_t off) {
    for (const Extent& e : ext) {
      if (off >= e.offset && off < e.offset + e.length) {
        return e;
      }
    }
    return Extent{};
  };
  EXPECT_EQ(at(0).depth, 0u);
  EXPECT_EQ(at(kMiB).depth, 1u);
  EXPECT_EQ(at(kMiB).kind, ExtentKind::kData);
  EXPECT_EQ(at(2 * kMiB).kind, ExtentKind::kZero);
  EXPECT_EQ(at(2 * kMiB).depth, 1u);
  EXPECT_EQ(at(3 * kMiB).depth, 0u);
}

TEST_F(VdiDiffChain, SameUuidTwiceChoosesByModificationUuid) {
  // Make the middle layer's copy the only exact match.
  VdiSpec copy = diff1_;
  copy.blocks[1] = Pattern(kMiB, 66);
  WriteWholeFile(dir_.Join("copy-of-diff1.vdi"), BuildVdi(copy));
  VdiSpec moved = diff1_;
  moved.modification_uuid = SeededUuid(78);
  WriteWholeFile(dir_.Join("diff1.vdi"), BuildVdi(moved));
  Cache cache(4 << 20);
  auto dev = OpenImage(dir_.Join("diff2.vdi"), {}, &cache);
  ASSERT_OK(dev);
  const ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.backing_filename, "copy-of-diff1.vdi");
  ASSERT_EQ(info.notes.size(), 2u);
  EXPECT_NE(info.notes[1].find("2 files have the parent's UUID"), std::string::npos);
  EXPECT_NE(info.notes[1].find("modification UUID matches"), std::string::npos);
  EXPECT_TRUE(DeviceMatches(**dev, ExpectedDisk(diff2_, ExpectedDisk(copy, base_raw_))));
}

TEST_F(VdiDiffChain, Qcow2OverTheDiffChain) {
  // qemu-io cannot open the differencing parent, so the top layer is
  // written over a raw file first (whole clusters, so no copy-on-write from
  // it) and then pointed at diff2.vdi.
  ASSERT_TRUE(Sh(dir_.path(),
                 "qemu-img create -q -f raw z.raw 4M && "
                 "qemu-img create -q -f qcow2 -b z.raw -F raw top.qcow2 4M && "
                 "qemu-io -c 'write -P 0x71 64k 64k' -c 'write -P 0x72 3M 128k' top.qcow2 && "
                 "qemu-img rebase -u -b diff2.vdi -F vdi top.qcow2"));
  std::string want = expected_;
  want.replace(65536, 65536, std::string(65536, '\x71'));
  want.replace(3 * kMiB, 131072, std::string(131072, '\x72'));
  Cache cache(4 << 20);
  auto dev = OpenImage(dir_.Join("top.qcow2"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(DeviceMatches(**dev, want));
}

TEST_F(VdiDiffChain, NoBackingReadsTheTopLayerOnly) {
  Cache cache(4 << 20);
  OpenOptions options;
  options.follow_backing = false;
  auto dev = OpenImage(dir_.Join("diff2.vdi"), options, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->backing(), nullptr);
  EXPECT_TRUE(DeviceMatches(**dev, ExpectedDisk(diff2_)));
}

TEST_F(VdiDiffChain, MissingParentIsNotFound) {
  std::filesystem::remove(dir_.Join("diff1.vdi"));
  std::filesystem::remove(dir_.Join("copy-of-diff1.vdi"));
  Cache cache(4 << 20);
  auto dev = OpenImage(dir_.Join("diff2.vdi"), {}, &cache);
  EXPECT_CODE(dev, kNotFound);
  EXPECT_NE(dev.status().message().find("none of the 2 VDI files beside it has that UUID"),
            std::string::npos)
      << dev.status().ToString();
}

TEST_F(VdiDiffChain, DepthLimitApplies) {
  Cache cache(4 << 20);
  OpenOptions options;
  options.max_chain_depth = 2;
  EXPECT_CODE(OpenImage(dir_.Join("diff2.vdi"), options, &cache), kInvalidArgument);
  options.max_chain_depth = 3;
  EXPECT_OK(OpenImage(dir_.Join("diff2.vdi"), options, &cache));
}

TEST_F(VdiDiffChain, ConfineBackingSkipsParentsOutsideTheTopDirectory) {
  // The top image in a subdirectory, its parent reachable only through a
  // symlink that leaves it.
  std::filesystem::create_directory(dir_.Join("sub"));
  std::filesystem::rename(dir_.Join("diff2.vdi"), dir_.Join("sub/diff2.vdi"));
  std::filesystem::create_symlink(dir_.Join("diff1.vdi"), dir_.Join("sub/link.vdi"));
  // The parent's parent is looked for beside the name it was opened by.
  std::filesystem::create_symlink(dir_.Join("base.vdi"), dir_.Join("sub/base-link.vdi"));
  Cache cache(4 << 20);
  OpenOptions options;
  options.confine_backing = true;
  EXPECT_CODE(OpenImage(dir_.Join("sub/diff2.vdi"), options, &cache), kNotFound);
  EXPECT_OK(OpenImage(dir_.Join("sub/diff2.vdi"), {}, &cache));
}

TEST(VdiOracle, CyclicParentsAreRefused) {
  TempDir dir;
  VdiSpec a;
  a.type = 4;
  a.block_bytes = 4096;
  a.disk_bytes = 8192;
  a.uuid = SeededUuid(1);
  a.parent_uuid = SeededUuid(2);
  VdiSpec b = a;
  b.uuid = SeededUuid(2);
  b.parent_uuid = SeededUuid(1);
  WriteWholeFile(dir.Join("a.vdi"), BuildVdi(a));
  WriteWholeFile(dir.Join("b.vdi"), BuildVdi(b));
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join("a.vdi"), {}, &cache);
  EXPECT_CODE(dev, kInvalidArgument);
  EXPECT_NE(dev.status().message().find("loops"), std::string::npos) << dev.status().ToString();
  // An image naming itself as its parent.
  a.parent_uuid = a.uuid;
  WriteWholeFile(dir.Join("b.vdi"), "");
  WriteWholeFile(dir.Join("self.vdi"), BuildVdi(a));
  std::filesystem::remove(dir.Join("a.vdi"));
  EXPECT_FALSE(OpenImage(dir.Join("self.vdi"), {}, &cache).ok());
}

// Block sizes other than 1 MiB: neither qemu-img nor 7-Zip reads them, so
// the same disk is also written with 1 MiB blocks, which both do read, and
// every variant must read as the contents the builder wrote.
TEST(VdiOracle, OtherBlockSizesReadTheBuildersContents) {
  IMGFS_REQUIRE_QEMU();
  IMGFS_REQUIRE_TOOL("7zz");
  TempDir dir;
  const uint64_t disk = 4 * kMiB;
  std::string contents(disk, '\0');
  for (uint64_t off : {uint64_t{0}, 700 * uint64_t{1024}, 2 * kMiB + 4096}) {
    contents.replace(off, 300000, Pattern(300000, static_cast<uint32_t>(off)));
  }
  auto spec_for = [&](uint32_t block_bytes) {
    VdiSpec s;
    s.block_bytes = block_bytes;
    s.disk_bytes = disk;
    for (uint64_t b = 0; b * block_bytes < disk; ++b) {
      std::string part = contents.substr(b * block_bytes, block_bytes);
      if (part.find_first_not_of('\0') != std::string::npos) {
        s.blocks[static_cast<uint32_t>(b)] = part;
      }
    }
    s.reverse_storage = true;
    return s;
  };
  WriteWholeFile(dir.Join("b1m.vdi"), BuildVdi(spec_for(kMiB)));
  std::string qemu, seven;
  ASSERT_TRUE(QemuImgRaw(dir.Join("b1m.vdi"), "vdi", &qemu));
  ASSERT_TRUE(SevenZipExtractDisk(dir.Join("b1m.vdi"), "vdi", &seven));
  ASSERT_EQ(qemu, contents);
  ASSERT_EQ(seven, contents);
  for (uint32_t block_bytes : {512u, 4096u, 65536u, 2u << 20, 4u << 20}) {
    const std::string name = "b" + std::to_string(block_bytes) + ".vdi";
    WriteWholeFile(dir.Join(name), BuildVdi(spec_for(block_bytes)));
    // qemu-img refuses them (documented in formats/vdi/README.md).
    EXPECT_NE(RunIn(dir.path(), "qemu-img info " + name), 0) << name;
    Cache cache(1 << 20);
    auto dev = OpenImage(dir.Join(name), {}, &cache);
    ASSERT_OK(dev);
    EXPECT_EQ((*dev)->Describe().cluster_size, block_bytes);
    EXPECT_TRUE(DeviceMatches(**dev, contents)) << name;
  }
}

// The CLI on a qemu-made image: `map` prints what `qemu-img map` prints,
// `info --json` agrees with `qemu-img info --output=json` on every key
// qemu-img shows, `check` is clean, and `convert -O dmg` reads back through
// qemu-img's dmg driver as the same disk.
TEST(VdiCli, InfoMapCheckAndConvertAgreeWithQemu) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f vdi d.vdi 7M && qemu-io -f vdi -c 'write -P "
                 "0x5a 1M 64k' -c 'write -P 0x11 5000000 1234' d.vdi"));
  std::string ours, theirs;
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " map d.vdi", &ours));
  ASSERT_TRUE(Sh(dir.path(), "qemu-img map d.vdi", &theirs));
  EXPECT_EQ(ours, theirs);
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " info --json d.vdi", &ours));
  ASSERT_TRUE(Sh(dir.path(), "qemu-img info --output=json d.vdi", &theirs));
  const auto a = nlohmann::json::parse(ours);
  const auto b = nlohmann::json::parse(theirs);
  for (const auto& [key, value] : b.items()) {
    if (key != "actual-size") {  // allocation as the host file system counts it
      EXPECT_EQ(a[key], value) << key;
    }
  }
  EXPECT_EQ(a["format-specific"]["type"], "vdi");  // ours only: VirtualBox header fields
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " check d.vdi", &ours)) << ours;
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " convert -O dmg d.vdi d.dmg && " + ImgfsBinary() +
                                 " convert -O raw d.vdi d.raw"));
  std::string ref, dmg;
  ASSERT_TRUE(QemuImgRaw(dir.Join("d.vdi"), "vdi", &ref));
  ASSERT_TRUE(QemuImgRaw(dir.Join("d.dmg"), "dmg", &dmg));
  EXPECT_EQ(ReadWholeFile(dir.Join("d.raw")), ref);
  EXPECT_EQ(dmg, ref);
}

TEST(VdiBadInput, DamagedImagesFailWithOneLine) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f vdi good.vdi 3M && "
                 "qemu-io -f vdi -c 'write -P 0x5a 1M 4k' good.vdi"));
  const std::string good = ReadWholeFile(dir.Join("good.vdi"));
  auto variant = [&](const std::string& name, std::string bytes) {
    WriteWholeFile(dir.Join(name), bytes);
    ExpectOneLineFailure(dir, "info " + name);
    ExpectOneLineFailure(dir, "convert -O raw " + name + " " + name + ".raw");
    Cache cache(1 << 20);
    EXPECT_FALSE(OpenImage(dir.Join(name), {}, &cache).ok()) << name;
  };
  auto patched = [&](size_t at, uint32_t v) {
    std::string b = good;
    std::memcpy(b.data() + at, &v, 4);
    return b;
  };
  variant("cut-preheader.vdi", good.substr(0, 0x44));
  variant("cut-header.vdi", good.substr(0, 0x1c0));
  variant("cut-map.vdi", good.substr(0, 0x204));  // 3 entries need 0x20c
  variant("absurd-count.vdi", patched(0x180, 0xffffffff));
  variant("absurd-block.vdi", patched(0x178, 1u << 30));
  variant("zero-block.vdi", patched(0x178, 0));
  variant("bad-type.vdi", patched(0x4c, 9));
  variant("bad-version.vdi", patched(0x44, 0x00030000));
  // A map entry past the end of the file opens, but its reads fail.
  WriteWholeFile(dir.Join("far.vdi"), patched(0x204, 12345));
  ExpectOneLineFailure(dir, "convert -O raw far.vdi far.raw");
  std::string out;
  EXPECT_NE(RunIn(dir.path(), ImgfsBinary() + " check far.vdi", &out), 0) << out;
}

TEST(VdiBadInput, CliNamesTheMissingParent) {
  TempDir dir;
  VdiSpec s;
  s.type = 4;
  s.block_bytes = 4096;
  s.disk_bytes = 8192;
  s.parent_uuid = SeededUuid(5);
  WriteWholeFile(dir.Join("orphan.vdi"), BuildVdi(s));
  const std::string err = ExpectOneLineFailure(dir, "info orphan.vdi");
  EXPECT_NE(err.find("vdi: parent {"), std::string::npos) << err;
  EXPECT_NE(err.find("not found: none of the 0 VDI files beside it has that UUID"),
            std::string::npos)
      << err;
}

}  // namespace
}  // namespace imgfs
