// SPDX-License-Identifier: MIT
// Oracle tests for the qcow2 driver: images made at test time by qemu-img
// and qemu-io, reference bytes from `qemu-img convert -O raw`, allocation
// from `qemu-img map`, metadata from `qemu-img info` and `qemu-img check`.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::ExtentsMatchMap;
using testing::QemuMap;
using testing::ReadWholeFile;
using testing::Sh;
using testing::TempDir;

// Unaligned, cross-cluster and sparse writes inside a 4 MiB disk.
const char* const kPatterns =
    "-c 'write -P 0x11 1536 3000' -c 'write -P 0x5a 1M 64k' "
    "-c 'write -P 0x22 3000000 100000' -c 'write -z 200k 8k' "
    "-c 'write -P 0x33 3670016 5000' -c 'write -P 0x44 4194000 304'";

// Opens `image` in `dir` and compares bytes with `qemu-img convert` and
// extents with `qemu-img map`.
void ExpectMatchesQemu(const TempDir& dir, const std::string& image,
                       const OpenOptions& options = {}) {
  SCOPED_TRACE(image);
  ASSERT_TRUE(Sh(dir.path(), "qemu-img convert -O raw '" + image + "' ref.raw"));
  std::string expected = ReadWholeFile(dir.Join("ref.raw"));
  Cache cache(16 << 20);
  auto dev = OpenImage(dir.Join(image), options, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Describe().format, "qcow2");
  EXPECT_TRUE(testing::DeviceMatches(**dev, expected));
  EXPECT_TRUE(ExtentsMatchMap(**dev, QemuMap(dir.path(), image)));
}

struct MatrixCase {
  const char* compat;
  uint32_t cluster_size;
};

class Qcow2Matrix : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(Qcow2Matrix, BytesAndExtentsMatchQemu) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  const MatrixCase& c = GetParam();
  ASSERT_TRUE(Sh(dir.path(), std::string("qemu-img create -q -f qcow2 -o compat=") + c.compat +
                                 ",cluster_size=" + std::to_string(c.cluster_size) +
                                 " a.qcow2 4M"));
  ASSERT_TRUE(Sh(dir.path(), std::string("qemu-io ") + kPatterns + " a.qcow2"));
  ExpectMatchesQemu(dir, "a.qcow2");
}

INSTANTIATE_TEST_SUITE_P(CompatAndClusterSize, Qcow2Matrix,
                         ::testing::Values(MatrixCase{"0.10", 512}, MatrixCase{"0.10", 4096},
                                           MatrixCase{"0.10", 65536}, MatrixCase{"0.10", 2097152},
                                           MatrixCase{"1.1", 512}, MatrixCase{"1.1", 4096},
                                           MatrixCase{"1.1", 65536}, MatrixCase{"1.1", 2097152}));

class Qcow2Compressed : public ::testing::TestWithParam<std::string> {};

TEST_P(Qcow2Compressed, CompressedClustersMatchQemu) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  const std::string& type = GetParam();
  ASSERT_TRUE(Sh(dir.path(), "qemu-img create -q -f qcow2 -o cluster_size=4096 src.qcow2 4M"));
  ASSERT_TRUE(Sh(dir.path(),
                 std::string("qemu-io ") + kPatterns + " -c 'write -P 0x66 2M 256k' src.qcow2"));
  for (const char* cs : {"512", "4096", "65536", "2M"}) {
    std::string out = "c" + std::string(cs) + ".qcow2";
    ASSERT_TRUE(Sh(dir.path(), "qemu-img convert -c -O qcow2 -o compression_type=" + type +
                                   ",cluster_size=" + cs + " src.qcow2 " + out));
    ExpectMatchesQemu(dir, out);
  }
  Cache cache(16 << 20);
  auto dev = OpenImage(dir.Join("c65536.qcow2"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Describe().format_specific["data"]["compression-type"], type);
  // Repeated 4 KiB reads inside one compressed cluster decompress it once.
  std::vector<std::byte> buf(4096);
  ASSERT_OK((*dev)->Read(2u << 20, buf));
  uint64_t misses = cache.misses();
  for (uint64_t off = 4096; off < 65536; off += 4096) {
    ASSERT_OK((*dev)->Read((2u << 20) + off, buf));
  }
  EXPECT_EQ(cache.misses(), misses);
  EXPECT_EQ(buf[0], std::byte{0x66});
}

INSTANTIATE_TEST_SUITE_P(ZlibAndZstd, Qcow2Compressed, ::testing::Values("zlib", "zstd"));

TEST(Qcow2Oracle, ExtendedL2Subclusters) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  for (const char* cs : {"65536", "2M"}) {
    std::string name = std::string("e") + cs + ".qcow2";
    ASSERT_TRUE(Sh(dir.path(), std::string("qemu-img create -q -f qcow2 -o extended_l2=on,") +
                                   "cluster_size=" + cs + " " + name + " 6M"));
    ASSERT_TRUE(Sh(dir.path(), std::string("qemu-io ") + kPatterns +
                                   " -c 'write -P 0x77 4096 2048' -c 'write -z 8192 2048'"
                                   " -c 'write -P 0x78 5M 100k' -c 'write -z 5200k 64k' " +
                                   name));
    ExpectMatchesQemu(dir, name);
  }
  // Subclusters over a backing file: unallocated subclusters fall through.
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f raw base.raw 6M && "
                 "qemu-io -f raw -c 'write -P 0x99 0 6M' base.raw && "
                 "qemu-img create -q -f qcow2 -o extended_l2=on -b base.raw -F raw "
                 "ov.qcow2 6M && qemu-io -c 'write -P 0x12 70000 3000' "
                 "-c 'write -z 200000 4096' ov.qcow2"));
  ExpectMatchesQemu(dir, "ov.qcow2");
}

TEST(Qcow2Oracle, ExternalDataFile) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  for (const char* raw : {"off", "on"}) {
    std::string name = std::string("d") + raw + ".qcow2";
    std::string data = std::string("d") + raw + ".data";
    ASSERT_TRUE(Sh(dir.path(), "qemu-img create -q -f qcow2 -o data_file=" + data +
                                   ",data_file_raw=" + raw + " " + name + " 4M"));
    ASSERT_TRUE(Sh(dir.path(), std::string("qemu-io ") + kPatterns + " " + name));
    ExpectMatchesQemu(dir, name);
    Cache cache(1 << 20);
    auto dev = OpenImage(dir.Join(name), {}, &cache);
    ASSERT_OK(dev);
    auto fs = (*dev)->Describe().format_specific["data"];
    EXPECT_EQ(fs["data-file"], data);
    EXPECT_EQ(fs["data-file-raw"], std::string(raw) == "on");
  }
}

TEST(Qcow2Oracle, ZeroClustersAndDiscard) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  for (const char* compat : {"0.10", "1.1"}) {
    std::string name = std::string("z") + compat + ".qcow2";
    ASSERT_TRUE(Sh(dir.path(), std::string("qemu-img create -q -f qcow2 -o cluster_size=4096,") +
                                   "compat=" + compat + " " + name + " 4M"));
    ASSERT_TRUE(Sh(dir.path(),
                   "qemu-io -c 'write -P 0x5a 0 2M' -c 'write -z 64k 128k' "
                   "-c 'write -z -u 512k 64k' -c 'discard 1M 256k' "
                   "-c 'discard 1500000 10000' " +
                       name));
    ExpectMatchesQemu(dir, name);
  }
}

TEST(Qcow2Oracle, OddVirtualSizes) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  for (const char* size : {"1049088", "10000000", "512"}) {
    std::string name = std::string("o") + size + ".qcow2";
    ASSERT_TRUE(Sh(dir.path(), "qemu-img create -q -f qcow2 " + name + " " + size));
    ASSERT_TRUE(Sh(dir.path(), "qemu-io -c 'write -P 0x3c 0 512' " + name));
    ExpectMatchesQemu(dir, name);
  }
}

// raw base (2 MiB) <- qcow2 (4 MiB, 4 KiB clusters) <- qcow2 (6 MiB), with
// relative backing names across directories.
void MakeChain(const TempDir& dir) {
  ASSERT_TRUE(Sh(dir.path(),
                 "mkdir -p b && qemu-img create -q -f raw b/base.raw 2M && "
                 "qemu-io -f raw -c 'write -P 0xb0 0 2M' -c 'write -z 64k 64k' "
                 "b/base.raw"));
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 -o cluster_size=4096 -b base.raw "
                 "-F raw b/mid.qcow2 4M && qemu-io -c 'write -P 0x3d 100000 5000' "
                 "-c 'write -P 0x3e 3M 8k' -c 'write -z 1M 4k' b/mid.qcow2"));
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 -b b/mid.qcow2 -F qcow2 top.qcow2 6M "
                 "&& qemu-io -c 'write -P 0x7f 1000 1000' -c 'write -P 0x70 5M 4k' "
                 "top.qcow2"));
}

TEST(Qcow2Oracle, BackingChainOfMixedFormats) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  MakeChain(dir);
  ExpectMatchesQemu(dir, "top.qcow2");
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join("top.qcow2"), {}, &cache);
  ASSERT_OK(dev);
  ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.backing_filename, "b/mid.qcow2");
  EXPECT_EQ(info.full_backing_filename, dir.Join("b/mid.qcow2"));
  EXPECT_EQ(info.backing_format, "qcow2");
  ASSERT_NE((*dev)->backing(), nullptr);
  ASSERT_NE((*dev)->backing()->backing(), nullptr);
  EXPECT_EQ((*dev)->backing()->backing()->Describe().format, "raw");
  // Depth of a range only the raw base holds.
  std::vector<Extent> ext;
  ASSERT_OK((*dev)->Extents(1536 << 10, 512, &ext));
  ASSERT_FALSE(ext.empty());
  EXPECT_EQ(ext[0].depth, 2u);
}

TEST(Qcow2Oracle, NoBackingReadsUnallocatedAsZero) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  MakeChain(dir);
  ASSERT_TRUE(Sh(dir.path(),
                 "cp top.qcow2 alone.qcow2 && qemu-img rebase -u -b '' alone.qcow2 "
                 "&& qemu-img convert -O raw alone.qcow2 alone.raw"));
  OpenOptions options;
  options.follow_backing = false;
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join("top.qcow2"), options, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->backing(), nullptr);
  EXPECT_EQ((*dev)->Describe().backing_filename, "b/mid.qcow2");
  EXPECT_TRUE(testing::DeviceMatches(**dev, ReadWholeFile(dir.Join("alone.raw"))));
}

TEST(Qcow2Oracle, InternalSnapshots) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 -o cluster_size=4096 s.qcow2 2M && "
                 "qemu-io -c 'write -P 0x01 0 64k' s.qcow2 && "
                 "qemu-img snapshot -c first s.qcow2 && "
                 "qemu-io -c 'write -P 0x02 32k 64k' -c 'write -z 0 4k' s.qcow2 && "
                 "qemu-img snapshot -c second s.qcow2 && "
                 "qemu-img resize -q s.qcow2 3M && "
                 "qemu-io -c 'write -P 0x03 2500000 4k' s.qcow2"));
  ExpectMatchesQemu(dir, "s.qcow2");
  Cache cache(4 << 20);
  auto dev = OpenImage(dir.Join("s.qcow2"), {}, &cache);
  ASSERT_OK(dev);
  ImageInfo info = (*dev)->Describe();
  ASSERT_EQ(info.snapshots.size(), 2u);
  EXPECT_EQ(info.snapshots[0].name, "first");
  EXPECT_EQ(info.snapshots[1].id, "2");
  EXPECT_EQ(info.snapshots[1].virtual_size, 2u << 20);
  EXPECT_EQ(info.virtual_size, 3u << 20);
  for (const char* name : {"first", "second"}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(Sh(dir.path(), std::string("qemu-img convert -l snapshot.name=") + name +
                                   " -O raw s.qcow2 snap.raw"));
    auto snap = (*dev)->OpenSnapshot(name);
    ASSERT_OK(snap);
    // qemu-img convert -l keeps the current virtual size (3 MiB); the
    // snapshot's own size (2 MiB, from its extra data) is what imgfs shows,
    // and qemu's bytes past it are zeros.
    std::string want = ReadWholeFile(dir.Join("snap.raw"));
    ASSERT_EQ(want.size(), 3u << 20);
    EXPECT_EQ(want.find_first_not_of('\0', 2u << 20), std::string::npos);
    want.resize(2u << 20);
    EXPECT_TRUE(testing::DeviceMatches(**snap, want));
  }
  auto by_id = (*dev)->OpenSnapshot("1");
  ASSERT_OK(by_id);
  EXPECT_EQ((*by_id)->Size(), 2u << 20);
  EXPECT_CODE((*dev)->OpenSnapshot("nope"), kNotFound);
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean()) << (report->errors.empty() ? report->warnings[0]
                                                          : report->errors[0]);
}

TEST(Qcow2Oracle, DirtyImageIsReadable) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  // Lazy refcounts, then qemu-io dies before it can clean up: dirty bit set,
  // refcounts stale.
  ASSERT_TRUE(Sh(dir.path(), "qemu-img create -q -f qcow2 -o lazy_refcounts=on d.qcow2 4M"));
  testing::RunIn(dir.path(), "qemu-io -c 'write -P 0x21 100k 64k' -c 'sigraise 9' d.qcow2");
  ExpectMatchesQemu(dir, "d.qcow2");
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join("d.qcow2"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE((*dev)->Describe().dirty);
  EXPECT_EQ((*dev)->Describe().format_specific["data"]["lazy-refcounts"], true);
  std::string out;
  EXPECT_EQ(testing::RunIn(dir.path(), "qemu-img check d.qcow2", &out), 2) << out;
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_FALSE(report->errors.empty());
}

TEST(Qcow2Oracle, ConcurrentReadersOfCompressedImage) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 -o cluster_size=4096 s.qcow2 4M && "
                 "qemu-io -c 'write -P 0x61 0 3M' -c 'write -P 0x62 1234567 333333' "
                 "s.qcow2 && qemu-img convert -c -O qcow2 -o compression_type=zstd "
                 "s.qcow2 c.qcow2 && qemu-img convert -O raw c.qcow2 c.raw"));
  std::string want = ReadWholeFile(dir.Join("c.raw"));
  Cache cache(64 << 10);  // small: entries are evicted while others read
  auto dev = OpenImage(dir.Join("c.qcow2"), {}, &cache);
  ASSERT_OK(dev);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::byte> buf(12345);
      for (uint64_t off = uint64_t(t) * 999; off + buf.size() <= want.size(); off += 77777) {
        if (!(*dev)->Read(off, buf).ok() ||
            std::memcmp(buf.data(), want.data() + off, buf.size()) != 0) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Qcow2Oracle, DescribeMatchesQemuImgInfo) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  MakeChain(dir);
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 -o lazy_refcounts=on,refcount_bits=8,"
                 "compression_type=zstd lz.qcow2 1M && "
                 "qemu-img create -q -f qcow2 -o compat=0.10 old.qcow2 1M"));
  for (const char* name : {"top.qcow2", "lz.qcow2", "old.qcow2", "b/mid.qcow2"}) {
    SCOPED_TRACE(name);
    std::string out;
    ASSERT_TRUE(Sh(dir.path(), std::string("qemu-img info --output=json ") + name, &out));
    auto want = nlohmann::json::parse(out);
    Cache cache(1 << 20);
    auto dev = OpenImage(dir.Join(name), {}, &cache);
    ASSERT_OK(dev);
    ImageInfo info = (*dev)->Describe();
    EXPECT_EQ(nlohmann::json(info.virtual_size), want["virtual-size"]);
    EXPECT_EQ(nlohmann::json(*info.cluster_size), want["cluster-size"]);
    EXPECT_EQ(nlohmann::json(info.dirty), want["dirty-flag"]);
    EXPECT_EQ(info.format_specific, want["format-specific"]);
    EXPECT_EQ(nlohmann::json(info.backing_filename), want.value("backing-filename", ""));
    EXPECT_EQ(nlohmann::json(info.backing_format), want.value("backing-filename-format", ""));
  }
}

}  // namespace
}  // namespace imgfs
