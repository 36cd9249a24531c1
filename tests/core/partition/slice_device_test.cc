// SPDX-License-Identifier: MIT
// NewSliceDevice: reads and extents of a window are the base's, shifted and
// clipped; reads past the window fail; Describe names the window.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "core/partition/partition_table.h"
#include "tests/testing/faulty_block_device.h"
#include "tests/testing/memory_block_device.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::testing {
namespace {

using ::testing::HasSubstr;

std::string Pattern(size_t n) {
  std::mt19937 gen(7);
  std::string s(n, '\0');
  for (char& c : s) {
    c = static_cast<char>(gen());
  }
  return s;
}

// Bytes with a scripted allocation map; Extents clips the map to the range
// asked and moves host offsets with the clipped start, as real drivers do,
// answering one extent per call to exercise callers' loops.
class MappedDevice final : public FaultyBlockDevice {
 public:
  MappedDevice(const std::string& bytes, std::vector<Extent> map)
      : FaultyBlockDevice(Inner(bytes, std::move(map)), {.max_extents_per_call = 1}) {}

 private:
  static std::unique_ptr<BlockDevice> Inner(const std::string& bytes, std::vector<Extent> map) {
    auto dev = std::make_unique<MemoryBlockDevice>(bytes, std::move(map));
    dev->info().format = "fake";
    return dev;
  }
};

// 64 KiB: data [0, 16K), zero [16K, 40K), data at host 1M [40K, 64K).
MappedDevice Base(std::string bytes) {
  std::fill(bytes.begin() + 16384, bytes.begin() + 40960, '\0');
  std::vector<Extent> map = {
      {.offset = 0, .length = 16384, .kind = ExtentKind::kData, .host_offset = 0},
      {.offset = 16384, .length = 24576, .kind = ExtentKind::kZero, .host_offset = std::nullopt},
      {.offset = 40960, .length = 24576, .kind = ExtentKind::kData, .host_offset = 1 << 20},
  };
  return MappedDevice(std::move(bytes), std::move(map));
}

TEST(SliceDeviceTest, ReadsTheWindow) {
  std::string bytes = Pattern(65536);
  MappedDevice base = Base(bytes);
  auto slice = NewSliceDevice(&base, 1000, 10000);
  EXPECT_EQ(slice->Size(), 10000u);
  std::string buf(777, '\0');
  ASSERT_OK(slice->Read(3, std::as_writable_bytes(std::span(buf))));
  EXPECT_EQ(buf, bytes.substr(1003, 777));
  ASSERT_OK(slice->Read(10000 - 777, std::as_writable_bytes(std::span(buf))));
  EXPECT_EQ(buf, bytes.substr(11000 - 777, 777));
}

TEST(SliceDeviceTest, ReadPastTheWindowIsOutOfRange) {
  MappedDevice base = Base(Pattern(65536));
  auto slice = NewSliceDevice(&base, 1000, 10000);
  std::string buf(2, '\0');
  EXPECT_CODE(slice->Read(9999, std::as_writable_bytes(std::span(buf))), kOutOfRange);
  EXPECT_CODE(slice->Read(UINT64_MAX, std::as_writable_bytes(std::span(buf))), kOutOfRange);
}

TEST(SliceDeviceTest, ExtentsAreShiftedAndClipped) {
  MappedDevice base = Base(Pattern(65536));
  auto slice = NewSliceDevice(&base, 10000, 40000);  // [10000, 50000)
  std::vector<Extent> all;
  ASSERT_OK(CollectExtents(*slice, 0, 40000, &all));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].offset, 0u);
  EXPECT_EQ(all[0].length, 6384u);
  EXPECT_EQ(all[0].kind, ExtentKind::kData);
  EXPECT_EQ(all[0].host_offset, 10000u);
  EXPECT_EQ(all[1].offset, 6384u);
  EXPECT_EQ(all[1].length, 24576u);
  EXPECT_EQ(all[1].kind, ExtentKind::kZero);
  EXPECT_EQ(all[2].offset, 30960u);
  EXPECT_EQ(all[2].length, 9040u);
  EXPECT_EQ(all[2].host_offset, uint64_t{1} << 20);

  std::vector<Extent> mid;
  ASSERT_OK(slice->Extents(35000, 100, &mid));
  ASSERT_EQ(mid.size(), 1u);
  EXPECT_EQ(mid[0].offset, 35000u);
  EXPECT_EQ(mid[0].length, 100u);
  EXPECT_EQ(mid[0].host_offset, (uint64_t{1} << 20) + 45000 - 40960);
  EXPECT_CODE(slice->Extents(39999, 2, &mid), kOutOfRange);
}

TEST(SliceDeviceTest, DescribeNamesTheWindow) {
  MappedDevice base = Base(Pattern(65536));
  auto slice = NewSliceDevice(&base, 4096, 8192);
  ImageInfo info = slice->Describe();
  EXPECT_EQ(info.format, "fake");
  EXPECT_EQ(info.virtual_size, 8192u);
  ASSERT_EQ(info.notes.size(), 1u);
  EXPECT_THAT(info.notes[0], HasSubstr("8192 bytes at offset 4096"));
  EXPECT_CODE(slice->Write(0, {}), kReadOnly);
}

}  // namespace
}  // namespace imgfs::testing
