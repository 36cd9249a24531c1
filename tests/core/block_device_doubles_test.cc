// SPDX-License-Identifier: MIT
// The BlockDevice test doubles (tests/testing/memory_block_device.h and
// faulty_block_device.h): the memory device's reads, writes, map clipping
// and zero tail; the faulty device's failures and counters.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/testing/faulty_block_device.h"
#include "tests/testing/memory_block_device.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::testing {
namespace {

std::span<std::byte> Span(std::string& s) { return std::as_writable_bytes(std::span(s)); }

TEST(MemoryBlockDeviceTest, ReadsWritesAndZeroTail) {
  MemoryBlockDevice dev("hello");
  dev.ZeroExtend(8);
  EXPECT_EQ(dev.Size(), 8u);
  std::string buf(5, 'x');
  ASSERT_OK(dev.Read(3, Span(buf)));
  EXPECT_EQ(buf, std::string("lo\0\0\0", 5));
  ASSERT_OK(dev.Write(6, std::as_bytes(std::span("AB", 2))));
  ASSERT_OK(dev.Read(3, Span(buf)));
  EXPECT_EQ(buf, std::string("lo\0AB", 5));
  EXPECT_CODE(dev.Read(4, Span(buf)), kOutOfRange);
  EXPECT_EQ(dev.Describe().virtual_size, 8u);
  EXPECT_EQ(dev.Describe().format, "memory");
}

TEST(MemoryBlockDeviceTest, ExtentsClipTheMapAndMoveHostOffsets) {
  MemoryBlockDevice dev(std::string(100, 'a'));
  std::vector<Extent> all;
  ASSERT_OK(dev.Extents(10, 20, &all));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].host_offset, 10u);

  dev.SetExtents({{.offset = 0, .length = 40, .kind = ExtentKind::kData, .host_offset = 1000},
                  Ext(40, 60, ExtentKind::kUnallocated)});
  std::vector<Extent> out;
  ASSERT_OK(dev.Extents(30, 20, &out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].offset, 30u);
  EXPECT_EQ(out[0].length, 10u);
  EXPECT_EQ(out[0].host_offset, 1030u);
  EXPECT_EQ(out[1].offset, 40u);
  EXPECT_EQ(out[1].length, 10u);
  EXPECT_EQ(out[1].kind, ExtentKind::kUnallocated);
}

TEST(FaultyBlockDeviceTest, FailsTheNthReadAndCounts) {
  FaultyBlockDevice dev(std::make_unique<MemoryBlockDevice>(64), {.fail_read_at_call = 1});
  std::string buf(8, '\0');
  EXPECT_OK(dev.Read(0, Span(buf)));
  EXPECT_CODE(dev.Read(8, Span(buf)), kIOError);
  EXPECT_OK(dev.Read(16, Span(buf)));
  EXPECT_EQ(dev.reads(), 3u);
  EXPECT_EQ(dev.bytes_read(), 16u);
}

TEST(FaultyBlockDeviceTest, FailsReadsTouchingARange) {
  MemoryBlockDevice inner(64);
  FaultyBlockDevice dev(&inner, {.failing_ranges = {{.offset = 20, .length = 4}}});
  std::string buf(4, '\0');
  EXPECT_OK(dev.Read(16, Span(buf)));  // [16, 20) ends where the range starts
  EXPECT_CODE(dev.Read(17, Span(buf)), kIOError);
  EXPECT_CODE(dev.Read(23, Span(buf)), kIOError);
  EXPECT_OK(dev.Read(24, Span(buf)));
}

TEST(FaultyBlockDeviceTest, FailsReadsOfHolesAndShortensExtents) {
  auto inner = std::make_unique<MemoryBlockDevice>(std::string(30, 'd'));
  inner->SetExtents({Ext(0, 10, ExtentKind::kData), Ext(10, 10, ExtentKind::kZero),
                     Ext(20, 10, ExtentKind::kData)});
  FaultyBlockDevice dev(std::move(inner), {.fail_reads_of_holes = true, .max_extents_per_call = 1});
  std::string buf(5, '\0');
  EXPECT_OK(dev.Read(5, Span(buf)));
  EXPECT_CODE(dev.Read(8, Span(buf)), kInternal);
  EXPECT_OK(dev.Read(20, Span(buf)));

  std::vector<Extent> one;
  ASSERT_OK(dev.Extents(0, 30, &one));
  ASSERT_EQ(one.size(), 1u);
  std::vector<Extent> all;
  ASSERT_OK(CollectExtents(dev, 0, 30, &all));  // loops over the short answers
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].kind, ExtentKind::kZero);
  EXPECT_EQ(dev.extents_calls(), 1u + 3u);
}

}  // namespace
}  // namespace imgfs::testing
