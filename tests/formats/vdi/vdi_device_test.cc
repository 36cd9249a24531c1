// SPDX-License-Identifier: MIT
// The VDI device over in-memory images made by the test builder: bytes,
// extents, the header layouts, check, and damaged maps and I/O errors.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "core/io/file.h"
#include "formats/open.h"
#include "tests/formats/vdi/test_vdi_builder.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::vdi {
namespace {

using testing::BuildVdi;
using testing::ExpectedDisk;
using testing::Pattern;
using testing::VdiSpec;

Result<std::unique_ptr<BlockDevice>> OpenVdi(const std::string& bytes, Cache* cache,
                                             OpenOptions options = {}) {
  return OpenImageFile(NewMemoryFile("t.vdi", bytes), options, cache);
}

// Four kinds of block: stored (out of order, with an extra area), free,
// discarded, and a short last block.
VdiSpec Mixed() {
  VdiSpec s;
  s.block_bytes = 4096;
  s.block_extra_bytes = 512;
  s.disk_bytes = 9 * 4096 + 1536;
  s.blocks[0] = Pattern(4096, 1);
  s.blocks[1] = Pattern(4096, 2);
  s.blocks[4] = Pattern(1000, 3);
  s.blocks[9] = Pattern(1536, 4);
  s.zero_blocks = {2, 7};
  s.reverse_storage = true;
  return s;
}

TEST(VdiDevice, ReadsStoredFreeAndDiscardedBlocks) {
  Cache cache(1 << 20);
  const VdiSpec s = Mixed();
  auto dev = OpenVdi(BuildVdi(s), &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Size(), s.disk_bytes);
  EXPECT_TRUE(imgfs::testing::DeviceMatches(**dev, ExpectedDisk(s)));
}

TEST(VdiDevice, ExtentsShowDataWithHostOffsetsAndZeros) {
  Cache cache(1 << 20);
  VdiSpec s = Mixed();
  s.reverse_storage = false;
  auto dev = OpenVdi(BuildVdi(s), &cache);
  ASSERT_OK(dev);
  std::vector<Extent> ext;
  ASSERT_OK(CollectExtents(**dev, 0, (*dev)->Size(), &ext));
  // Blocks 0-1 are stored next to each other but the 512-byte extra area
  // lies between them: two data extents.
  ASSERT_GE(ext.size(), 6u);
  EXPECT_EQ(ext[0].kind, ExtentKind::kData);
  EXPECT_EQ(ext[0].length, 4096u);
  EXPECT_EQ(ext[0].host_offset, 0x400u + 512);
  EXPECT_EQ(ext[1].kind, ExtentKind::kData);
  EXPECT_EQ(ext[1].host_offset, 0x400u + 4608 + 512);
  // Blocks 2 (discarded) and 3 (free, a base image: zeros) merge.
  EXPECT_EQ(ext[2].kind, ExtentKind::kZero);
  EXPECT_EQ(ext[2].offset, 2u * 4096);
  EXPECT_EQ(ext[2].length, 2u * 4096);
  EXPECT_EQ(ext[3].kind, ExtentKind::kData);
  EXPECT_EQ(ext[3].offset, 4u * 4096);
  EXPECT_EQ(ext.back().kind, ExtentKind::kData);
  EXPECT_EQ(ext.back().offset + ext.back().length, s.disk_bytes);
}

TEST(VdiDevice, BlocksWithoutExtraAreaJoinIntoOneHostRun) {
  Cache cache(1 << 20);
  VdiSpec s;
  s.block_bytes = 512;
  s.disk_bytes = 64 * 512;
  for (uint32_t b = 0; b < 64; ++b) {
    s.blocks[b] = Pattern(512, b);
  }
  auto dev = OpenVdi(BuildVdi(s), &cache);
  ASSERT_OK(dev);
  std::vector<Extent> ext;
  ASSERT_OK(CollectExtents(**dev, 0, (*dev)->Size(), &ext));
  ASSERT_EQ(ext.size(), 1u);
  EXPECT_EQ(ext[0].length, 64u * 512);
  EXPECT_TRUE(imgfs::testing::DeviceMatches(**dev, ExpectedDisk(s)));
}

TEST(VdiDevice, StaticImageReadsEveryBlock) {
  Cache cache(1 << 20);
  VdiSpec s;
  s.type = 2;
  s.block_bytes = 8192;
  s.disk_bytes = 5 * 8192 - 512;
  s.blocks[3] = Pattern(8192, 7);
  auto dev = OpenVdi(BuildVdi(s), &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(imgfs::testing::DeviceMatches(**dev, ExpectedDisk(s)));
  std::vector<Extent> ext;
  ASSERT_OK(CollectExtents(**dev, 0, (*dev)->Size(), &ext));
  ASSERT_EQ(ext.size(), 1u);
  EXPECT_EQ(ext[0].kind, ExtentKind::kData);
  EXPECT_EQ((*dev)->Describe().format_specific["data"]["image-type"], "static");
}

TEST(VdiDevice, OlderHeaderLayoutsRead) {
  for (uint32_t version : {0x00010000u, 0x00000002u}) {
    Cache cache(1 << 20);
    VdiSpec s = Mixed();
    s.version = version;
    s.header_bytes = 0x180;
    if (version == 0x00000002u) {
      s.block_extra_bytes = 0;  // v0 has none
    }
    auto dev = OpenVdi(BuildVdi(s), &cache);
    ASSERT_OK(dev);
    EXPECT_TRUE(imgfs::testing::DeviceMatches(**dev, ExpectedDisk(s))) << std::hex << version;
  }
}

TEST(VdiDevice, LargeReadsSplitOnThePoolMatch) {
  ThreadPool pool(2);
  Cache cache(1 << 20);
  VdiSpec s;
  s.block_bytes = 65536;
  s.disk_bytes = 40 * 65536;
  for (uint32_t b = 0; b < 40; b += 3) {
    s.blocks[b] = Pattern(65536, b);
  }
  s.zero_blocks = {1, 20};
  s.reverse_storage = true;
  OpenOptions options;
  options.pool = &pool;
  auto dev = OpenVdi(BuildVdi(s), &cache, options);
  ASSERT_OK(dev);
  std::string all(s.disk_bytes, '\0');
  ASSERT_OK((*dev)->Read(0, std::as_writable_bytes(std::span(all.data(), all.size()))));
  EXPECT_EQ(all, ExpectedDisk(s));
}

TEST(VdiDevice, InfoNamesTypeUuidsAndBlockSize) {
  Cache cache(1 << 20);
  auto dev = OpenVdi(BuildVdi(Mixed()), &cache);
  ASSERT_OK(dev);
  ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.format, "vdi");
  EXPECT_EQ(info.cluster_size, 4096u);
  EXPECT_EQ(info.virtual_size, Mixed().disk_bytes);
  EXPECT_EQ(info.format_specific["type"], "vdi");
  EXPECT_EQ(info.format_specific["data"]["image-type"], "dynamic");
  EXPECT_EQ(info.format_specific["data"]["version"], "1.1");
  EXPECT_EQ(info.format_specific["data"]["block-extra"], 512);
  EXPECT_FALSE(info.format_specific["data"].contains("parent-uuid"));
}

TEST(VdiDevice, DiffWithoutBackingReadsOnlyItsOwnBlocks) {
  Cache cache(1 << 20);
  VdiSpec s = Mixed();
  s.type = 4;
  s.parent_uuid = testing::SeededUuid(50);
  // In memory there is no directory to look for the parent in.
  EXPECT_CODE(OpenVdi(BuildVdi(s), &cache), kUnsupported);
  OpenOptions options;
  options.follow_backing = false;
  auto dev = OpenVdi(BuildVdi(s), &cache, options);
  ASSERT_OK(dev);
  EXPECT_TRUE(imgfs::testing::DeviceMatches(**dev, ExpectedDisk(s)));
  std::vector<Extent> ext;
  ASSERT_OK(CollectExtents(**dev, 3 * 4096, 4096, &ext));
  ASSERT_EQ(ext.size(), 1u);
  EXPECT_EQ(ext[0].kind, ExtentKind::kUnallocated);  // free in a diff: the parent's
  ImageInfo info = (*dev)->Describe();
  EXPECT_TRUE(info.format_specific["data"].contains("parent-uuid"));
  ASSERT_FALSE(info.notes.empty());
  EXPECT_NE(info.notes[0].find("--no-backing"), std::string::npos);
}

TEST(VdiDevice, StoredBlockPastEndOfFileFailsOnlyItsReads) {
  Cache cache(1 << 20);
  VdiSpec s = Mixed();
  s.reverse_storage = false;
  std::string bytes = BuildVdi(s);
  // Point block 4 at stored block 1000.
  const uint32_t far = 1000;
  bytes.replace(0x200 + 4 * 4, 4, reinterpret_cast<const char*>(&far), 4);
  auto dev = OpenVdi(bytes, &cache);
  ASSERT_OK(dev);
  std::string buf(4096, '\0');
  auto span = std::as_writable_bytes(std::span(buf.data(), buf.size()));
  EXPECT_CODE((*dev)->Read(4 * 4096, span), kCorrupt);
  EXPECT_OK((*dev)->Read(0, span));
  std::vector<Extent> ext;
  EXPECT_CODE((*dev)->Extents(4 * 4096, 4096, &ext), kCorrupt);
}

TEST(VdiDevice, MapReadErrorFailsTheRead) {
  Cache cache(1 << 20);
  // Read 0 is the header, 1 the file size probe... fail every read after
  // the open by failing a late call.
  const std::string bytes = BuildVdi(Mixed());
  auto plain = OpenVdi(bytes, &cache);
  ASSERT_OK(plain);
  bool failed = false;
  for (int call = 0; call < 8 && !failed; ++call) {
    Cache c(1 << 20);
    auto dev = OpenImageFile(
        NewFaultFile(NewMemoryFile("t.vdi", bytes), {.fail_read_at_call = call}), {}, &c);
    if (!dev.ok()) {
      EXPECT_CODE(dev, kIOError);
      continue;
    }
    std::string all(Mixed().disk_bytes, '\0');
    Status st = (*dev)->Read(0, std::as_writable_bytes(std::span(all.data(), all.size())));
    if (!st.ok()) {
      EXPECT_EQ(st.code(), StatusCode::kIOError) << st.ToString();
      failed = true;
    }
  }
  EXPECT_TRUE(failed);
}

TEST(VdiDevice, CheckIsCleanForAGoodImage) {
  Cache cache(1 << 20);
  auto dev = OpenVdi(BuildVdi(Mixed()), &cache);
  ASSERT_OK(dev);
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean()) << (report->errors.empty() ? "" : report->errors[0]);
}

TEST(VdiDevice, CheckFindsBadMapEntries) {
  Cache cache(1 << 20);
  VdiSpec s = Mixed();
  s.reverse_storage = false;
  std::string bytes = BuildVdi(s);
  auto set_entry = [&](uint32_t block, uint32_t v) {
    bytes.replace(0x200 + 4 * block, 4, reinterpret_cast<const char*>(&v), 4);
  };
  set_entry(3, 0);  // stored block 0 used twice (blocks 0 and 3)
  set_entry(5, 4);  // beyond the 4 allocated
  auto dev = OpenVdi(bytes, &cache);
  ASSERT_OK(dev);
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  std::string all;
  for (const std::string& e : report->errors) {
    all += e + "\n";
  }
  EXPECT_NE(all.find("used twice"), std::string::npos) << all;
  EXPECT_NE(all.find("beyond the 4 allocated"), std::string::npos) << all;
  EXPECT_NE(all.find("header says 4 blocks are allocated, the block map stores 6"),
            std::string::npos)
      << all;
}

// Writes the seed corpus of vdi_fuzzer into $IMGFS_FUZZ_CORPUS_DIR/vdi/:
// small images, one per feature (qemu-img makes only 1 MiB blocks, too big
// for seeds). Run by hand:
//   IMGFS_FUZZ_CORPUS_DIR=tests/fuzz/corpus build/tests/formats/vdi_device_test
//     --gtest_also_run_disabled_tests --gtest_filter='*WriteFuzzSeeds*'
TEST(VdiSeeds, DISABLED_WriteFuzzSeeds) {
  const char* dir = std::getenv("IMGFS_FUZZ_CORPUS_DIR");
  if (dir == nullptr) {
    GTEST_SKIP() << "IMGFS_FUZZ_CORPUS_DIR not set";
  }
  const std::string sub = std::string(dir) + "/vdi";
  ASSERT_EQ(imgfs::testing::RunIn(".", "mkdir -p " + sub), 0);
  auto small = [] {
    VdiSpec s;
    s.block_bytes = 512;
    s.disk_bytes = 8 * 512;
    s.blocks[0] = Pattern(512, 1);
    s.blocks[1] = Pattern(300, 2);
    s.blocks[5] = Pattern(512, 3);
    s.zero_blocks = {3};
    return s;
  };
  std::vector<std::pair<std::string, VdiSpec>> seeds;
  seeds.emplace_back("dynamic-b512", small());
  VdiSpec s = small();
  s.reverse_storage = true;
  s.block_extra_bytes = 512;
  seeds.emplace_back("extra-reversed-b512", s);
  s = small();
  s.type = 2;
  seeds.emplace_back("static-b512", s);
  s = small();
  s.type = 4;
  s.parent_uuid = testing::SeededUuid(7);
  s.parent_modification_uuid = testing::SeededUuid(8);
  seeds.emplace_back("diff-b512", s);
  s = small();
  s.version = 0x00010000;
  s.header_bytes = 0x180;
  seeds.emplace_back("v10-b512", s);
  s = small();
  s.version = 0x00000002;
  seeds.emplace_back("v0-b512", s);
  s = small();
  s.block_bytes = 4096;
  s.disk_bytes = 3 * 4096 - 1000;  // odd size
  seeds.emplace_back("oddsize-b4k", s);
  s = VdiSpec{};
  s.disk_bytes = 0;
  seeds.emplace_back("empty", s);
  for (const auto& [name, spec] : seeds) {
    imgfs::testing::WriteWholeFile(sub + "/" + name + ".vdi", BuildVdi(spec));
  }
}

}  // namespace
}  // namespace imgfs::vdi
