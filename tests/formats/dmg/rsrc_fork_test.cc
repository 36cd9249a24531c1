// SPDX-License-Identifier: MIT
// The binary resource fork: a round trip through EncodeResourceFork, then
// one mutation per bound ParseResourceFork checks.
#include "formats/dmg/rsrc_fork.h"

#include <gtest/gtest.h>

#include "core/util/endian.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::dmg {
namespace {

std::vector<Resource> Sample() {
  auto bytes = [](const char* s) {
    std::vector<std::byte> v;
    for (; *s != '\0'; ++s) {
      v.push_back(static_cast<std::byte>(*s));
    }
    return v;
  };
  return {
      {kResourceTypeBlkx, -1, 0x50, "Driver Descriptor Map (DDM : 0)", bytes("mish-one")},
      {0x706c7374, 0, 0x50, "", bytes("plst")},  // 'plst'
      {kResourceTypeBlkx, 0, 0x50, "Apple (Apple_partition_map : 1)", bytes("mish-two!")},
  };
}

TEST(ResourceForkTest, RoundTrips) {
  const std::vector<std::byte> fork = EncodeResourceFork(Sample());
  auto blkx = ParseResourceFork(fork, kResourceTypeBlkx);
  ASSERT_OK(blkx);
  ASSERT_EQ(blkx->size(), 2u);
  EXPECT_EQ((*blkx)[0].id, -1);
  EXPECT_EQ((*blkx)[0].name, "Driver Descriptor Map (DDM : 0)");
  EXPECT_EQ((*blkx)[1].data.size(), 9u);
  EXPECT_EQ((*blkx)[1].attributes, 0x50);
  auto plst = ParseResourceFork(fork, 0x706c7374);
  ASSERT_OK(plst);
  ASSERT_EQ(plst->size(), 1u);
  EXPECT_TRUE((*plst)[0].name.empty());
  auto none = ParseResourceFork(fork, 0x12345678);
  ASSERT_OK(none);
  EXPECT_TRUE(none->empty());
}

TEST(ResourceForkTest, Mutations) {
  const std::vector<std::byte> good = EncodeResourceFork(Sample());
  const uint32_t map = LoadBE32(good.data() + 4);
  auto mutate32 = [&](size_t at, uint32_t v) {
    auto b = good;
    StoreBE32(b.data() + at, v);
    return ParseResourceFork(b, kResourceTypeBlkx);
  };
  auto mutate16 = [&](size_t at, uint16_t v) {
    auto b = good;
    StoreBE16(b.data() + at, v);
    return ParseResourceFork(b, kResourceTypeBlkx);
  };
  EXPECT_CODE(ParseResourceFork(std::span(good).first(15), kResourceTypeBlkx), kCorrupt);
  EXPECT_CODE(mutate32(0, 0xfffffff0), kCorrupt);             // data offset
  EXPECT_CODE(mutate32(8, 0x7fffffff), kCorrupt);             // data length
  EXPECT_CODE(mutate32(4, 0xfffffff0), kCorrupt);             // map offset
  EXPECT_CODE(mutate32(12, 4), kCorrupt);                     // map too short
  EXPECT_CODE(mutate16(map + 24, 0xfff0), kCorrupt);          // type list offset
  EXPECT_CODE(mutate16(map + 28, 0x0ffe), kCorrupt);          // type count
  EXPECT_CODE(mutate16(map + 28 + 2 + 4, 0x0ffe), kCorrupt);  // reference count
  EXPECT_CODE(mutate16(map + 28 + 2 + 6, 0xfff0), kCorrupt);  // reference list offset
  // First blkx reference: name offset, then data offset.
  const size_t ref = map + 28 + 2 + 2 * 8;
  EXPECT_CODE(mutate16(ref + 2, 0x7ff0), kCorrupt);
  EXPECT_CODE(mutate32(ref + 4, 0x50fffff0), kCorrupt);
  // Resource length past the data section.
  EXPECT_CODE(mutate32(256, 0x7fffffff), kCorrupt);
}

}  // namespace
}  // namespace imgfs::dmg
