// SPDX-License-Identifier: MIT
// cloop images against independent readers. Debian's cloop-utils
// (create_compressed_fs, 3.14) writes V2.0 images with zlib blocks, header
// first; the test makes them across its options (block sizes -B, levels
// -L 0..9 and -1 (7-Zip's deflate), -b (best of all), memory mode -m,
// input from stdin with -s, the header stored apart with -S) and compares
// imgfs byte for byte with `qemu-img convert -O raw`, extract_compressed_fs
// and the input, through the library and the CLI (info against qemu-img
// info, check, map, convert -O raw and -O dmg). V4.0 images (per-block
// compressor flags, header last) come from the test builder and are read
// back with extract_compressed_fs where it can. Then damaged images.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "core/codec/codec.h"
#include "core/exec/thread_pool.h"
#include "formats/open.h"
#include "tests/formats/cloop/test_cloop_builder.h"
#include "tests/testing/oracles.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using cloop::testing::BuildCloop;
using cloop::testing::CloopSpec;
using cloop::testing::PaddedDisk;
using cloop::testing::PutBE32;
using cloop::testing::PutBE64;
using testing::DeviceMatches;
using testing::ImgfsBinary;
using testing::QemuImgRaw;
using testing::ReadWholeFile;
using testing::RunIn;
using testing::Sh;
using testing::TempDir;
using testing::WriteWholeFile;

std::string Noise(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed;
  for (char& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 16);
  }
  return s;
}

// Incompressible, zero and text parts, and a size that is not whole blocks.
std::string Input() {
  std::string s = Noise(400000, 1) + std::string(700000, '\0');
  for (int i = 0; s.size() < 2500000; ++i) {
    s += "line " + std::to_string(i) + " of a text\n";
  }
  return s + Noise(12345, 2);
}

std::string Extracted(const TempDir& dir, const std::string& name) {
  std::string out;
  EXPECT_TRUE(Sh(dir.path(), "extract_compressed_fs " + name + " x.raw >/dev/null 2>&1", &out))
      << out;
  return ReadWholeFile(dir.Join("x.raw"));
}

void ExpectMatches(const TempDir& dir, const std::string& name, const std::string& want,
                   bool qemu_reads) {
  std::string ref;
  if (qemu_reads) {
    ASSERT_TRUE(QemuImgRaw(dir.Join(name), "cloop", &ref));
    EXPECT_TRUE(ref == want) << name << ": qemu-img disagrees with the input";
  }
  ThreadPool pool(2);
  Cache cache(1 << 20);
  OpenOptions options;
  options.pool = &pool;
  auto dev = OpenImage(dir.Join(name), options, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(DeviceMatches(**dev, want)) << name;
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean());
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " convert -O raw " + name + " cli.raw"));
  EXPECT_TRUE(ReadWholeFile(dir.Join("cli.raw")) == want) << name;
}

struct ToolCase {
  const char* name;
  const char* options;
  size_t input_bytes = 0;  // 0: all of Input(); less keeps slow options quick
  // extract_compressed_fs 3.14 dies of SIGFPE on images of few blocks
  // (3 and 8 here; 11 and more work); qemu-img and the input are the
  // oracles there.
  bool extract = true;
};

class CloopCreateCompressedFs : public ::testing::TestWithParam<ToolCase> {};

TEST_P(CloopCreateCompressedFs, MatchesQemuImgAndExtract) {
  IMGFS_REQUIRE_QEMU();
  IMGFS_REQUIRE_TOOL("create_compressed_fs");
  IMGFS_REQUIRE_TOOL("extract_compressed_fs");
  const ToolCase c = GetParam();
  TempDir dir;
  const std::string input = c.input_bytes != 0 ? Input().substr(0, c.input_bytes) : Input();
  WriteWholeFile(dir.Join("in.raw"), input);
  const std::string opts = c.options;
  std::string cmd;
  if (opts == "stdin") {
    cmd = "cat in.raw | create_compressed_fs -q -s " + std::to_string(input.size()) + " - d.cloop";
  } else if (opts == "split-header") {
    cmd =
        "create_compressed_fs -q in.raw -S head.bin - >body.bin && cat head.bin body.bin >d.cloop";
  } else {
    cmd = "create_compressed_fs -q " + opts + " in.raw d.cloop";
  }
  ASSERT_TRUE(Sh(dir.path(), cmd + " 2>/dev/null >/dev/null || " + cmd));
  std::string ref;
  ASSERT_TRUE(QemuImgRaw(dir.Join("d.cloop"), "cloop", &ref));
  const std::string extracted = c.extract ? Extracted(dir, "d.cloop") : ref;
  ASSERT_GE(extracted.size(), input.size());
  EXPECT_TRUE(extracted.compare(0, input.size(), input) == 0);
  EXPECT_EQ(extracted.substr(input.size()), std::string(extracted.size() - input.size(), '\0'));
  ExpectMatches(dir, "d.cloop", extracted, true);
}

INSTANTIATE_TEST_SUITE_P(
    Options, CloopCreateCompressedFs,
    ::testing::Values(ToolCase{"Default", ""}, ToolCase{"Block512", "-B 512", 300000},
                      ToolCase{"Block4k", "-B 4096", 600000}, ToolCase{"Block128k", "-B 131072"},
                      ToolCase{"Block1M", "-B 1048576", 0, false}, ToolCase{"Level0", "-L 0"},
                      ToolCase{"Level1", "-L 1"}, ToolCase{"SevenZip", "-L -1 -B 16384", 500000},
                      ToolCase{"Best", "-b -B 16384", 500000}, ToolCase{"Memory", "-m"},
                      ToolCase{"ReuseOutput", "-r"}, ToolCase{"TempFile", "-f tmp.bin"},
                      ToolCase{"BestLevel", "-L -2 -B 16384", 500000}, ToolCase{"Threads1", "-t 1"},
                      ToolCase{"Stdin", "stdin"}, ToolCase{"SplitHeader", "split-header"}),
    [](const ::testing::TestParamInfo<ToolCase>& p) { return std::string(p.param.name); });

TEST(CloopOracle, InfoCheckAndMapThroughTheCli) {
  IMGFS_REQUIRE_QEMU();
  IMGFS_REQUIRE_TOOL("create_compressed_fs");
  TempDir dir;
  WriteWholeFile(dir.Join("in.raw"), Input());
  ASSERT_TRUE(Sh(dir.path(), "create_compressed_fs -q in.raw d.cloop >/dev/null 2>&1"));
  std::string ours;
  std::string theirs;
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " info --json d.cloop", &ours));
  ASSERT_TRUE(Sh(dir.path(), "qemu-img info --output=json d.cloop", &theirs));
  auto a = nlohmann::json::parse(ours);
  auto b = nlohmann::json::parse(theirs);
  for (const char* key : {"format", "virtual-size", "filename"}) {
    EXPECT_EQ(a[key], b[key]) << key;
  }
  for (const auto& [key, value] : b.items()) {
    EXPECT_TRUE(a.contains(key)) << key;
  }
  EXPECT_EQ(a["format-specific"]["data"]["version"], "2.0");
  std::string out;
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " check d.cloop", &out));
  EXPECT_NE(out.find("No errors"), std::string::npos) << out;
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " map d.cloop", &out));
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " convert -O dmg d.cloop d.dmg"));
  std::string back;
  std::string ref;
  ASSERT_TRUE(QemuImgRaw(dir.Join("d.dmg"), "dmg", &back));
  ASSERT_TRUE(QemuImgRaw(dir.Join("d.cloop"), "cloop", &ref));
  EXPECT_TRUE(back == ref);
}

// V4.0 and header-last images from the builder, which no Debian tool
// writes: the V2.0 header-first one is also read by qemu-img and
// extract_compressed_fs; the rest are checked against the builder's bytes.
TEST(CloopOracle, BuilderV4AndHeaderLastImages) {
  IMGFS_REQUIRE_QEMU();
  IMGFS_REQUIRE_TOOL("extract_compressed_fs");
  TempDir dir;
  struct Case {
    const char* name;
    int version;
    bool last;
    std::vector<uint8_t> flags;
    bool qemu;
  };
  std::vector<Case> cases = {{"v2", 2, false, {}, true},
                             {"v2-last", 2, true, {}, false},
                             {"v4-zlib", 4, false, {}, false},
                             {"v4-mixed", 4, false, {0, 1, 1, 0, 1, 0, 0, 1}, false},
                             {"v4-last", 4, true, {1, 0, 0, 1}, false}};
  if (codec::Available(codec::Codec::kXz)) {
    cases.push_back({"v4-xz", 4, false, {2, 0, 2, 1, 2, 2}, false});
  }
  for (const Case& c : cases) {
    CloopSpec spec;
    spec.version = c.version;
    spec.header_last = c.last;
    spec.block_bytes = 16384;
    spec.disk = Input().substr(0, 200000);
    spec.flags = c.flags;
    WriteWholeFile(dir.Join(c.name), BuildCloop(spec));
    ExpectMatches(dir, c.name, PaddedDisk(spec), c.qemu);
    if (std::string(c.name) == "v2") {
      EXPECT_TRUE(Extracted(dir, c.name) == PaddedDisk(spec));
    }
  }
}

TEST(CloopBadInput, OneLineErrors) {
  TempDir dir;
  CloopSpec spec;
  spec.block_bytes = 4096;
  spec.disk = Noise(5 * 4096, 3);
  const std::string good = BuildCloop(spec);
  auto with32 = [&](size_t at, uint32_t v) {
    std::string f = good;
    PutBE32(&f, at, v);
    return f;
  };
  auto with64 = [&](size_t at, uint64_t v) {
    std::string f = good;
    PutBE64(&f, at, v);
    return f;
  };
  struct Case {
    const char* name;
    std::string bytes;
    const char* want;
  };
  const std::vector<Case> cases = {
      {"truncated", good.substr(0, 100), "shorter than the 136-byte header"},
      {"index-past-eof", with32(132, 100000), "extends past end of file"},
      {"blocks-absurd", with32(132, 0xfffffff0), "over the cap"},
      {"block-size-absurd", with32(128, 0xfffffe00), "over the 64 MiB cap"},
      {"block-size-odd", with32(128, 1000), "not a positive multiple of 512"},
      {"decreasing", with64(136 + 3 * 8, 300), "must not decrease"},
      {"overlapping", with64(136, 140), "overlaps the header and index"},
      {"past-eof", with64(136 + 5 * 8, uint64_t{1} << 40), "leaves the data"},
  };
  for (const Case& c : cases) {
    WriteWholeFile(dir.Join(c.name), c.bytes);
    std::string out;
    EXPECT_NE(RunIn(dir.path(), ImgfsBinary() + " info -f cloop " + c.name + " 2>&1", &out), 0)
        << c.name;
    EXPECT_NE(out.find(c.want), std::string::npos) << c.name << ": " << out;
    EXPECT_EQ(out.find('\n'), out.size() - 1) << c.name << ": " << out;
  }
  // Blocks that decode to the wrong size fail the reads that meet them.
  CloopSpec half = spec;
  half.block_bytes = 2048;
  std::string wrong = BuildCloop(half);
  PutBE32(&wrong, 128, 4096);
  PutBE32(&wrong, 132, 5);
  WriteWholeFile(dir.Join("wrong-size"), wrong);
  std::string out;
  EXPECT_NE(RunIn(dir.path(), ImgfsBinary() + " convert -O raw wrong-size w.raw 2>&1", &out), 0);
  EXPECT_NE(out.find("cloop: zlib block 0"), std::string::npos) << out;
  EXPECT_NE(RunIn(dir.path(), ImgfsBinary() + " check wrong-size 2>&1", &out), 0) << out;
}

}  // namespace
}  // namespace imgfs
