// SPDX-License-Identifier: MIT
// qcow2 L1/L2 tables and refcounts (QEMU docs/interop/qcow2.txt, "Cluster
// mapping", "Extended L2 Entries" and "Host cluster management"). Entries
// are decoded into plain values; the device and the checker walk them.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/blockmap/table_loader.h"
#include "core/cache/cache.h"
#include "core/io/file.h"
#include "core/result.h"
#include "core/util/sector.h"
#include "formats/qcow2/header.h"

namespace imgfs::qcow2 {

// L1 entry: bits 9-55 hold the L2 table offset, bit 63 "copied"; bits 1-8
// and 56-62 are reserved (spec "Cluster mapping").
inline constexpr uint64_t kL1OffsetMask = 0x00fffffffffffe00ull;
inline constexpr uint64_t kL1ReservedMask = 0x7f000000000001feull;
// Standard cluster descriptor: bit 0 "all zeros", bits 9-55 host offset.
inline constexpr uint64_t kL2OffsetMask = 0x00fffffffffffe00ull;
inline constexpr uint64_t kL2ZeroFlag = 1ull << 0;
inline constexpr uint64_t kL2Compressed = 1ull << 62;
inline constexpr uint64_t kCopied = 1ull << 63;
// Reserved bits of a standard descriptor (1-8, 56-61).
inline constexpr uint64_t kL2StandardReservedMask = 0x3f000000000001feull;
// Extended L2: 32 subclusters per cluster.
inline constexpr uint32_t kSubclusterBits = 5;
inline constexpr uint32_t kSubclusters = 1u << kSubclusterBits;
// Compressed clusters are counted in 512-byte sectors.
using ::imgfs::kSectorBytes;

// What one cluster or subcluster of the guest disk maps to.
enum class UnitKind : uint8_t { kUnallocated, kZero, kData, kCompressed };

struct Unit {
  UnitKind kind = UnitKind::kUnallocated;
  uint64_t host_offset = 0;       // kData: where the unit starts; kCompressed: stream start
  uint64_t compressed_bytes = 0;  // kCompressed: bytes from host_offset (sector rounded)
};

// A decoded L2 table: the raw entries (1 or 2 words per entry).
using L2Table = Table<uint64_t>;

// Geometry derived from the header, shared by the device and the checker.
struct Geometry {
  uint32_t cluster_bits = 16;
  uint32_t l2_bits = 13;  // log2 entries per L2 table
  bool extended_l2 = false;
  bool external_data = false;  // host offset 0 is valid with "copied" set

  uint64_t cluster_size() const { return uint64_t{1} << cluster_bits; }
  // log2 of the allocation unit: a cluster, or a subcluster with extended L2.
  uint32_t unit_bits() const { return extended_l2 ? cluster_bits - kSubclusterBits : cluster_bits; }
  uint64_t l2_entries() const { return uint64_t{1} << l2_bits; }
  // Guest bytes mapped by one L2 table.
  uint32_t l2_coverage_bits() const { return cluster_bits + l2_bits; }
};

Geometry GeometryOf(const Header& h);

// Reads and validates an L1 table of `entries` at `offset` (entries must
// point inside the file and be cluster aligned). kCorrupt on bad entries.
Result<std::vector<uint64_t>> LoadL1(const File& file, const Geometry& g, uint64_t offset,
                                     uint64_t entries, const char* what);

// Reads the L2 table at `offset` through the cache (CacheKind::kMapTable,
// index = offset) with the shared table loader. Thread-safe.
Result<std::shared_ptr<const L2Table>> LoadL2(const File& file, const Geometry& g, Cache* cache,
                                              uint64_t cache_id, uint64_t offset);

// Classifies the unit `unit_index` (cluster index in the table, or
// cluster * 32 + subcluster with extended L2) of an L2 table that lives at
// `l2_offset`. kCorrupt for invalid entries.
Result<Unit> DecodeUnit(const Geometry& g, const L2Table& l2, uint64_t l2_offset,
                        uint64_t unit_index);

// The refcount of host cluster `cluster_index`, or kCorrupt / 0 for
// clusters past the refcount table.
class RefcountReader {
 public:
  RefcountReader(const File& file, const Header& h, std::vector<uint64_t> reftable)
      : file_(file), header_(h), reftable_(std::move(reftable)) {}
  static Result<RefcountReader> Load(const File& file, const Header& h);
  Result<uint64_t> Get(uint64_t cluster_index);
  const std::vector<uint64_t>& reftable() const { return reftable_; }
  uint64_t entries_per_block() const;

 private:
  const File& file_;
  const Header& header_;
  std::vector<uint64_t> reftable_;
  uint64_t block_offset_ = 0;
  std::vector<std::byte> block_;
};

}  // namespace imgfs::qcow2
