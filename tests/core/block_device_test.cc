// SPDX-License-Identifier: MIT
#include "core/block_device.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "formats/raw/driver.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

TEST(BlockDeviceTest, ReadOrZeroPadsPastBackingEnd) {
  auto dev = raw::NewRawDevice(NewMemoryFile("m", "abcd"), 4);
  std::vector<std::byte> buf(6, std::byte{9});
  ASSERT_OK(ReadOrZero(dev.get(), 2, buf));
  EXPECT_EQ(buf[0], std::byte{'c'});
  EXPECT_EQ(buf[1], std::byte{'d'});
  EXPECT_EQ(buf[2], std::byte{0});
  EXPECT_EQ(buf[5], std::byte{0});
  ASSERT_OK(ReadOrZero(nullptr, 0, buf));
  EXPECT_EQ(buf[0], std::byte{0});
}

TEST(BlockDeviceTest, ReadPastEndIsOutOfRange) {
  auto dev = raw::NewRawDevice(NewMemoryFile("m", "abcd"), 4);
  std::vector<std::byte> buf(2);
  EXPECT_CODE(dev->Read(3, buf), kOutOfRange);
  EXPECT_OK(dev->Read(2, buf));
}

TEST(BlockDeviceTest, CoalesceMergesContiguousRuns) {
  std::vector<Extent> v = {
      {0, 10, ExtentKind::kData, 0, 100, false},
      {10, 10, ExtentKind::kData, 0, 110, false},
      {20, 10, ExtentKind::kData, 0, 500, false},
      {30, 10, ExtentKind::kZero, 0, std::nullopt, false},
      {40, 10, ExtentKind::kZero, 0, std::nullopt, false},
  };
  CoalesceExtents(&v);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].length, 20u);
  EXPECT_EQ(v[2].length, 20u);
}

TEST(BlockDeviceTest, RawOddSizeReadsEveryByte) {
  std::string data(1000, '\0');
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>(i * 7);
  }
  Cache cache(1 << 20);
  auto dev = OpenImageFile(NewMemoryFile("odd.img", data), OpenOptions{}, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Size(), 1000u);
  std::vector<std::byte> buf(999);
  ASSERT_OK((*dev)->Read(1, buf));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data()), buf.size()), data.substr(1));
  std::vector<std::byte> all(1000);
  ASSERT_OK((*dev)->Read(0, all));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(all.data()), all.size()), data);
  EXPECT_EQ((*dev)->Describe().format, "raw");
  ASSERT_EQ((*dev)->Describe().notes.size(), 1u);
}

TEST(BlockDeviceTest, ForeignSignatureIsNotShownAsRaw) {
  Cache cache(1 << 20);
  std::string vmdk = "KDMV" + std::string(1020, '\0');
  EXPECT_CODE(OpenImageFile(NewMemoryFile("x.vmdk", vmdk), OpenOptions{}, &cache), kUnsupported);
  OpenOptions force;
  force.format = "raw";
  EXPECT_OK(OpenImageFile(NewMemoryFile("x.vmdk", vmdk), force, &cache));
}

TEST(BlockDeviceTest, ZeroLengthFileIsAnEmptyRawDisk) {
  Cache cache(1 << 20);
  auto dev = OpenImageFile(NewMemoryFile("empty", ""), OpenOptions{}, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Size(), 0u);
}

TEST(BlockDeviceTest, UnknownFormatIsInvalidArgument) {
  Cache cache(1 << 20);
  OpenOptions o;
  o.format = "nope";
  EXPECT_CODE(OpenImageFile(NewMemoryFile("x", "abc"), o, &cache), kInvalidArgument);
}

}  // namespace
}  // namespace imgfs
