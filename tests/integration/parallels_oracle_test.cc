// SPDX-License-Identifier: MIT
// Parallels images against qemu-img: what `qemu-img create -f parallels`
// and `qemu-img convert -O parallels` make (cluster sizes, odd sizes),
// compared byte for byte with `qemu-img convert -O raw` and extent for
// extent with `qemu-img map`; old-signature images from the test builder,
// which qemu-img also reads. Bundles (.hdd directories), which qemu-img
// cannot open, are built from qemu-made and builder-made .hds files and
// checked against qemu-img's reading of each file composed as the
// descriptor says. Then damaged and hostile inputs: one-line errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "tests/formats/parallels/test_parallels_builder.h"
#include "tests/testing/oracles.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using parallels::testing::BuildDescriptor;
using parallels::testing::BuildHds;
using parallels::testing::BundleSpec;
using parallels::testing::ExpectedDisk;
using parallels::testing::HdsSpec;
using parallels::testing::Pattern;
using parallels::testing::SeededGuid;
using testing::DeviceMatches;
using testing::ExpectOneLineFailure;
using testing::ExtentsMatchMap;
using testing::ImgfsBinary;
using testing::QemuImgRaw;
using testing::QemuMap;
using testing::ReadWholeFile;
using testing::RunIn;
using testing::Sh;
using testing::TempDir;
using testing::WriteWholeFile;

constexpr uint64_t kMiB = 1 << 20;
constexpr char kRootParent[] = "{00000000-0000-0000-0000-000000000000}";

void ExpectMatchesQemu(const TempDir& dir, const std::string& name) {
  std::string ref;
  ASSERT_TRUE(QemuImgRaw(dir.Join(name), "parallels", &ref));
  Cache cache(4 << 20);
  auto dev = OpenImage(dir.Join(name), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(DeviceMatches(**dev, ref)) << name;
  EXPECT_TRUE(ExtentsMatchMap(**dev, QemuMap(dir.path(), name))) << name;
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean()) << name;
}

struct QemuCase {
  uint64_t cluster_bytes;
  uint64_t size;
};

class ParallelsQemuImages : public ::testing::TestWithParam<QemuCase> {};

TEST_P(ParallelsQemuImages, MatchQemuImg) {
  IMGFS_REQUIRE_QEMU();
  const QemuCase c = GetParam();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), "qemu-img create -q -f parallels -o cluster_size=" +
                                 std::to_string(c.cluster_bytes) + " d.hds " +
                                 std::to_string(c.size)));
  // Unaligned, across a cluster boundary, zeros over data, and the last bytes.
  const uint64_t size = (c.size + 511) / 512 * 512;
  std::string io = "qemu-io -f parallels -c 'write -P 0x5a 1000 3000' -c 'write -P 0x11 " +
                   std::to_string(size - 777) + " 777'";
  if (size > 2 * kMiB) {
    io += " -c 'write -P 0xa5 " + std::to_string(kMiB - 5000) + " 70000' -c 'write -z " +
          std::to_string(kMiB + 4096) + " 8192'";
  }
  ASSERT_TRUE(Sh(dir.path(), io + " d.hds"));
  ExpectMatchesQemu(dir, "d.hds");
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join("d.hds"), {}, &cache);
  ASSERT_OK(dev);
  const ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.format, "parallels");
  EXPECT_EQ(info.virtual_size, size);
  EXPECT_EQ(info.cluster_size, c.cluster_bytes);
  EXPECT_EQ(info.format_specific["data"]["signature"], "WithouFreSpacExt");
  EXPECT_FALSE(info.dirty);
}

INSTANTIATE_TEST_SUITE_P(ClusterSizes, ParallelsQemuImages,
                         ::testing::Values(QemuCase{4096, 3 * kMiB + 512}, QemuCase{65536, 5000000},
                                           QemuCase{65536, 4608}, QemuCase{256 * 1024, 9 * kMiB},
                                           QemuCase{kMiB, 20 * kMiB + 1536}),
                         [](const ::testing::TestParamInfo<QemuCase>& p) {
                           return "Cluster" + std::to_string(p.param.cluster_bytes) + "Size" +
                                  std::to_string(p.param.size);
                         });

TEST(ParallelsOracle, ConvertedFromQcow2MatchesQemu) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 s.qcow2 9M && "
                 "qemu-io -c 'write -P 0x21 0 4k' -c 'write -P 0x22 3M 1M' -c 'write -P 0x23 "
                 "9000000 1000' s.qcow2 && qemu-img convert -O parallels s.qcow2 c.hds && "
                 "qemu-img convert -O parallels -o cluster_size=32k s.qcow2 c32.hds"));
  ExpectMatchesQemu(dir, "c.hds");
  ExpectMatchesQemu(dir, "c32.hds");
}

// Builder images of both signatures, including the old one's sector
// offsets, data_off 0, a 63-sector cluster and clusters out of order, read
// by qemu-img as the builder says they are.
TEST(ParallelsOracle, BuilderImagesOfBothSignaturesMatchQemu) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  int n = 0;
  for (bool ext : {true, false}) {
    for (uint32_t cluster_sectors : {8u, 63u, 2048u}) {
      HdsSpec s;
      s.cluster_offsets = ext;
      s.cluster_sectors = cluster_sectors;
      s.disk_sectors = uint64_t{cluster_sectors} * 7 + 5;
      const size_t cb = size_t{cluster_sectors} * 512;
      s.clusters[0] = Pattern(cb, 1);
      s.clusters[3] = Pattern(100, 2);
      s.clusters[4] = Pattern(cb, 3);
      s.clusters[7] = Pattern(cb, 4);
      s.reverse_storage = true;
      s.data_off_zero = !ext;
      const std::string name = "b" + std::to_string(n++) + ".hds";
      WriteWholeFile(dir.Join(name), BuildHds(s));
      std::string ref;
      ASSERT_TRUE(QemuImgRaw(dir.Join(name), "parallels", &ref)) << name;
      EXPECT_EQ(ref, ExpectedDisk(s)) << name;
      ExpectMatchesQemu(dir, name);
    }
  }
}

// The CLI on a qemu-made image: `map` prints what `qemu-img map` prints,
// `info --json` agrees with `qemu-img info --output=json` on every key
// qemu-img shows, `check` is clean, and `convert -O dmg` reads back through
// qemu-img's dmg driver as the same disk.
TEST(ParallelsCli, InfoMapCheckAndConvertAgreeWithQemu) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f parallels d.hds 7M && qemu-io -f parallels -c 'write -P "
                 "0x5a 1M 64k' -c 'write -P 0x11 5000000 1234' d.hds"));
  std::string ours, theirs;
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " map d.hds", &ours));
  ASSERT_TRUE(Sh(dir.path(), "qemu-img map d.hds", &theirs));
  EXPECT_EQ(ours, theirs);
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " info --json d.hds", &ours));
  ASSERT_TRUE(Sh(dir.path(), "qemu-img info --output=json d.hds", &theirs));
  const auto a = nlohmann::json::parse(ours);
  const auto b = nlohmann::json::parse(theirs);
  for (const auto& [key, value] : b.items()) {
    if (key != "actual-size") {  // allocation as the host file system counts it
      EXPECT_EQ(a[key], value) << key;
    }
  }
  EXPECT_EQ(a["format-specific"]["type"], "parallels");
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " check d.hds", &ours)) << ours;
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " convert -O dmg d.hds d.dmg && " + ImgfsBinary() +
                                 " convert -O raw d.hds d.raw"));
  std::string ref, dmg;
  ASSERT_TRUE(QemuImgRaw(dir.Join("d.hds"), "parallels", &ref));
  ASSERT_TRUE(QemuImgRaw(dir.Join("d.dmg"), "dmg", &dmg));
  EXPECT_EQ(ReadWholeFile(dir.Join("d.raw")), ref);
  EXPECT_EQ(dmg, ref);
}

TEST(ParallelsCli, InUseFlagIsReportedByInfoAndCheck) {
  TempDir dir;
  HdsSpec s;
  s.cluster_sectors = 8;
  s.disk_sectors = 64;
  s.clusters[2] = Pattern(4096, 7);
  s.in_use = 0x746f6e59;
  s.dirty_bitmap_ext = true;
  WriteWholeFile(dir.Join("dirty.hds"), BuildHds(s));
  std::string out;
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " info --json dirty.hds", &out));
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["dirty-flag"], true) << out;
  EXPECT_EQ(j["format-specific"]["data"]["in-use"], "dirty");
  EXPECT_EQ(j["format-specific"]["data"]["format-extension"]["dirty-bitmaps"], 1);
  RunIn(dir.path(), ImgfsBinary() + " check dirty.hds", &out);
  EXPECT_NE(out.find("in-use flag set"), std::string::npos) << out;
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " convert -O raw dirty.hds dirty.raw"));
  EXPECT_EQ(ReadWholeFile(dir.Join("dirty.raw")), ExpectedDisk(s));
}

// ---- Bundles ----

// A .hdd bundle in `dir`/`name`: a root snapshot (qemu-made expanding image
// or a plain file) under a builder-made top snapshot, optionally split in
// two storages, plus a side snapshot that is not current.
class ParallelsBundle : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE_QEMU();
    std::filesystem::create_directory(dir_.Join("disk.hdd"));
  }

  std::string Hdd(const std::string& f = "") const {
    return dir_.Join("disk.hdd") + (f.empty() ? "" : "/" + f);
  }

  // Root: qemu-made, 1 MiB clusters; its qemu-img raw bytes.
  std::string MakeRoot(const std::string& file, uint64_t bytes, uint8_t seed) {
    EXPECT_TRUE(Sh(Hdd(), "qemu-img create -q -f parallels " + file + " " + std::to_string(bytes) +
                              " && qemu-io -f parallels -c 'write -P " + std::to_string(seed) +
                              " 4096 1500000' -c 'write -P " + std::to_string(seed + 1) + " " +
                              std::to_string(bytes - 5000) + " 5000' " + file));
    std::string raw;
    EXPECT_TRUE(QemuImgRaw(Hdd(file), "parallels", &raw));
    return raw;
  }

  // Top: builder-made delta over `below`, which qemu-img also reads alone.
  std::string MakeTop(const std::string& file, uint64_t bytes, uint32_t seed,
                      const std::string& below) {
    HdsSpec s;
    s.cluster_sectors = 2048;
    s.disk_sectors = bytes / 512;
    s.clusters[1] = Pattern(kMiB, seed);
    s.clusters[static_cast<uint32_t>(bytes / kMiB) - 1] = Pattern(kMiB / 2, seed + 1);
    WriteWholeFile(Hdd(file), BuildHds(s));
    std::string alone;
    EXPECT_TRUE(QemuImgRaw(Hdd(file), "parallels", &alone));
    EXPECT_EQ(alone, ExpectedDisk(s));
    return ExpectedDisk(s, below);
  }

  std::string ReadAll(const std::string& path, const OpenOptions& o = {}) {
    Cache cache(4 << 20);
    auto dev = OpenImage(path, o, &cache);
    EXPECT_OK(dev);
    if (!dev.ok()) {
      return "";
    }
    std::string out((*dev)->Size(), '\0');
    EXPECT_OK((*dev)->Read(0, std::as_writable_bytes(std::span(out))));
    return out;
  }

  TempDir dir_;
  const std::string root_ = SeededGuid(1);
  const std::string side_ = SeededGuid(2);
  const std::string top_ = SeededGuid(3);
};

TEST_F(ParallelsBundle, SingleStorageWithSnapshotsShowsTheCurrentState) {
  const uint64_t size = 6 * kMiB;
  const std::string root = MakeRoot("root.hds", size, 0x30);
  const std::string want = MakeTop("top.hds", size, 40, root);
  MakeTop("side.hds", size, 50, root);
  BundleSpec b;
  b.disk_sectors = size / 512;
  b.storages.push_back({0,
                        size / 512,
                        2048,
                        {{root_, "Compressed", "root.hds"},
                         {side_, "Compressed", "side.hds"},
                         {top_, "Compressed", "top.hds"}}});
  b.shots = {{root_, kRootParent}, {side_, root_}, {top_, root_}};
  b.top_guid = top_;
  WriteWholeFile(Hdd("DiskDescriptor.xml"), BuildDescriptor(b));
  EXPECT_EQ(ReadAll(Hdd()), want);
  // --no-backing: the top snapshot's own clusters over zeros.
  OpenOptions top_only;
  top_only.follow_backing = false;
  EXPECT_EQ(ReadAll(Hdd(), top_only), MakeTop("top.hds", size, 40, ""));
  // The CLI: info lists the snapshots and marks the current one; convert
  // and map read the current state.
  std::string out;
  ASSERT_TRUE(Sh(dir_.path(), ImgfsBinary() + " info --json disk.hdd", &out));
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["format"], "parallels");
  EXPECT_EQ(j["virtual-size"], size);
  const auto& shots = j["format-specific"]["data"]["snapshots"];
  ASSERT_EQ(shots.size(), 3u);
  EXPECT_EQ(shots[2]["guid"], top_);
  EXPECT_EQ(shots[2]["current"], true);
  EXPECT_EQ(shots[1]["in-current-chain"], false);
  ASSERT_EQ(j["snapshots"].size(), 3u) << out;
  EXPECT_EQ(j["snapshots"][1]["name"], "side.hds") << out;
  ASSERT_TRUE(Sh(dir_.path(), ImgfsBinary() + " info disk.hdd", &out));
  EXPECT_NE(out.find(top_), std::string::npos) << out;
  ASSERT_TRUE(Sh(dir_.path(), ImgfsBinary() + " convert -O raw disk.hdd d.raw && " + ImgfsBinary() +
                                  " check disk.hdd && " + ImgfsBinary() + " map disk.hdd"));
  EXPECT_EQ(ReadWholeFile(dir_.Join("d.raw")), want);
}

TEST_F(ParallelsBundle, SplitStoragesPlainAndExpanding) {
  // Storage 0: a plain 3 MiB file; storage 1: a qemu-made expanding image
  // of 5 MiB; over both, a top snapshot per storage.
  ASSERT_TRUE(Sh(Hdd(),
                 "qemu-img create -q -f raw p0.hds 3M && qemu-io -f raw -c 'write -P "
                 "0x71 0 3M' p0.hds"));
  const std::string s0 = ReadWholeFile(Hdd("p0.hds"));
  const std::string s1 = MakeRoot("p1.hds", 5 * kMiB, 0x50);
  const std::string t0 = MakeTop("t0.hds", 3 * kMiB, 60, s0);
  const std::string t1 = MakeTop("t1.hds", 5 * kMiB, 70, s1);
  BundleSpec b;
  b.disk_sectors = 8 * kMiB / 512;
  // Listed out of order: storages are sorted by their start.
  b.storages.push_back({3 * kMiB / 512,
                        8 * kMiB / 512,
                        2048,
                        {{root_, "Compressed", "p1.hds"}, {top_, "Compressed", "t1.hds"}}});
  b.storages.push_back(
      {0, 3 * kMiB / 512, 2048, {{root_, "Plain", "p0.hds"}, {top_, "Compressed", "t0.hds"}}});
  b.shots = {{root_, kRootParent}, {top_, root_}};
  b.top_guid = top_;
  WriteWholeFile(Hdd("DiskDescriptor.xml"), BuildDescriptor(b));
  EXPECT_EQ(ReadAll(Hdd()), t0 + t1);
  // The root snapshot alone, through the predefined top GUID's absence:
  // a descriptor whose top is the root.
  b.top_guid = root_;
  WriteWholeFile(Hdd("DiskDescriptor.xml"), BuildDescriptor(b));
  EXPECT_EQ(ReadAll(Hdd()), s0 + s1);
}

TEST_F(ParallelsBundle, PvmDirectoryOpensItsHdd) {
  const std::string root = MakeRoot("root.hds", 2 * kMiB, 0x20);
  BundleSpec b;
  b.disk_sectors = 2 * kMiB / 512;
  b.storages.push_back({0, b.disk_sectors, 2048, {{root_, "Compressed", "root.hds"}}});
  b.shots = {{root_, kRootParent}};
  b.top_guid = root_;
  WriteWholeFile(Hdd("DiskDescriptor.xml"), BuildDescriptor(b));
  std::filesystem::create_directory(dir_.Join("vm.pvm"));
  std::filesystem::rename(Hdd(), dir_.Join("vm.pvm/disk.hdd"));
  EXPECT_EQ(ReadAll(dir_.Join("vm.pvm")), root);
  EXPECT_EQ(ReadAll(dir_.Join("vm.pvm/disk.hdd")), root);
}

// ---- Bad input ----

TEST(ParallelsBadInput, DamagedImagesFailWithOneLine) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f parallels -o cluster_size=64k good.hds 3M && "
                 "qemu-io -f parallels -c 'write -P 0x5a 1M 4k' good.hds"));
  const std::string good = ReadWholeFile(dir.Join("good.hds"));
  auto variant = [&](const std::string& name, std::string bytes) {
    WriteWholeFile(dir.Join(name), bytes);
    ExpectOneLineFailure(dir, "info " + name);
    ExpectOneLineFailure(dir, "convert -O raw " + name + " " + name + ".raw");
    Cache cache(1 << 20);
    EXPECT_FALSE(OpenImage(dir.Join(name), {}, &cache).ok()) << name;
  };
  auto patched = [&](size_t at, uint64_t v, size_t width = 4) {
    std::string b = good;
    std::memcpy(b.data() + at, &v, width);
    return b;
  };
  variant("cut-header.hds", good.substr(0, 40));
  variant("cut-bat.hds", good.substr(0, 100));  // 48 entries need 0x100
  variant("absurd-bat.hds", patched(0x20, 0xffffffff));
  variant("absurd-cluster.hds", patched(0x1c, 0x7fffffff));
  variant("zero-cluster.hds", patched(0x1c, 0));
  variant("absurd-size.hds", patched(0x24, uint64_t{1} << 61, 8));
  variant("bad-version.hds", patched(0x10, 3));
  variant("bad-in-use.hds", patched(0x2c, 0x1234));
  variant("ext-past-eof.hds", patched(0x38, 0x100000, 8));
  // A BAT entry past the end of the file opens, but its reads fail with
  // the entry and offset named.
  WriteWholeFile(dir.Join("far.hds"), patched(0x40 + 4 * 16, 12345));
  const std::string err = ExpectOneLineFailure(dir, "convert -O raw far.hds far.raw");
  EXPECT_NE(err.find("BAT entry 16 at 0x80 points to 0x30390000, past end of file"),
            std::string::npos)
      << err;
  std::string out;
  EXPECT_NE(RunIn(dir.path(), ImgfsBinary() + " check far.hds", &out), 0) << out;
}

TEST(ParallelsBadInput, BrokenBundlesFailWithOneLine) {
  TempDir dir;
  HdsSpec s;
  s.cluster_sectors = 8;
  s.disk_sectors = 64;
  s.clusters[1] = Pattern(4096, 1);
  const std::string a = SeededGuid(1);
  const std::string t = SeededGuid(2);
  BundleSpec good;
  good.disk_sectors = 64;
  good.storages.push_back({0, 64, 8, {{a, "Compressed", "a.hds"}, {t, "Compressed", "t.hds"}}});
  good.shots = {{a, kRootParent}, {t, a}};
  good.top_guid = t;
  auto bundle = [&](const std::string& name, const std::string& xml) {
    std::filesystem::create_directories(dir.Join(name));
    WriteWholeFile(dir.Join(name + "/a.hds"), BuildHds(s));
    WriteWholeFile(dir.Join(name + "/t.hds"), BuildHds(s));
    WriteWholeFile(dir.Join(name + "/DiskDescriptor.xml"), xml);
    return ExpectOneLineFailure(dir, "info " + name);
  };
  Cache cache(1 << 20);
  const std::string xml = BuildDescriptor(good);
  bundle("ok.hdd", "");  // an empty descriptor: no root element
  bundle("malformed.hdd", xml.substr(0, xml.size() - 30));
  BundleSpec b = good;
  b.storages.push_back({60, 64, 8, {{a, "Compressed", "a.hds"}, {t, "Compressed", "t.hds"}}});
  EXPECT_NE(bundle("overlap.hdd", BuildDescriptor(b)).find("storages overlap"), std::string::npos);
  b = good;
  b.disk_sectors = 128;
  b.storages.push_back({70, 128, 8, {{a, "Compressed", "a.hds"}, {t, "Compressed", "t.hds"}}});
  EXPECT_NE(bundle("gap.hdd", BuildDescriptor(b)).find("storages leave a gap at sector 64"),
            std::string::npos);
  b = good;
  b.shots[0].second = t;
  EXPECT_NE(bundle("cycle.hdd", BuildDescriptor(b)).find("loop"), std::string::npos);
  b = good;
  b.storages[0].images[0].file = "missing.hds";
  bundle("missing.hdd", BuildDescriptor(b));
  // A layer that is not a parallels image.
  b = good;
  std::filesystem::create_directories(dir.Join("notimg.hdd"));
  b.storages[0].images[0].file = "DiskDescriptor.xml";
  bundle("notimg.hdd", BuildDescriptor(b));
  // A file outside the bundle: read without --confine-backing, refused with it.
  WriteWholeFile(dir.Join("outside.hds"), BuildHds(s));
  b = good;
  b.storages[0].images[0].file = "../outside.hds";
  std::filesystem::create_directories(dir.Join("escape.hdd"));
  WriteWholeFile(dir.Join("escape.hdd/t.hds"), BuildHds(s));
  WriteWholeFile(dir.Join("escape.hdd/DiskDescriptor.xml"), BuildDescriptor(b));
  EXPECT_OK(OpenImage(dir.Join("escape.hdd"), {}, &cache));
  OpenOptions confined;
  confined.confine_backing = true;
  auto r = OpenImage(dir.Join("escape.hdd"), confined, &cache);
  EXPECT_CODE(r, kPermission);
  EXPECT_NE(r.status().message().find("lies outside the bundle"), std::string::npos)
      << r.status().message();
  b.storages[0].images[0].file = "/etc/passwd";
  WriteWholeFile(dir.Join("escape.hdd/DiskDescriptor.xml"), BuildDescriptor(b));
  EXPECT_CODE(OpenImage(dir.Join("escape.hdd"), confined, &cache), kPermission);
}

}  // namespace
}  // namespace imgfs
