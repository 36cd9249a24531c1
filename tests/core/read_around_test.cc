// SPDX-License-Identifier: MIT
// ReadAround: which reads prefetch which blocks, once each, from any number
// of threads; and the memory rule that decides whether a file is read around.
#include "core/io/read_around.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/testing/recording_file.h"

namespace imgfs {
namespace {

using testing::RecordingFile;

TEST(ReadAroundTest, PaysOnlyForFilesTheCacheCanKeep) {
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  EXPECT_TRUE(ReadAroundPays(kGiB, 4 * kGiB));
  EXPECT_FALSE(ReadAroundPays(kGiB + 1, 4 * kGiB));
  EXPECT_FALSE(ReadAroundPays(0, 4 * kGiB));
  EXPECT_FALSE(ReadAroundPays(4096, 0));  // available memory unknown
  EXPECT_GT(HostAvailableMemory(), 0u);   // Linux has /proc/meminfo
}

TEST(ReadAroundTest, ModeOffNeverAlwaysSkipsTheMemoryRule) {
  RecordingFile file(std::string(1 << 20, 'x'));
  EXPECT_EQ(ReadAround::ForFile(file, 16, ReadAroundMode::kOff), nullptr);
  EXPECT_NE(ReadAround::ForFile(file, 16, ReadAroundMode::kAlways), nullptr);
  EXPECT_EQ(ReadAround::ForFile(file, 31, ReadAroundMode::kAlways), nullptr);  // block too big
  // kAuto: a 1 MiB file on any host that runs the tests.
  EXPECT_NE(ReadAround::ForFile(file, 16, ReadAroundMode::kAuto), nullptr);
}

TEST(ReadAroundTest, FirstSmallReadOfABlockPrefetchesIt) {
  RecordingFile file(std::string(1 << 20, 'x'));
  ReadAround ra(1 << 20, 16);
  ra.BeforeRead(file, 4096, 4096);
  ra.BeforeRead(file, 8192, 512);  // same block: nothing more
  EXPECT_EQ(file.prefetches(), (RecordingFile::Ranges{{0, 65536}}));
  ra.BeforeRead(file, 65536 - 100, 200);  // spans blocks 0 and 1: block 1 only
  ra.BeforeRead(file, 3 * 65536, 65536);  // a whole block: a stream's business
  ra.BeforeRead(file, 5 * 65536, 0);
  ra.BeforeRead(file, 2u << 20, 10);  // past the end of the file
  EXPECT_EQ(file.prefetches(), (RecordingFile::Ranges{{0, 65536}, {65536, 65536}}));
}

TEST(ReadAroundTest, EveryBlockOnceUnderConcurrentReaders) {
  constexpr uint64_t kBytes = uint64_t{8} << 20;
  RecordingFile file(std::string(kBytes, 'x'));
  ReadAround ra(kBytes, 12);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t off = static_cast<uint64_t>(t) * 512; off < kBytes; off += 1024) {
        ra.BeforeRead(file, off, 512);
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  RecordingFile::Ranges got = file.prefetches();
  std::sort(got.begin(), got.end());
  ASSERT_EQ(got.size(), kBytes / 4096);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i], std::make_pair(uint64_t{i} * 4096, uint64_t{4096}));
  }
}

}  // namespace
}  // namespace imgfs
