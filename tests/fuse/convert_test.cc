// SPDX-License-Identifier: MIT
// Unit tests for core/convert (kept here with the CLI that uses it).
#include "core/convert/convert.h"

#include <gtest/gtest.h>

#include "tests/fuse/fake_device.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::Ext;
using testing::FakeDevice;

constexpr uint64_t kKiB = 1024;

std::string Contents(const File& f) {
  std::string s(*f.Size(), '\0');
  EXPECT_OK(f.ReadExactAt(0, std::as_writable_bytes(std::span(s)), "contents"));
  return s;
}

// 1 MiB: data [0, 64K) with a zero 4K block inside, zero [64K, 512K),
// unallocated [512K, 768K), data [768K, 1M) that is all zeros but 3 bytes.
FakeDevice MakeDevice(std::string* bytes) {
  std::string b(1024 * kKiB, '\0');
  for (size_t i = 0; i < 64 * kKiB; ++i) {
    b[i] = static_cast<char>(1 + i % 251);
  }
  std::fill(b.begin() + 8 * kKiB, b.begin() + 12 * kKiB, '\0');
  b[800 * kKiB] = 'x';
  b[800 * kKiB + 1] = 'y';
  b[1024 * kKiB - 1] = 'z';
  *bytes = b;
  return FakeDevice(
      b, {Ext(0, 64 * kKiB, ExtentKind::kData), Ext(64 * kKiB, 448 * kKiB, ExtentKind::kZero),
          Ext(512 * kKiB, 256 * kKiB, ExtentKind::kUnallocated),
          Ext(768 * kKiB, 256 * kKiB, ExtentKind::kData)});
}

TEST(ConvertToRawTest, CopiesDataSkipsHolesAndZeroBlocks) {
  std::string bytes;
  FakeDevice dev = MakeDevice(&bytes);
  auto out = NewMemoryFile("out");
  auto stats = ConvertToRaw(dev, *out, {});
  ASSERT_OK(stats);
  EXPECT_EQ(Contents(*out), bytes);
  EXPECT_EQ(stats->hole_bytes, 704 * kKiB);
  // 15 non-zero 4K blocks in the first extent, 2 in the last one.
  EXPECT_EQ(stats->written_bytes, 17 * 4 * kKiB);
  EXPECT_EQ(stats->zero_skipped_bytes, 320 * kKiB - 17 * 4 * kKiB);
}

TEST(ConvertToRawTest, ProgressIsMonotonicAndEndsAtTotal) {
  std::string bytes;
  FakeDevice dev = MakeDevice(&bytes);
  auto out = NewMemoryFile("out");
  std::vector<uint64_t> seen;
  ASSERT_OK(ConvertToRaw(dev, *out, [&](uint64_t done, uint64_t total) {
    EXPECT_EQ(total, bytes.size());
    seen.push_back(done);
  }));
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(seen.back(), bytes.size());
}

TEST(ConvertToRawTest, WriteFailureNamesTheOffset) {
  std::string bytes;
  FakeDevice dev = MakeDevice(&bytes);
  auto out = NewFaultFile(NewMemoryFile("out"), FaultPlan{.fail_write_at_call = 0});
  auto stats = ConvertToRaw(dev, *out, {});
  ASSERT_FALSE(stats.ok());
  EXPECT_NE(stats.status().message().find("cannot write output at 0x0"), std::string::npos)
      << stats.status().ToString();
}

TEST(ConvertToRawTest, EmptyDeviceGivesEmptyFile) {
  FakeDevice dev("", {});
  auto out = NewMemoryFile("out");
  ASSERT_OK(ConvertToRaw(dev, *out, {}));
  EXPECT_EQ(*out->Size(), 0u);
}

TEST(IsAllZeroTest, FindsAnyNonZeroByte) {
  std::string z(4097, '\0');
  EXPECT_TRUE(IsAllZero(std::as_bytes(std::span(z))));
  for (size_t pos : {size_t{0}, size_t{7}, size_t{8}, size_t{4096}}) {
    std::string s = z;
    s[pos] = 1;
    EXPECT_FALSE(IsAllZero(std::as_bytes(std::span(s)))) << pos;
  }
  EXPECT_TRUE(IsAllZero({}));
}

}  // namespace
}  // namespace imgfs
