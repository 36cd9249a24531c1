// SPDX-License-Identifier: MIT
// ForwardingBlockDevice: every call reaches the inner device unchanged, an
// owned inner device takes writes, a borrowed one is read-only, and a
// subclass that overrides one method keeps forwarding the rest.
#include "core/forwarding_device.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/testing/memory_block_device.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using ::testing::ElementsAre;
using testing::Ext;
using testing::MemoryBlockDevice;

// A memory device that also answers the optional BlockDevice calls, so that
// forwarding them can be told apart from the defaults.
class FullDevice final : public MemoryBlockDevice {
 public:
  explicit FullDevice(std::string bytes) : MemoryBlockDevice(bytes) { info().format = "full"; }
  const BlockDevice* backing() const override { return this; }
  Result<std::unique_ptr<BlockDevice>> OpenSnapshot(std::string_view id) const override {
    return NotFoundError("full: no snapshot " + std::string(id));
  }
  Result<CheckReport> Check() const override {
    CheckReport report;
    report.checked.push_back("full: everything");
    return report;
  }
  Status Discard(uint64_t /*offset*/, uint64_t /*length_bytes*/) override {
    ++discards;
    return Status::Ok();
  }
  Status Flush() override {
    ++flushes;
    return Status::Ok();
  }
  int discards = 0;
  int flushes = 0;
};

std::span<const std::byte> Bytes(const std::string& s) { return std::as_bytes(std::span(s)); }

TEST(ForwardingBlockDeviceTest, OwnedForwardsEveryCall) {
  auto inner = std::make_unique<FullDevice>("0123456789");
  FullDevice* raw = inner.get();
  raw->SetExtents({Ext(0, 4, ExtentKind::kData), Ext(4, 6, ExtentKind::kZero)});
  ForwardingBlockDevice dev(std::move(inner));

  EXPECT_EQ(dev.Size(), 10u);
  std::string buf(3, '\0');
  ASSERT_OK(dev.Read(2, std::as_writable_bytes(std::span(buf))));
  EXPECT_EQ(buf, "234");
  ASSERT_OK(dev.Write(0, Bytes("ab")));
  ASSERT_OK(dev.Read(0, std::as_writable_bytes(std::span(buf))));
  EXPECT_EQ(buf, "ab2");
  ASSERT_OK(dev.Discard(0, 1));
  ASSERT_OK(dev.Flush());
  EXPECT_EQ(raw->discards, 1);
  EXPECT_EQ(raw->flushes, 1);

  std::vector<Extent> extents;
  ASSERT_OK(dev.Extents(2, 5, &extents));
  ASSERT_EQ(extents.size(), 2u);
  EXPECT_EQ(extents[0].length, 2u);
  EXPECT_EQ(extents[1].kind, ExtentKind::kZero);

  EXPECT_EQ(dev.Describe().format, "full");
  EXPECT_EQ(dev.backing(), raw);
  EXPECT_CODE(dev.OpenSnapshot("s1"), kNotFound);
  auto report = dev.Check();
  ASSERT_OK(report);
  EXPECT_THAT(report->checked, ElementsAre("full: everything"));
  EXPECT_EQ(&dev.target(), raw);
}

TEST(ForwardingBlockDeviceTest, BorrowedReadsButRefusesWrites) {
  FullDevice inner("abcdef");
  ForwardingBlockDevice dev(&inner);
  std::string buf(2, '\0');
  ASSERT_OK(dev.Read(4, std::as_writable_bytes(std::span(buf))));
  EXPECT_EQ(buf, "ef");
  EXPECT_CODE(dev.Write(0, Bytes("x")), kReadOnly);
  EXPECT_CODE(dev.Discard(0, 1), kReadOnly);
  EXPECT_EQ(inner.discards, 0);
  EXPECT_EQ(dev.backing(), &inner);
}

TEST(ForwardingBlockDeviceTest, SubclassOverridesOnlyWhatItChanges) {
  class Renamed final : public ForwardingBlockDevice {
   public:
    using ForwardingBlockDevice::ForwardingBlockDevice;
    ImageInfo Describe() const override {
      ImageInfo info = target().Describe();
      info.format = "renamed";
      return info;
    }
  };
  Renamed dev(std::make_unique<FullDevice>("xyz"));
  EXPECT_EQ(dev.Describe().format, "renamed");
  EXPECT_EQ(dev.Describe().virtual_size, 3u);
  EXPECT_EQ(dev.Size(), 3u);
  EXPECT_CODE(dev.OpenSnapshot("s"), kNotFound);
  std::string buf(4, '\0');
  EXPECT_CODE(dev.Read(0, std::as_writable_bytes(std::span(buf))), kOutOfRange);
}

}  // namespace
}  // namespace imgfs
