// SPDX-License-Identifier: MIT
// Read-around through the qcow2 driver, on an image qemu-img made: the first
// small read of a data cluster prefetches exactly that host cluster, later
// reads of it prefetch nothing, and every byte still matches
// `qemu-img convert`.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/recording_file.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::ReadWholeFile;
using testing::RecordingFile;
using testing::Sh;
using testing::TempDir;

constexpr uint64_t kCluster = 65536;
constexpr uint64_t kDiskBytes = 2 * 1024 * 1024;

// The offset of the one `cluster`-aligned cluster of `image` whose bytes
// are all `fill`: where qemu put a guest cluster it filled so, found in the
// file itself rather than through the driver's map (the code under test).
uint64_t HostClusterFilledWith(const std::string& image, uint64_t cluster, char fill) {
  const std::string filled(cluster, fill);
  std::vector<uint64_t> found;
  for (uint64_t h = 0; h + cluster <= image.size(); h += cluster) {
    if (image.compare(h, cluster, filled) == 0) {
      found.push_back(h);
    }
  }
  EXPECT_EQ(found.size(), 1u) << "clusters filled with byte " << int{fill};
  return found.empty() ? 0 : found.front();
}

// Opens d.qcow2, made in a temp dir by a shell command, through a
// RecordingFile, next to qemu-img's raw view of it.
class Qcow2ReadAround : public ::testing::Test {
 protected:
  void SetUp() override { IMGFS_REQUIRE_QEMU(); }

  void Open(const std::string& make) {
    ASSERT_TRUE(Sh(dir_.path(), make + " && qemu-img convert -O raw d.qcow2 ref.raw"));
    want_ = ReadWholeFile(dir_.Join("ref.raw"));
    file_ = new RecordingFile(ReadWholeFile(dir_.Join("d.qcow2")), "d.qcow2");
    auto dev = OpenImageFile(std::unique_ptr<File>(file_), OpenOptions{}, &cache_);
    ASSERT_OK(dev);
    dev_ = std::move(*dev);
  }

  TempDir dir_;
  Cache cache_{8 << 20};
  std::string want_;
  RecordingFile* file_ = nullptr;  // owned by dev_
  std::unique_ptr<BlockDevice> dev_;
};

TEST_F(Qcow2ReadAround, FirstSmallReadOfAClusterPrefetchesIt) {
  // Written in reverse cluster order, so host and guest offsets differ.
  ASSERT_NO_FATAL_FAILURE(
      Open("qemu-img create -q -f qcow2 -o cluster_size=65536 d.qcow2 2M && "
           "for i in $(seq 31 -1 0); do qemu-io -f qcow2 -c \"write -P $i $((i * 65536)) "
           "65536\" d.qcow2 > /dev/null || exit 1; done"));
  // The host cluster behind guest offset `at`: qemu-io filled guest
  // cluster i with byte i.
  const std::string image = ReadWholeFile(dir_.Join("d.qcow2"));
  auto host_cluster = [&](uint64_t at) {
    return HostClusterFilledWith(image, kCluster, static_cast<char>(at / kCluster));
  };
  auto read = [&](uint64_t at, size_t n) {
    std::vector<std::byte> buf(n);
    ASSERT_OK(dev_->Read(at, buf));
    EXPECT_EQ(std::memcmp(buf.data(), want_.data() + at, n), 0) << "at " << at;
  };
  const size_t before = file_->prefetches().size();  // opening reads no data
  read(5 * kCluster + 4096, 4096);
  read(5 * kCluster + 100, 3000);  // the same cluster again
  RecordingFile::Ranges got = file_->prefetches();
  ASSERT_EQ(got.size(), before + 1);
  EXPECT_EQ(got.back(), std::make_pair(host_cluster(5 * kCluster), kCluster));
  // A read across two clusters reads around both (guest-adjacent, host apart).
  read(9 * kCluster - 512, 1024);
  got = file_->prefetches();
  ASSERT_EQ(got.size(), before + 3);
  EXPECT_EQ(got[before + 1], std::make_pair(host_cluster(8 * kCluster), kCluster));
  EXPECT_EQ(got[before + 2], std::make_pair(host_cluster(9 * kCluster), kCluster));
  EXPECT_NE(host_cluster(8 * kCluster), host_cluster(9 * kCluster) - kCluster);
  // Shuffled 4 KiB reads of everything still match the oracle.
  std::vector<uint64_t> blocks(kDiskBytes / 4096);
  for (size_t i = 0; i < blocks.size(); ++i) {
    blocks[i] = i * 4096;
  }
  std::mt19937 rng(3);
  std::shuffle(blocks.begin(), blocks.end(), rng);
  for (uint64_t b : blocks) {
    read(b, 4096);
  }
  EXPECT_EQ(file_->prefetches().size(), before + kDiskBytes / kCluster);
}

// 2 MiB clusters: only the aligned 64 KiB around a small read.
TEST_F(Qcow2ReadAround, BigClustersReadAroundOnly64KiB) {
  ASSERT_NO_FATAL_FAILURE(
      Open("qemu-img create -q -f qcow2 -o cluster_size=2M d.qcow2 4M && "
           "qemu-io -f qcow2 -c 'write -P 7 2M 2M' d.qcow2 > /dev/null"));
  const uint64_t host =
      HostClusterFilledWith(ReadWholeFile(dir_.Join("d.qcow2")), uint64_t{2} << 20, 7);
  const uint64_t at = (2 << 20) + 100000;  // in the second 64 KiB of the cluster
  std::vector<std::byte> buf(4096);
  ASSERT_OK(dev_->Read(at, buf));
  EXPECT_EQ(std::memcmp(buf.data(), want_.data() + at, buf.size()), 0);
  EXPECT_EQ(file_->prefetches(), (RecordingFile::Ranges{{host + kCluster, kCluster}}));
}

}  // namespace
}  // namespace imgfs
