// SPDX-License-Identifier: MIT
// The VHD device over images built in memory (test_vhd_builder.h): fixed,
// dynamic and differencing reads and extents, the footer copy, `check`,
// and broken images that must fail with one error (no crash, no hang).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "core/cache/cache.h"
#include "core/io/file.h"
#include "core/util/endian.h"
#include "formats/open.h"
#include "tests/formats/vpc/test_vhd_builder.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::vpc {
namespace {

using testing::BuildVhd;
using testing::VhdSpec;

// A disk with a pattern in some sectors and zeros elsewhere.
std::string Pattern(uint64_t bytes) {
  std::string s(bytes, '\0');
  for (uint64_t i = 0; i < bytes; ++i) {
    const uint64_t sector = i / 512;
    if (sector % 5 == 1 || sector % 7 == 0) {
      s[i] = static_cast<char>(1 + (i * 7 + sector) % 251);
    }
  }
  return s;
}

Result<std::unique_ptr<BlockDevice>> OpenBytes(Cache* cache, std::string bytes,
                                               bool follow_backing = true) {
  OpenOptions o;
  o.follow_backing = follow_backing;
  return OpenImageFile(NewMemoryFile("t.vhd", std::move(bytes)), o, cache);
}

std::string ReadAll(const BlockDevice& dev) {
  std::string out(dev.Size(), '\0');
  EXPECT_OK(dev.Read(0, std::as_writable_bytes(std::span(out))));
  return out;
}

VhdSpec Dynamic(uint64_t size = 1 << 20) {
  VhdSpec s;
  s.size_bytes = size;
  s.contents = Pattern(size);
  s.unique_id = testing::IdOf(1);
  return s;
}

TEST(VpcDevice, ReadsDynamicDisk) {
  Cache cache(1 << 20);
  VhdSpec spec = Dynamic();
  auto dev = OpenBytes(&cache, BuildVhd(spec));
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Size(), spec.size_bytes);
  EXPECT_TRUE(imgfs::testing::DeviceMatches(**dev, spec.contents));
  ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.format, "vpc");
  EXPECT_EQ(info.cluster_size, 65536u);
  EXPECT_EQ(info.format_specific["data"]["subformat"], "dynamic");
  EXPECT_EQ(info.format_specific["data"]["size-rule"], "current-size");
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean()) << testing::IdOf(0).size();
}

TEST(VpcDevice, UnallocatedBlocksReadAsStoredZeros) {
  Cache cache(1 << 20);
  VhdSpec spec = Dynamic();
  spec.contents.assign(spec.size_bytes, '\0');
  spec.contents.replace(200 * 1024, 3, "abc");
  auto dev = OpenBytes(&cache, BuildVhd(spec));
  ASSERT_OK(dev);
  std::vector<Extent> extents;
  ASSERT_OK(CollectExtents(**dev, 0, (*dev)->Size(), &extents));
  ASSERT_EQ(extents.size(), 3u);
  EXPECT_EQ(extents[0].kind, ExtentKind::kZero);
  EXPECT_EQ(extents[1].kind, ExtentKind::kData);
  EXPECT_EQ(extents[1].offset, 192u * 1024);
  EXPECT_EQ(extents[1].length, 64u * 1024);
  EXPECT_EQ(extents[2].kind, ExtentKind::kZero);
}

// QEMU reads every sector of an allocated block of a dynamic disk, whatever
// its bitmap says; so do we.
TEST(VpcDevice, DynamicDiskIgnoresTheBitmap) {
  Cache cache(1 << 20);
  VhdSpec spec = Dynamic(128 * 1024);
  spec.contents.assign(spec.size_bytes, '\0');
  spec.contents[0] = 'x';
  std::string image = BuildVhd(spec);
  const uint32_t entry = LoadBE32(reinterpret_cast<const std::byte*>(image.data()) + 1536);
  const uint64_t data = uint64_t{entry} * 512 + 512;
  image[data + 4096] = 'y';  // sector 8, clear in the bitmap
  auto dev = OpenBytes(&cache, image);
  ASSERT_OK(dev);
  std::string all = ReadAll(**dev);
  EXPECT_EQ(all[0], 'x');
  EXPECT_EQ(all[4096], 'y');
}

TEST(VpcDevice, ReadsFixedDisk) {
  Cache cache(1 << 20);
  VhdSpec spec = Dynamic(300 * 1024);
  spec.type = DiskType::kFixed;
  auto dev = OpenBytes(&cache, BuildVhd(spec));
  ASSERT_OK(dev);
  EXPECT_TRUE(imgfs::testing::DeviceMatches(**dev, spec.contents));
  EXPECT_EQ((*dev)->Describe().format_specific["data"]["subformat"], "fixed");
  EXPECT_FALSE((*dev)->Describe().cluster_size.has_value());
}

TEST(VpcDevice, FixedDiskIsProbedByItsTail) {
  Cache cache(1 << 20);
  VhdSpec spec = Dynamic(64 * 1024);
  spec.type = DiskType::kFixed;
  auto dev = OpenImageFile(NewMemoryFile("t.vhd", BuildVhd(spec)), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Describe().format, "vpc");
  EXPECT_EQ((*dev)->Size(), spec.size_bytes);
}

TEST(VpcDevice, DamagedTailFallsBackToTheCopyAndCheckSaysSo) {
  Cache cache(1 << 20);
  VhdSpec spec = Dynamic();
  std::string image = BuildVhd(spec);
  image[image.size() - 512] = 'X';  // the tail's cookie
  auto dev = OpenBytes(&cache, image);
  ASSERT_OK(dev);
  EXPECT_TRUE(imgfs::testing::DeviceMatches(**dev, spec.contents));
  ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.format_specific["data"]["footer"], "copy at offset 0");
  ASSERT_EQ(info.notes.size(), 1u);
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  ASSERT_EQ(report->errors.size(), 1u);
  EXPECT_NE(report->errors[0].find("copy at offset 0"), std::string::npos);
}

TEST(VpcDevice, BadTailChecksumPrefersAnIntactCopy) {
  Cache cache(1 << 20);
  std::string image = BuildVhd(Dynamic());
  image[image.size() - 512 + 100] = '\1';
  auto dev = OpenBytes(&cache, image);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Describe().format_specific["data"]["footer"], "copy at offset 0");
}

TEST(VpcDevice, DifferentCopyIsAWarning) {
  Cache cache(1 << 20);
  std::string image = BuildVhd(Dynamic());
  image[24] = '\1';  // the copy's timestamp (checksum now wrong too)
  auto dev = OpenBytes(&cache, image);
  ASSERT_OK(dev);
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->errors.empty());
  EXPECT_EQ(report->warnings.size(), 1u);
}

TEST(VpcDevice, DifferencingDiskWithoutParentReadsOwnSectors) {
  Cache cache(1 << 20);
  VhdSpec spec = Dynamic();
  spec.type = DiskType::kDifferencing;
  spec.parent_name = "base.vhd";
  spec.locators = {{"W2ru", ".\\base.vhd"}};
  spec.stored.assign(spec.size_bytes / 512, false);
  std::string expected(spec.size_bytes, '\0');
  for (uint64_t s = 3; s < 2000; s += 3) {
    spec.stored[s] = true;
    expected.replace(s * 512, 512, spec.contents, s * 512, 512);
  }
  std::string image = BuildVhd(spec);
  EXPECT_FALSE(OpenBytes(&cache, image).ok());  // in memory: no parent to open
  auto dev = OpenBytes(&cache, image, /*follow_backing=*/false);
  ASSERT_OK(dev);
  EXPECT_TRUE(imgfs::testing::DeviceMatches(**dev, expected));
  ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.backing_filename, "base.vhd");
  EXPECT_EQ(info.format_specific["data"]["parent-locators"][0]["platform"], "W2ru");
  EXPECT_EQ(info.format_specific["data"]["parent-locators"][0]["path"], ".\\base.vhd");
  std::vector<Extent> extents;
  ASSERT_OK(CollectExtents(**dev, 0, 8 * 512, &extents));
  ASSERT_EQ(extents.size(), 5u);
  EXPECT_EQ(extents[0].kind, ExtentKind::kUnallocated);
  EXPECT_EQ(extents[1].kind, ExtentKind::kData);
  EXPECT_EQ(extents[1].offset, 3u * 512);
  EXPECT_EQ(extents[1].length, 512u);
}

// A locator in a byte encoding (MacX, Wi2r) may hold anything; info's JSON
// must still be UTF-8 (found by the fuzzer: regress-locator-not-utf8).
TEST(VpcDevice, LocatorBytesThatAreNotUtf8AreShownSafely) {
  Cache cache(1 << 20);
  VhdSpec spec = Dynamic();
  spec.type = DiskType::kDifferencing;
  spec.locators = {{"MacX", "file:///a\xff\xfe.vhd"}};
  auto dev = OpenBytes(&cache, BuildVhd(spec), /*follow_backing=*/false);
  ASSERT_OK(dev);
  ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.format_specific["data"]["parent-locators"][0]["path"], "file:///a??.vhd");
  EXPECT_EQ(info.backing_filename, "/a??.vhd");
  EXPECT_NO_THROW((void)info.format_specific.dump());
}

// Broken images: each fails with one error status.
std::string Mutated(size_t at, const std::string& bytes, VhdSpec spec = Dynamic()) {
  std::string image = BuildVhd(spec);
  image.replace(at, bytes.size(), bytes);
  // Keep the tail footer as the head copy so the fallback cannot hide it.
  image.replace(image.size() - 512, 512, image.substr(0, 512));
  return image;
}

std::string Be32(uint32_t v) {
  std::string s(4, '\0');
  StoreBE32(reinterpret_cast<std::byte*>(s.data()), v);
  return s;
}

TEST(VpcBadInput, ShorterThanAFooterIsCorrupt) {
  Cache cache(1 << 20);
  OpenOptions o;
  o.format = "vpc";
  EXPECT_CODE(OpenImageFile(NewMemoryFile("t.vhd", std::string(100, 'c')), o, &cache), kCorrupt);
}

TEST(VpcBadInput, NoFooterAnywhereIsCorrupt) {
  Cache cache(1 << 20);
  std::string image = BuildVhd(Dynamic());
  image[0] = 'X';
  image[image.size() - 512] = 'X';
  OpenOptions o;
  o.format = "vpc";
  EXPECT_CODE(OpenImageFile(NewMemoryFile("t.vhd", image), o, &cache), kCorrupt);
}

TEST(VpcBadInput, TruncatedDynamicHeaderIsCorrupt) {
  Cache cache(1 << 20);
  std::string image = BuildVhd(Dynamic());
  image.resize(1000);
  EXPECT_CODE(OpenBytes(&cache, image), kCorrupt);
}

TEST(VpcBadInput, HeaderPastEndOfFileIsCorrupt) {
  Cache cache(1 << 20);
  std::string image = BuildVhd(Dynamic());
  // Rewrite data offset in both footers (checksums go wrong: still read).
  image.replace(16, 8, std::string("\0\0\0\0\x7f\0\0\0", 8));
  image.replace(image.size() - 512, 512, image.substr(0, 512));
  EXPECT_CODE(OpenBytes(&cache, image), kCorrupt);
}

TEST(VpcBadInput, BatPastEndOfFileIsCorrupt) {
  Cache cache(1 << 20);
  std::string image = BuildVhd(Dynamic());
  image.replace(512 + 16, 8, std::string("\0\0\0\x10\0\0\0\0", 8));
  EXPECT_CODE(OpenBytes(&cache, image), kCorrupt);
}

TEST(VpcBadInput, TooFewTableEntriesIsCorrupt) {
  Cache cache(1 << 20);
  std::string image = BuildVhd(Dynamic());
  image.replace(512 + 28, 4, Be32(3));
  EXPECT_CODE(OpenBytes(&cache, image), kCorrupt);
}

TEST(VpcBadInput, AbsurdBlockSizeIsCorrupt) {
  Cache cache(1 << 20);
  std::string image = BuildVhd(Dynamic());
  image.replace(512 + 32, 4, Be32(1000));
  EXPECT_CODE(OpenBytes(&cache, image), kCorrupt);
}

TEST(VpcBadInput, HugeSizeIsUnsupported) {
  Cache cache(1 << 20);
  EXPECT_CODE(OpenBytes(&cache, Mutated(48, std::string("\x7f\0\0\0\0\0\0\0", 8))), kUnsupported);
}

TEST(VpcBadInput, UnknownDiskTypeIsUnsupported) {
  Cache cache(1 << 20);
  EXPECT_CODE(OpenBytes(&cache, Mutated(60, Be32(5))), kUnsupported);
}

TEST(VpcBadInput, BlockPastEndOfFileFailsItsReadAndCheck) {
  Cache cache(1 << 20);
  VhdSpec spec = Dynamic();
  std::string image = BuildVhd(spec);
  image.replace(1536 + 4, 4, Be32(0x00100000));  // block 1 at 512 MiB
  auto dev = OpenBytes(&cache, image);
  ASSERT_OK(dev);
  std::string buf(4096, '\0');
  EXPECT_OK((*dev)->Read(0, std::as_writable_bytes(std::span(buf))));
  EXPECT_CODE((*dev)->Read(65536, std::as_writable_bytes(std::span(buf))), kCorrupt);
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  ASSERT_EQ(report->errors.size(), 1u);
  EXPECT_NE(report->errors[0].find("past the end"), std::string::npos);
}

TEST(VpcBadInput, OverlappingBlocksAreCheckErrors) {
  Cache cache(1 << 20);
  std::string image = BuildVhd(Dynamic());
  image.replace(1536 + 4, 4, image.substr(1536, 4));
  auto dev = OpenBytes(&cache, image);
  ASSERT_OK(dev);
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  ASSERT_EQ(report->errors.size(), 1u);
  EXPECT_NE(report->errors[0].find("overlap"), std::string::npos);
}

TEST(VpcBadInput, LocatorPastEndOfFileIsCorrupt) {
  Cache cache(1 << 20);
  VhdSpec spec = Dynamic();
  spec.type = DiskType::kDifferencing;
  spec.locators = {{"W2ru", "p.vhd"}};
  std::string image = BuildVhd(spec);
  image.replace(512 + 576 + 16, 8, std::string("\0\0\0\x10\0\0\0\0", 8));
  EXPECT_CODE(OpenBytes(&cache, image, false), kCorrupt);
}

TEST(VpcBadInput, HugeLocatorIsUnsupported) {
  Cache cache(1 << 20);
  VhdSpec spec = Dynamic();
  spec.type = DiskType::kDifferencing;
  spec.locators = {{"W2ru", "p.vhd"}};
  std::string image = BuildVhd(spec);
  image.replace(512 + 576 + 8, 4, Be32(0x7fffffff));
  EXPECT_CODE(OpenBytes(&cache, image, false), kUnsupported);
}

}  // namespace
}  // namespace imgfs::vpc

namespace imgfs::vpc {
namespace {

// Seeds for tests/fuzz/corpus/vpc/ that qemu-img cannot make (small blocks,
// differencing disks with every kind of locator). Run vpc_device_test with
// IMGFS_FUZZ_CORPUS_DIR=tests/fuzz/corpus and
// --gtest_also_run_disabled_tests --gtest_filter='*WriteFuzzSeeds*'
TEST(VpcSeeds, DISABLED_WriteFuzzSeeds) {
  const char* dir = std::getenv("IMGFS_FUZZ_CORPUS_DIR");
  if (dir == nullptr) {
    GTEST_SKIP() << "IMGFS_FUZZ_CORPUS_DIR not set";
  }
  const std::string sub = std::string(dir) + "/vpc";
  ASSERT_EQ(imgfs::testing::RunIn(".", "mkdir -p " + sub), 0);
  VhdSpec spec;
  spec.size_bytes = 64 * 1024;
  spec.block_bytes = 4096;
  spec.contents.assign(spec.size_bytes, '\0');
  spec.contents.replace(100, 5, "hello");
  spec.contents.replace(20000, 600, 600, 'x');
  spec.contents.replace(60000, 5, "world");
  spec.unique_id = testing::IdOf(7);
  imgfs::testing::WriteWholeFile(sub + "/builder-dynamic-b4k.vhd", BuildVhd(spec));
  spec.type = DiskType::kDifferencing;
  spec.parent_unique_id = testing::IdOf(8);
  spec.parent_name = "parent.vhd";
  spec.locators = {{"W2ru", ".\\parent.vhd"},
                   {"W2ku", "C:\\VMs\\parent.vhd"},
                   {"MacX", "file://localhost/VMs/parent.vhd"}};
  imgfs::testing::WriteWholeFile(sub + "/builder-differencing-b4k.vhd", BuildVhd(spec));
  VhdSpec fixed;
  fixed.type = DiskType::kFixed;
  fixed.size_bytes = 8192;
  fixed.creator_app = "vpc ";
  fixed.contents.assign(fixed.size_bytes, 'f');
  imgfs::testing::WriteWholeFile(sub + "/builder-fixed-vpc.vhd", BuildVhd(fixed));
}

}  // namespace
}  // namespace imgfs::vpc
