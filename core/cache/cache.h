// SPDX-License-Identifier: MIT
// Cache: one process-wide, sharded LRU with a byte budget, shared by every
// open device for metadata tables (qcow2 L2 tables, BATs, chunk tables) and
// decompressed chunks. Values are refcounted (shared_ptr), so an entry
// evicted while a reader holds it stays alive until released; the budget
// counts only entries the cache itself holds.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "core/util/mutex.h"

namespace imgfs {

// What an entry holds, so that one device may cache several kinds of thing
// under the same index space (a host offset, a chunk number).
enum class CacheKind : uint32_t {
  kMapTable = 1,  // a block map's lookup tables (qcow2 L2, grain tables, BAT pages)
  kDecoded = 2,   // decompressed (or decrypted) units: chunks, clusters, grains
  kTable = 3,     // other per-format metadata tables
};

struct CacheKey {
  uint64_t device_id = 0;
  CacheKind kind = CacheKind::kTable;
  uint64_t index = 0;
  bool operator==(const CacheKey&) const = default;
};

class Cache {
 public:
  // A capacity of 0 caches nothing (every Lookup misses).
  explicit Cache(uint64_t capacity_bytes);
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;
  ~Cache();

  // A fresh id for a device's keys; never reused in this Cache's lifetime.
  uint64_t NewId();

  // Returns the value or nullptr, and marks it most recently used.
  std::shared_ptr<const void> Lookup(const CacheKey& key);

  // Inserts or replaces. A value whose charge exceeds a shard's capacity is
  // not kept. Evicts least recently used entries to stay within budget.
  void Insert(const CacheKey& key, std::shared_ptr<const void> value, size_t charge_bytes);

  // Drops one entry, if present (a value held elsewhere stays alive).
  void Erase(const CacheKey& key);

  // Drops every entry of one device (when it closes).
  void EraseDevice(uint64_t device_id);

  template <typename T>
  std::shared_ptr<const T> Get(const CacheKey& key) {
    return std::static_pointer_cast<const T>(Lookup(key));
  }

  // Lookup, or on a miss run `load` and insert its result. Concurrent misses
  // on the same key may both load (the second insert wins); loads are pure.
  template <typename T>
  Result<std::shared_ptr<const T>> GetOrLoad(
      const CacheKey& key, const std::function<Result<std::shared_ptr<const T>>()>& load,
      const std::function<size_t(const T&)>& charge) {
    if (auto hit = Get<T>(key)) {
      return hit;
    }
    IMGFS_ASSIGN_OR_RETURN(std::shared_ptr<const T> value, load());
    Insert(key, value, charge(*value));
    return value;
  }

  uint64_t capacity_bytes() const { return capacity_bytes_; }
  // Bytes currently charged (always <= capacity_bytes()).
  uint64_t TotalCharge() const;
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  struct Shard;
  Shard& ShardFor(const CacheKey& key);

  uint64_t capacity_bytes_;
  std::vector<std::unique_ptr<Shard>> shards_;
  Mutex id_mu_;
  uint64_t next_id_ IMGFS_GUARDED_BY(id_mu_) = 1;
};

}  // namespace imgfs
