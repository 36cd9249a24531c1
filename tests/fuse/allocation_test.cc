// SPDX-License-Identifier: MIT
// Unit tests for SEEK_DATA/SEEK_HOLE and st_blocks from extents.
#include "fuse/allocation.h"

#include <gtest/gtest.h>

#include "tests/fuse/fake_device.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::fusefs {
namespace {

using testing::Ext;
using testing::FakeDevice;

// zero [0,100) data [100,200) unallocated [200,300) data [300,350) zero [350,400)
FakeDevice Device() {
  return FakeDevice(std::string(400, 'a'),
                    {Ext(0, 100, ExtentKind::kZero), Ext(100, 100, ExtentKind::kData),
                     Ext(200, 100, ExtentKind::kUnallocated), Ext(300, 50, ExtentKind::kData),
                     Ext(350, 50, ExtentKind::kZero)},
                    1);
}

std::optional<uint64_t> Seek(const BlockDevice& dev, uint64_t off, bool data) {
  auto r = SeekAllocation(dev, off, data);
  EXPECT_OK(r);
  return r.ok() ? *r : std::nullopt;
}

TEST(SeekAllocationTest, SeekData) {
  FakeDevice dev = Device();
  EXPECT_EQ(Seek(dev, 0, true), 100u);
  EXPECT_EQ(Seek(dev, 150, true), 150u);
  EXPECT_EQ(Seek(dev, 200, true), 300u);
  EXPECT_EQ(Seek(dev, 349, true), 349u);
  EXPECT_EQ(Seek(dev, 350, true), std::nullopt);  // ENXIO: only a hole follows
  EXPECT_EQ(Seek(dev, 400, true), std::nullopt);
}

TEST(SeekAllocationTest, SeekHoleCountsEndOfFileAsHole) {
  FakeDevice dev = Device();
  EXPECT_EQ(Seek(dev, 0, false), 0u);
  EXPECT_EQ(Seek(dev, 100, false), 200u);
  EXPECT_EQ(Seek(dev, 250, false), 250u);
  EXPECT_EQ(Seek(dev, 320, false), 350u);
  EXPECT_EQ(Seek(dev, 400, false), std::nullopt);
  FakeDevice all_data(std::string(10, 'a'), {Ext(0, 10, ExtentKind::kData)});
  EXPECT_EQ(Seek(all_data, 3, false), 10u);
}

TEST(DataBytesTest, SumsDataExtents) {
  FakeDevice dev = Device();
  auto bytes = DataBytes(dev);
  ASSERT_OK(bytes);
  EXPECT_EQ(*bytes, 150u);
  FakeDevice empty("", {});
  EXPECT_EQ(*DataBytes(empty), 0u);
}

}  // namespace
}  // namespace imgfs::fusefs
