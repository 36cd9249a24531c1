// SPDX-License-Identifier: MIT
// Oracle tests for the vhdx driver. qemu-img makes images across its
// options (subformat, block_size, log_size, block_state_zero, odd sizes,
// chains with qcow2) and `qemu-img convert -O raw` gives the reference;
// vhdimount (libvhdi) reads them too. What qemu cannot read comes from the
// spec-written test builder: a log left to replay (qemu replays it only on
// a writable copy, which becomes the reference) and differencing images
// (7-Zip reads them with their parent). The Windows-made image of
// tests/data/vhdx-real/ must read as recorded.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "tests/formats/vhdx/test_vhdx_builder.h"
#include "tests/testing/oracles.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::QemuImgRaw;
using testing::ReadWholeFile;
using testing::Sh;
using testing::ShellQuote;
using testing::TempDir;
using testing::VhdxBuilder;
using testing::WriteWholeFile;

constexpr uint64_t kMiB = 1 << 20;

// Unaligned, cross-block and sparse writes, a zeroed range and the last byte.
std::string Patterns(uint64_t size) {
  return "-c 'write -P 0x11 1536 3000' -c 'write -P 0x5a 1M 64k' "
         "-c 'write -P 0x22 3000000 2500000' -c 'write -z 2M 8k' "
         "-c 'write -P 0x33 " +
         std::to_string(size - 5000) + " 5000'";
}

// Every extent says what the reference bytes show: a run reported zero or
// unallocated reads as zeros.
::testing::AssertionResult ExtentsAgreeWithBytes(const BlockDevice& dev,
                                                 const std::string& expected) {
  std::vector<Extent> ext;
  Status s = CollectExtents(dev, 0, dev.Size(), &ext);
  if (!s.ok()) {
    return ::testing::AssertionFailure() << s.ToString();
  }
  uint64_t at = 0;
  for (const Extent& e : ext) {
    if (e.offset != at) {
      return ::testing::AssertionFailure() << "gap at " << at;
    }
    if (e.kind != ExtentKind::kData &&
        expected.find_first_not_of('\0', e.offset) < e.offset + e.length) {
      return ::testing::AssertionFailure() << "extent at " << e.offset << " is not data";
    }
    at += e.length;
  }
  return at == dev.Size() ? ::testing::AssertionSuccess()
                          : ::testing::AssertionFailure() << "extents end at " << at;
}

// Opens `image` and compares it with qemu-img's raw output and extents.
void ExpectMatchesQemu(const TempDir& dir, const std::string& image, const char* format = "vhdx") {
  SCOPED_TRACE(image);
  std::string expected;
  ASSERT_TRUE(QemuImgRaw(dir.Join(image), format, &expected));
  Cache cache(16 << 20);
  auto dev = OpenImage(dir.Join(image), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Size(), expected.size());
  EXPECT_TRUE(testing::DeviceMatches(**dev, expected));
  EXPECT_TRUE(ExtentsAgreeWithBytes(**dev, expected));
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->errors.empty());
}

struct MatrixCase {
  const char* name;
  const char* options;
  uint64_t size;
};

class VhdxQemuMatrix : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(VhdxQemuMatrix, BytesMatchQemu) {
  IMGFS_REQUIRE_QEMU();
  const MatrixCase& c = GetParam();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), std::string("qemu-img create -q -f vhdx -o ") + c.options +
                                 " a.vhdx " + std::to_string(c.size)));
  ASSERT_TRUE(Sh(dir.path(), "qemu-io -f vhdx " + Patterns(c.size) + " a.vhdx"));
  ExpectMatchesQemu(dir, "a.vhdx");
}

INSTANTIATE_TEST_SUITE_P(
    Options, VhdxQemuMatrix,
    ::testing::Values(MatrixCase{"Dynamic1M", "block_size=1M", 8 * kMiB},
                      MatrixCase{"Dynamic8MOdd", "block_size=8M", 10 * kMiB + 3 * 512},
                      MatrixCase{"Dynamic32M", "block_size=32M", 40 * kMiB},
                      MatrixCase{"Dynamic256M", "block_size=256M", 300 * kMiB + 512},
                      MatrixCase{"DynamicAuto", "block_size=0", 7 * kMiB + 512},
                      MatrixCase{"ZeroStateOff", "block_state_zero=off,block_size=1M", 6 * kMiB},
                      MatrixCase{"LogSize4M", "log_size=4M", 9 * kMiB},
                      MatrixCase{"Fixed1M", "subformat=fixed,block_size=1M", 6 * kMiB},
                      MatrixCase{"Fixed2M", "subformat=fixed,block_size=2M,block_state_zero=off",
                                 6 * kMiB}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(VhdxOracle, ConvertedByQemuImg) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), "qemu-img create -q -f qcow2 src.qcow2 12M && qemu-io " +
                                 Patterns(12 * kMiB) + " src.qcow2"));
  for (const char* sub : {"dynamic", "fixed"}) {
    const std::string out = std::string(sub) + ".vhdx";
    ASSERT_TRUE(Sh(dir.path(), std::string("qemu-img convert -O vhdx -o subformat=") + sub +
                                   " src.qcow2 " + out));
    ExpectMatchesQemu(dir, out);
  }
}

TEST(VhdxOracle, VhdimountAgrees) {
  IMGFS_REQUIRE_QEMU();
  IMGFS_REQUIRE_TOOL("vhdimount");
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), "qemu-img create -q -f vhdx -o block_size=2M a.vhdx 9M && qemu-io " +
                                 Patterns(9 * kMiB) + " a.vhdx"));
  std::string expected;
  ASSERT_TRUE(testing::VhdimountRaw(dir.Join("a.vhdx"), &expected));
  Cache cache(16 << 20);
  auto dev = OpenImage(dir.Join("a.vhdx"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(testing::DeviceMatches(**dev, expected));
}

TEST(VhdxOracle, MixedChains) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  // A qcow2 overlay over a vhdx base, and a vhdx converted from the chain.
  ASSERT_TRUE(Sh(dir.path(), "qemu-img create -q -f vhdx base.vhdx 8M && qemu-io -f vhdx " +
                                 Patterns(8 * kMiB) + " base.vhdx"));
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 -b base.vhdx -F vhdx top.qcow2 && "
                 "qemu-io -c 'write -P 0x77 1000000 300000' -c 'write -z 0 4096' top.qcow2"));
  ExpectMatchesQemu(dir, "top.qcow2", "qcow2");
  Cache cache(16 << 20);
  auto dev = OpenImage(dir.Join("top.qcow2"), {}, &cache);
  ASSERT_OK(dev);
  ASSERT_NE((*dev)->backing(), nullptr);
  EXPECT_EQ((*dev)->backing()->Describe().format, "vhdx");
  ASSERT_TRUE(Sh(dir.path(), "qemu-img convert -O vhdx top.qcow2 flat.vhdx"));
  ExpectMatchesQemu(dir, "flat.vhdx");
}

// The builder's dirty image: qemu replays the log of a writable copy, and
// that copy is the reference; imgfs reads the original without writing it.
TEST(VhdxOracle, DirtyLogMatchesQemuReplay) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  VhdxBuilder b(6 * kMiB, 2 << 20);
  std::string data(2 * kMiB, '\0');
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>(i * 7 % 253 + 1);
  }
  b.WriteBlock(0, data);
  b.WriteBlock(2, data.substr(4096));
  const std::string dirty =
      b.BuildDirty({b.bat_offset(), b.metadata_offset() + 64 * 1024}, '\0', 1, 250, true);
  WriteWholeFile(dir.Join("dirty.vhdx"), dirty);
  WriteWholeFile(dir.Join("copy.vhdx"), dirty);
  std::string out;
  // qemu refuses it read-only, as the issue says.
  EXPECT_NE(testing::RunIn(dir.path(), "qemu-img convert -O raw dirty.vhdx x.raw", &out), 0);
  EXPECT_NE(out.find("log"), std::string::npos) << out;
  ASSERT_TRUE(Sh(dir.path(), "qemu-img check -q -r all copy.vhdx"));
  std::string expected;
  ASSERT_TRUE(QemuImgRaw(dir.Join("copy.vhdx"), "vhdx", &expected));
  Cache cache(16 << 20);
  auto dev = OpenImage(dir.Join("dirty.vhdx"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(testing::DeviceMatches(**dev, expected));
  EXPECT_TRUE((*dev)->Describe().dirty);
  EXPECT_EQ(ReadWholeFile(dir.Join("dirty.vhdx")), dirty);  // never written
}

// A differencing image (which qemu cannot open) against 7-Zip, which reads
// it with its parent.
TEST(VhdxOracle, DifferencingMatchesSevenZip) {
  IMGFS_REQUIRE_TOOL("7zz");
  TempDir dir;
  VhdxBuilder parent(5 * kMiB);
  parent.SetDataWriteGuidSeed(3);
  std::string bytes(kMiB, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>(i * 13 % 251 + 1);
  }
  for (uint64_t blk : {0, 1, 2, 4}) {
    parent.WriteBlock(blk, bytes.substr(blk * 100));
  }
  WriteWholeFile(dir.Join("base.vhdx"), parent.Build());
  VhdxBuilder child(5 * kMiB);
  child.SetDataWriteGuidSeed(4);
  child.SetParent({{"parent_linkage", parent.DataWriteGuidText()},
                   {"relative_path", ".\\base.vhdx"},
                   {"absolute_win32_path", "C:\\Hyper-V\\base.vhdx"}});
  std::vector<bool> present(kMiB / 512);
  for (size_t s = 0; s < present.size(); ++s) {
    present[s] = s % 5 == 1 || (s >= 1000 && s < 1500);
  }
  child.WritePartial(0, std::string(kMiB, 'c'), present);
  child.WriteBlock(1, std::string(kMiB, 'd'));
  child.SetState(2, 2);
  WriteWholeFile(dir.Join("child.avhdx"), child.Build());
  std::string expected;
  ASSERT_TRUE(Sh(dir.path(), "7zz x -so child.avhdx > ref.raw 2> err.txt"));
  expected = ReadWholeFile(dir.Join("ref.raw"));
  Cache cache(16 << 20);
  auto dev = OpenImage(dir.Join("child.avhdx"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(testing::DeviceMatches(**dev, expected));
  // qemu-img cannot open it at all.
  if (testing::HaveQemuTools()) {
    std::string out;
    EXPECT_NE(testing::RunIn(dir.path(), "qemu-img info child.avhdx", &out), 0);
  }
}

// The Windows-made image: the first block hashes as recorded, the rest of
// the 10 GiB disk is a hole, and qemu-img and 7-Zip agree on the block.
TEST(VhdxOracle, WindowsMadeImage) {
  TempDir dir;
  const std::string xz = std::string(IMGFS_TEST_DATA_DIR) + "/vhdx-real/discutils-swap.vhdx.xz";
  ASSERT_TRUE(Sh(dir.path(), "xz -dc " + ShellQuote(xz) + " > swap.vhdx"));
  Cache cache(16 << 20);
  auto dev = OpenImage(dir.Join("swap.vhdx"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Size(), uint64_t{10} << 30);
  std::string first(32 * kMiB, '\0');
  ASSERT_OK((*dev)->Read(0, std::as_writable_bytes(std::span(first.data(), first.size()))));
  WriteWholeFile(dir.Join("first.raw"), first);
  std::string sum;
  ASSERT_TRUE(Sh(dir.path(), "sha256sum first.raw", &sum));
  EXPECT_EQ(sum.substr(0, 64), "91067887f0eff8ae09a0254030878b9472f6f8d5a02c52fb85ed01d57a984209");
  std::vector<Extent> ext;
  ASSERT_OK(CollectExtents(**dev, 0, (*dev)->Size(), &ext));
  // Block 0 is stored, the last block is in the zero state (as Windows
  // left it), every other block is not present.
  ASSERT_EQ(ext.size(), 3u);
  EXPECT_EQ(ext[0].kind, ExtentKind::kData);
  EXPECT_EQ(ext[0].length, 32 * kMiB);
  EXPECT_EQ(ext[1].kind, ExtentKind::kUnallocated);
  EXPECT_EQ(ext[2].kind, ExtentKind::kZero);
  EXPECT_EQ(ext[2].offset, (uint64_t{10} << 30) - 32 * kMiB);
  const ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.format_specific["data"]["creator"], "Microsoft Windows 10.0.14393.0");
  EXPECT_EQ(info.format_specific["data"]["physical-sector-size"], 4096);
  if (testing::HaveQemuTools()) {
    ASSERT_TRUE(Sh(dir.path(), "qemu-img dd -f vhdx -O raw if=swap.vhdx of=q.raw bs=1M count=32"));
    EXPECT_EQ(ReadWholeFile(dir.Join("q.raw")), first);
  } else if (testing::InCi()) {
    FAIL() << "qemu-img missing but CI=true";
  }
  IMGFS_REQUIRE_TOOL("7zz");
  ASSERT_TRUE(Sh(dir.path(), "7zz x -so swap.vhdx 2>/dev/null | head -c 33554432 > z.raw"));
  EXPECT_EQ(ReadWholeFile(dir.Join("z.raw")), first);
}

}  // namespace
}  // namespace imgfs
