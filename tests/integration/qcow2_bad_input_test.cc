// SPDX-License-Identifier: MIT
// Hostile and broken qcow2 images made from real ones: each must fail with
// an error status (no crash, no hang).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "core/util/endian.h"
#include "formats/open.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::ReadWholeFile;
using testing::Sh;
using testing::TempDir;
using testing::WriteWholeFile;

TEST(Qcow2BadInput, CyclicBackingChainIsRefused) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 a.qcow2 1M && "
                 "qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 b.qcow2 1M && "
                 "qemu-img rebase -u -b b.qcow2 -F qcow2 a.qcow2"));
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join("a.qcow2"), {}, &cache);
  EXPECT_CODE(dev, kInvalidArgument);
  EXPECT_NE(dev.status().message().find("loops"), std::string::npos) << dev.status().ToString();
}

TEST(Qcow2BadInput, ChainDeeperThanLimitIsRefused) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  std::string cmd = "qemu-img create -q -f qcow2 l0.qcow2 1M";
  for (int i = 1; i < 6; ++i) {
    cmd += " && qemu-img create -q -f qcow2 -b l" + std::to_string(i - 1) + ".qcow2 -F qcow2 l" +
           std::to_string(i) + ".qcow2 1M";
  }
  ASSERT_TRUE(Sh(dir.path(), cmd));
  Cache cache(1 << 20);
  OpenOptions options;
  options.max_chain_depth = 4;
  EXPECT_CODE(OpenImage(dir.Join("l5.qcow2"), options, &cache), kInvalidArgument);
  options.max_chain_depth = 6;
  EXPECT_OK(OpenImage(dir.Join("l5.qcow2"), options, &cache));
}

TEST(Qcow2BadInput, MissingBackingFileIsNotFound) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 a.qcow2 1M && "
                 "qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 b.qcow2 1M && "
                 "rm a.qcow2"));
  Cache cache(1 << 20);
  EXPECT_FALSE(OpenImage(dir.Join("b.qcow2"), {}, &cache).ok());
  OpenOptions options;
  options.follow_backing = false;
  EXPECT_OK(OpenImage(dir.Join("b.qcow2"), options, &cache));
}

TEST(Qcow2BadInput, MissingDataFileFails) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 -o data_file=a.data a.qcow2 1M && "
                 "rm a.data"));
  Cache cache(1 << 20);
  EXPECT_FALSE(OpenImage(dir.Join("a.qcow2"), {}, &cache).ok());
}

TEST(Qcow2BadInput, GarbageCompressedStreamIsAnError) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 src.qcow2 1M && "
                 "qemu-io -c 'write -P 0x41 0 64k' src.qcow2 && "
                 "qemu-img convert -c -O qcow2 src.qcow2 c.qcow2"));
  std::string img = ReadWholeFile(dir.Join("c.qcow2"));
  // Find the compressed stream through L1[0] -> L2[0].
  uint64_t l1 = LoadBE64(reinterpret_cast<const std::byte*>(img.data()) + 40);
  uint64_t l2 = LoadBE64(reinterpret_cast<const std::byte*>(img.data()) + l1) & 0x00fffffffffffe00;
  uint64_t entry = LoadBE64(reinterpret_cast<const std::byte*>(img.data()) + l2);
  ASSERT_NE(entry & (1ull << 62), 0u);
  uint64_t stream = entry & ((1ull << 54) - 1);  // cluster_bits 16: x = 54
  for (size_t i = 0; i < 64 && stream + i < img.size(); ++i) {
    img[stream + i] = static_cast<char>(0xff - i);
  }
  WriteWholeFile(dir.Join("c.qcow2"), img);
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join("c.qcow2"), {}, &cache);
  ASSERT_OK(dev);
  std::vector<std::byte> buf(4096);
  EXPECT_CODE((*dev)->Read(0, buf), kCorrupt);
}

// Random byte flips in the metadata of real images (snapshots, compressed
// clusters, subclusters): every entry point returns, whatever it returns.
TEST(Qcow2BadInput, MutatedRealImagesNeverCrash) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 -o cluster_size=4096 s.qcow2 1M && "
                 "qemu-io -c 'write -P 1 0 300k' s.qcow2 && qemu-img snapshot -c one s.qcow2 && "
                 "qemu-io -c 'write -P 2 100k 8k' -c 'write -z 200k 4k' s.qcow2 && "
                 "qemu-img convert -c -O qcow2 -o cluster_size=4096 s.qcow2 c.qcow2 && "
                 "qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=16k e.qcow2 1M && "
                 "qemu-io -c 'write -P 3 1k 3k' e.qcow2"));
  std::mt19937_64 rng(77);
  SCOPED_TRACE("seed 77");
  Cache cache(256 << 10);
  OpenOptions options;
  options.format = "qcow2";
  for (const char* name : {"s.qcow2", "c.qcow2", "e.qcow2"}) {
    const std::string original = ReadWholeFile(dir.Join(name));
    for (int iter = 0; iter < 150; ++iter) {
      std::string img = original;
      // Metadata sits in the first clusters and the snapshot/L1 areas.
      for (int k = 0; k < 1 + iter % 6; ++k) {
        size_t at = iter % 3 == 0 ? rng() % std::min<size_t>(img.size(), 512) : rng() % img.size();
        img[at] = static_cast<char>(rng());
      }
      auto dev = OpenImageFile(NewMemoryFile(name, img), options, &cache);
      if (!dev.ok()) {
        continue;
      }
      uint64_t size = std::min<uint64_t>((*dev)->Size(), 2 << 20);
      std::vector<std::byte> buf(65536);
      for (uint64_t off = 0; off < size; off += buf.size()) {
        (void)(*dev)->Read(off, std::span(buf).first(std::min<uint64_t>(buf.size(), size - off)));
      }
      if (size > 0) {
        std::vector<Extent> ext;
        (void)CollectExtents(**dev, 0, size, &ext);
      }
      (void)(*dev)->Describe();
      (void)(*dev)->Check();
      for (const SnapshotInfo& si : (*dev)->Describe().snapshots) {
        auto snap = (*dev)->OpenSnapshot(si.id);
        if (snap.ok() && (*snap)->Size() > 0) {
          std::vector<std::byte> one(std::min<uint64_t>((*snap)->Size(), 4096));
          (void)(*snap)->Read(0, one);
        }
      }
    }
  }
}

}  // namespace
}  // namespace imgfs
