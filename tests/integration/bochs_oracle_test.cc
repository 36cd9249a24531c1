// SPDX-License-Identifier: MIT
// Bochs growing images against independent readers. bximage (Debian's
// Bochs image tool) makes them at test time: empty ones (-func=create) and
// ones holding a raw file (-func=convert, which stores only non-zero
// sectors), each read back by `qemu-img convert -O raw` and compared byte
// for byte with imgfs, through the library and the CLI (info, check, map,
// convert -O raw and -O dmg). Version 1 headers and partly written extents
// come from the test builder; qemu-img reads those too. Then damaged and
// hostile images: one-line errors, non-zero exit.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "formats/open.h"
#include "tests/formats/bochs/test_bochs_builder.h"
#include "tests/testing/oracles.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using bochs::testing::BochsSpec;
using bochs::testing::BuildBochs;
using bochs::testing::ExpectedDisk;
using bochs::testing::Pattern;
using bochs::testing::PutLE32;
using testing::DeviceMatches;
using testing::ImgfsBinary;
using testing::QemuImgRaw;
using testing::ReadWholeFile;
using testing::RunIn;
using testing::Sh;
using testing::TempDir;
using testing::WriteWholeFile;

constexpr uint64_t kMiB = 1 << 20;

// A raw disk of `mib` MiB: random, zero, text and single-sector pieces.
std::string RawDisk(uint64_t mib) {
  std::string raw(mib * kMiB, '\0');
  const std::string noise = Pattern(700000, 5);
  raw.replace(0, noise.size(), noise);
  for (uint64_t at = 2 * kMiB; at + 512 < raw.size(); at += 3 * 4096 + 512) {
    raw.replace(at, 300, Pattern(300, static_cast<uint32_t>(at)));
  }
  raw.replace(raw.size() - 512, 512, std::string(512, 'z'));
  return raw;
}

void ExpectMatches(const TempDir& dir, const std::string& name, const std::string& want) {
  std::string ref;
  ASSERT_TRUE(QemuImgRaw(dir.Join(name), "bochs", &ref));
  EXPECT_EQ(ref.size(), want.size());
  EXPECT_TRUE(ref == want) << name << ": qemu-img disagrees with what was written";
  ThreadPool pool(2);
  Cache cache(1 << 20);
  OpenOptions options;
  options.pool = &pool;
  auto dev = OpenImage(dir.Join(name), options, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(DeviceMatches(**dev, ref)) << name;
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean());
  // The CLI: convert -O raw gives qemu-img's bytes too.
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " convert -O raw " + name + " cli.raw"));
  EXPECT_TRUE(ReadWholeFile(dir.Join("cli.raw")) == ref) << name;
}

class BochsBximage : public ::testing::TestWithParam<uint64_t> {};

// bximage picks the extent size from the disk size (8 KiB at 8 MiB, more
// for larger disks).
TEST_P(BochsBximage, ConvertedRawMatchesQemuImg) {
  IMGFS_REQUIRE_QEMU();
  IMGFS_REQUIRE_TOOL("bximage");
  TempDir dir;
  const std::string raw = RawDisk(GetParam());
  WriteWholeFile(dir.Join("in.raw"), raw);
  ASSERT_TRUE(
      Sh(dir.path(), "bximage -q -func=convert -imgmode=growing in.raw d.img >/dev/null 2>&1"));
  ExpectMatches(dir, "d.img", raw);
  // Holes: bximage stores no all-zero sector, so the map's data is where
  // the raw file has non-zero sectors.
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join("d.img"), {}, &cache);
  ASSERT_OK(dev);
  std::vector<Extent> ext;
  for (uint64_t at = 0; at < (*dev)->Size();) {
    const size_t first = ext.size();
    ASSERT_OK((*dev)->Extents(at, (*dev)->Size() - at, &ext));
    ASSERT_GT(ext.size(), first);
    at = ext.back().offset + ext.back().length;
  }
  for (const Extent& e : ext) {
    for (uint64_t s = e.offset; s < e.offset + e.length; s += 512) {
      const bool zero = raw.compare(s, 512, std::string(512, '\0')) == 0;
      ASSERT_EQ(e.kind == ExtentKind::kData, !zero) << "sector " << s / 512;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, BochsBximage, ::testing::Values(4, 8, 40, 70));

TEST(BochsOracle, EmptyBximageImageAndQemuInfo) {
  IMGFS_REQUIRE_QEMU();
  IMGFS_REQUIRE_TOOL("bximage");
  TempDir dir;
  ASSERT_TRUE(
      Sh(dir.path(), "bximage -q -func=create -hd=64M -imgmode=growing e.img >/dev/null 2>&1"));
  std::string ref;
  ASSERT_TRUE(QemuImgRaw(dir.Join("e.img"), "bochs", &ref));
  ExpectMatches(dir, "e.img", ref);
  EXPECT_EQ(ref, std::string(ref.size(), '\0'));
  std::string ours;
  std::string theirs;
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " info --json e.img", &ours));
  ASSERT_TRUE(Sh(dir.path(), "qemu-img info --output=json e.img", &theirs));
  auto a = nlohmann::json::parse(ours);
  auto b = nlohmann::json::parse(theirs);
  for (const char* key : {"format", "virtual-size", "filename"}) {
    EXPECT_EQ(a[key], b[key]) << key;
  }
  for (const auto& [key, value] : b.items()) {
    EXPECT_TRUE(a.contains(key)) << key;
  }
  std::string map;
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " map e.img", &map));
  EXPECT_EQ(map.find("e.img\n"), std::string::npos) << map;  // nothing stored
}

// Builder-made images: v1 and v2 headers, partly written extents over
// garbage, extents stored out of order, a size that is not whole sectors.
TEST(BochsOracle, BuilderImagesMatchQemuImg) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  for (uint32_t version : {0x00010000u, 0x00020000u}) {
    for (uint32_t extent : {512u, 4096u, 65536u}) {
      BochsSpec spec;
      spec.version = version;
      spec.extent_bytes = extent;
      spec.disk_bytes = 3 * kMiB + 1000;
      for (uint64_t s = 0; s < spec.disk_bytes / 512; s += 1 + s % 13) {
        spec.sectors[s] = Pattern(512, static_cast<uint32_t>(s));
      }
      spec.reverse_order = extent == 4096;
      const std::string name = "v" + std::to_string(version >> 16) + "-" + std::to_string(extent);
      WriteWholeFile(dir.Join(name), BuildBochs(spec));
      ExpectMatches(dir, name, ExpectedDisk(spec));
    }
  }
}

TEST(BochsOracle, ConvertToDmgReadsBackThroughQemuImg) {
  IMGFS_REQUIRE_QEMU();
  IMGFS_REQUIRE_TOOL("bximage");
  TempDir dir;
  const std::string raw = RawDisk(4);
  WriteWholeFile(dir.Join("in.raw"), raw);
  ASSERT_TRUE(
      Sh(dir.path(), "bximage -q -func=convert -imgmode=growing in.raw d.img >/dev/null 2>&1 && " +
                         ImgfsBinary() + " convert -O dmg d.img d.dmg"));
  std::string back;
  ASSERT_TRUE(QemuImgRaw(dir.Join("d.dmg"), "dmg", &back));
  EXPECT_TRUE(back == raw);
}

// Damaged images through the CLI: exit status non-zero, one line naming
// the problem, no crash or hang.
TEST(BochsBadInput, OneLineErrors) {
  TempDir dir;
  BochsSpec spec;
  spec.disk_bytes = 64 * 4096;
  spec.sectors[3] = "x";
  const std::string good = BuildBochs(spec);
  struct Case {
    const char* name;
    std::string bytes;
    const char* want;
  };
  auto with = [&](size_t at, uint32_t v) {
    std::string f = good;
    PutLE32(&f, at, v);
    return f;
  };
  std::vector<Case> cases = {
      {"truncated", good.substr(0, 200), "shorter than the 512-byte header"},
      {"catalog-past-eof", with(0x48, 1 << 24), "extends past end of file"},
      {"extent-absurd", with(0x50, 1u << 31), "over the 8 MiB cap"},
      {"extent-odd", with(0x50, 3000), "not a power of two"},
      {"catalog-absurd", with(0x48, 0xffffffff), "over the cap"},
      {"undoable", with(0x30, 0x6f646e55), "subtype 'Undo"},
      {"version", with(0x40, 0x00030000), "header version 0x30000"},
  };
  for (const Case& c : cases) {
    WriteWholeFile(dir.Join(c.name), c.bytes);
    std::string out;
    EXPECT_NE(RunIn(dir.path(), ImgfsBinary() + " info " + c.name + " 2>&1", &out), 0) << c.name;
    EXPECT_NE(out.find(c.want), std::string::npos) << c.name << ": " << out;
    EXPECT_EQ(out.find('\n'), out.size() - 1) << c.name << ": " << out;
  }
  // A stored extent past the end fails the reads that meet it, not the open.
  WriteWholeFile(dir.Join("far"), with(512 + 0, 0x00ffffff));
  std::string out;
  EXPECT_NE(RunIn(dir.path(), ImgfsBinary() + " convert -O raw far far.raw 2>&1", &out), 0);
  EXPECT_NE(out.find("extent 0"), std::string::npos) << out;
  EXPECT_NE(RunIn(dir.path(), ImgfsBinary() + " check far 2>&1", &out), 0);
}

}  // namespace
}  // namespace imgfs
