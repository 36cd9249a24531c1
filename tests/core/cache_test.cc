// SPDX-License-Identifier: MIT
#include "core/cache/cache.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace imgfs {
namespace {

CacheKey Key(uint64_t dev, uint64_t i) { return CacheKey{dev, CacheKind::kMapTable, i}; }

TEST(CacheTest, HitAfterInsert) {
  Cache c(1 << 20);
  c.Insert(Key(1, 7), std::make_shared<const int>(42), 4);
  auto v = c.Get<int>(Key(1, 7));
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(*v, 42);
  EXPECT_EQ(c.Get<int>(Key(2, 7)), nullptr);
}

TEST(CacheTest, CapacityIsHonoured) {
  const uint64_t kCap = 64 << 10;
  Cache c(kCap);
  for (uint64_t i = 0; i < 1000; ++i) {
    c.Insert(Key(1, i), std::make_shared<const std::string>(1000, 'x'), 1000);
    ASSERT_LE(c.TotalCharge(), kCap);
  }
  EXPECT_GT(c.TotalCharge(), kCap / 2);
  // The most recent entries survive, the oldest are gone.
  EXPECT_NE(c.Get<std::string>(Key(1, 999)), nullptr);
  EXPECT_EQ(c.Get<std::string>(Key(1, 0)), nullptr);
}

// Both bounds: the budget is never exceeded, and a cache offered twice its
// budget is at least half full (one that never stores fails).
TEST(CacheTest, LargeCapacityShardsFillUpToTheirBudget) {
  const uint64_t kCap = 256ULL << 20;
  Cache c(kCap);
  for (uint64_t i = 0; i < 4096; ++i) {
    c.Insert(Key(3, i), std::make_shared<const int>(1), 128 << 10);
  }
  EXPECT_LE(c.TotalCharge(), kCap);
  EXPECT_GE(c.TotalCharge(), kCap / 2);
  EXPECT_NE(c.Get<int>(Key(3, 4095)), nullptr);  // the newest entry is kept
}

TEST(CacheTest, OversizedValueIsNotKept) {
  Cache c(1024);
  c.Insert(Key(1, 1), std::make_shared<const int>(1), 4096);
  EXPECT_EQ(c.Get<int>(Key(1, 1)), nullptr);
  EXPECT_EQ(c.TotalCharge(), 0u);
}

TEST(CacheTest, ZeroCapacityCachesNothing) {
  Cache c(0);
  c.Insert(Key(1, 1), std::make_shared<const int>(1), 1);
  EXPECT_EQ(c.Get<int>(Key(1, 1)), nullptr);
}

TEST(CacheTest, HeldValueSurvivesEviction) {
  Cache c(100);
  c.Insert(Key(1, 1), std::make_shared<const std::string>("keep"), 60);
  auto held = c.Get<std::string>(Key(1, 1));
  c.Insert(Key(1, 2), std::make_shared<const std::string>("new"), 60);
  EXPECT_EQ(c.Get<std::string>(Key(1, 1)), nullptr);
  EXPECT_EQ(*held, "keep");
}

TEST(CacheTest, EraseOneEntry) {
  Cache c(1 << 20);
  c.Insert(Key(1, 1), std::make_shared<const int>(1), 10);
  c.Insert(Key(1, 2), std::make_shared<const int>(2), 20);
  auto held = c.Get<int>(Key(1, 2));
  c.Erase(Key(1, 2));
  c.Erase(Key(1, 3));  // absent: nothing happens
  EXPECT_EQ(c.Get<int>(Key(1, 2)), nullptr);
  EXPECT_NE(c.Get<int>(Key(1, 1)), nullptr);
  EXPECT_EQ(*held, 2);
  EXPECT_EQ(c.TotalCharge(), 10u);
}

TEST(CacheTest, EraseDevice) {
  Cache c(1 << 20);
  c.Insert(Key(1, 1), std::make_shared<const int>(1), 10);
  c.Insert(Key(2, 1), std::make_shared<const int>(2), 10);
  c.EraseDevice(1);
  EXPECT_EQ(c.Get<int>(Key(1, 1)), nullptr);
  EXPECT_NE(c.Get<int>(Key(2, 1)), nullptr);
  EXPECT_EQ(c.TotalCharge(), 10u);
}

TEST(CacheTest, GetOrLoadLoadsOnce) {
  Cache c(1 << 20);
  int loads = 0;
  auto load = [&]() -> Result<std::shared_ptr<const int>> {
    ++loads;
    return std::make_shared<const int>(5);
  };
  auto charge = [](const int&) -> size_t { return 4; };
  for (int i = 0; i < 3; ++i) {
    auto v = c.GetOrLoad<int>(Key(1, 1), load, charge);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(**v, 5);
  }
  EXPECT_EQ(loads, 1);
}

// Four threads offer 4.7 MiB to a 1 MiB cache: it ends within budget, at
// least half full, and still stores and finds a new entry.
TEST(CacheTest, ConcurrentUseFillsUpToTheBudget) {
  const uint64_t kCap = 1 << 20;
  Cache c(kCap);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c, t] {
      for (uint64_t i = 0; i < 5000; ++i) {
        c.Insert(Key(static_cast<uint64_t>(t), i % 300), std::make_shared<const int>(1), 4096);
        (void)c.Lookup(Key(static_cast<uint64_t>(t), (i * 7) % 300));
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_LE(c.TotalCharge(), kCap);
  EXPECT_GE(c.TotalCharge(), kCap / 2);
  c.Insert(Key(9, 1), std::make_shared<const int>(7), 4096);
  auto v = c.Get<int>(Key(9, 1));
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(*v, 7);
}

}  // namespace
}  // namespace imgfs
