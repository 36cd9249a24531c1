// SPDX-License-Identifier: MIT
// Sharded LRU: each shard is a list (front = most recent) plus a hash index.
#include "core/cache/cache.h"

#include <algorithm>

namespace imgfs {
namespace {

struct KeyHash {
  size_t operator()(const CacheKey& k) const {
    uint64_t h = k.device_id * 0x9E3779B97F4A7C15ULL;
    h ^= (static_cast<uint64_t>(k.kind) + 0x7F4A7C15ULL) * 0xBF58476D1CE4E5B9ULL;
    h ^= k.index * 0x94D049BB133111EBULL;
    h ^= h >> 31;
    return static_cast<size_t>(h);
  }
};

// Enough shards that readers on two cores rarely meet, few enough that one
// shard still holds a 2 MiB decompressed cluster several times over.
constexpr uint64_t kMinShardBytes = 8ULL << 20;
constexpr size_t kMaxShards = 16;

}  // namespace

struct Cache::Shard {
  struct Entry {
    CacheKey key;
    std::shared_ptr<const void> value;
    size_t charge;
  };
  mutable Mutex mu;
  uint64_t capacity = 0;
  uint64_t usage IMGFS_GUARDED_BY(mu) = 0;
  uint64_t hits IMGFS_GUARDED_BY(mu) = 0;
  uint64_t misses IMGFS_GUARDED_BY(mu) = 0;
  std::list<Entry> lru IMGFS_GUARDED_BY(mu);
  std::unordered_map<CacheKey, std::list<Entry>::iterator, KeyHash> index IMGFS_GUARDED_BY(mu);

  void Remove(const CacheKey& key) IMGFS_REQUIRES(mu) {
    auto it = index.find(key);
    if (it != index.end()) {
      usage -= it->second->charge;
      lru.erase(it->second);
      index.erase(it);
    }
  }

  void EvictTo(uint64_t target) IMGFS_REQUIRES(mu) {
    while (usage > target && !lru.empty()) {
      Entry& e = lru.back();
      usage -= e.charge;
      index.erase(e.key);
      lru.pop_back();
    }
  }
};

Cache::Cache(uint64_t capacity_bytes) : capacity_bytes_(capacity_bytes) {
  size_t n =
      static_cast<size_t>(std::clamp<uint64_t>(capacity_bytes / kMinShardBytes, 1, kMaxShards));
  for (size_t i = 0; i < n; ++i) {
    auto s = std::make_unique<Shard>();
    s->capacity = capacity_bytes / n;
    shards_.push_back(std::move(s));
  }
}

Cache::~Cache() = default;

uint64_t Cache::NewId() {
  MutexLock lock(&id_mu_);
  return next_id_++;
}

Cache::Shard& Cache::ShardFor(const CacheKey& key) {
  return *shards_[KeyHash()(key) % shards_.size()];
}

std::shared_ptr<const void> Cache::Lookup(const CacheKey& key) {
  Shard& s = ShardFor(key);
  MutexLock lock(&s.mu);
  auto it = s.index.find(key);
  if (it == s.index.end()) {
    ++s.misses;
    return nullptr;
  }
  ++s.hits;
  s.lru.splice(s.lru.begin(), s.lru, it->second);
  return it->second->value;
}

void Cache::Insert(const CacheKey& key, std::shared_ptr<const void> value, size_t charge_bytes) {
  Shard& s = ShardFor(key);
  MutexLock lock(&s.mu);
  s.Remove(key);
  if (charge_bytes > s.capacity) {
    return;
  }
  s.EvictTo(s.capacity - charge_bytes);
  s.lru.push_front(Shard::Entry{key, std::move(value), charge_bytes});
  s.index.emplace(key, s.lru.begin());
  s.usage += charge_bytes;
}

void Cache::Erase(const CacheKey& key) {
  Shard& s = ShardFor(key);
  MutexLock lock(&s.mu);
  s.Remove(key);
}

void Cache::EraseDevice(uint64_t device_id) {
  for (auto& sp : shards_) {
    Shard& s = *sp;
    MutexLock lock(&s.mu);
    for (auto it = s.lru.begin(); it != s.lru.end();) {
      if (it->key.device_id == device_id) {
        s.usage -= it->charge;
        s.index.erase(it->key);
        it = s.lru.erase(it);
      } else {
        ++it;
      }
    }
  }
}

uint64_t Cache::TotalCharge() const {
  uint64_t total = 0;
  for (const auto& s : shards_) {
    MutexLock lock(&s->mu);
    total += s->usage;
  }
  return total;
}

uint64_t Cache::hits() const {
  uint64_t total = 0;
  for (const auto& s : shards_) {
    MutexLock lock(&s->mu);
    total += s->hits;
  }
  return total;
}

uint64_t Cache::misses() const {
  uint64_t total = 0;
  for (const auto& s : shards_) {
    MutexLock lock(&s->mu);
    total += s->misses;
  }
  return total;
}

}  // namespace imgfs
