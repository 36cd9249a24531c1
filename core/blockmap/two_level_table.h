// SPDX-License-Identifier: MIT
// TwoLevelTable: the L1 -> L2 -> cluster lookup shared by qcow (version 1)
// and qed, whose maps differ only in byte order, in what an entry may hold
// (qcow: compressed clusters; qed: zero clusters) and in how strictly offsets
// are checked. The table reads both levels in pieces of at most
// kPieceBytes through the shared Cache, so neither an L1 table nor a qed L2
// table (up to 16 clusters of 64 MiB) is ever read whole: what a lookup
// allocates is bounded whatever the header says. The owner says what an
// entry means (TwoLevelEntries); the table turns guest offsets into runs of
// equal Mappings for BlockMapDevice::Map.
//
// Thread-safety: every const method may be called from many threads at
// once (pieces live in the Cache, refcounted).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/blockmap/block_map_device.h"
#include "core/blockmap/table_loader.h"
#include "core/cache/cache.h"
#include "core/io/file.h"
#include "core/result.h"

namespace imgfs {

// What an owner says about the entries of its tables.
class TwoLevelEntries {
 public:
  virtual ~TwoLevelEntries() = default;
  // The host offset of the L2 table that L1 entry `l1_index` (value
  // `entry`) names, 0 when it names none, or kCorrupt (misaligned, past the
  // end of the file).
  virtual Result<uint64_t> L2Offset(uint64_t l1_index, uint64_t entry) const = 0;
  // What guest cluster `cluster`, whose L2 entry is `entry`, maps to, for a
  // run that starts `in_cluster` bytes into it; `length` is left 0. kHost
  // runs of adjacent clusters are joined when their host bytes follow each
  // other; a kCompressed mapping covers one cluster only.
  virtual Result<Mapping> Classify(uint64_t cluster, uint64_t entry, uint64_t in_cluster) const = 0;
};

struct TwoLevelLayout {
  const char* format = "";  // message prefix
  ByteOrder order = ByteOrder::kBig;
  uint32_t cluster_bits = 0;
  uint32_t l2_entry_bits = 0;  // log2 of the entries of one L2 table
  uint64_t l1_offset = 0;
  uint64_t l1_entries = 0;  // entries in use (those covering the disk)
};

class TwoLevelTable {
 public:
  // Table bytes read (and cached) at once.
  static constexpr uint64_t kPieceBytes = uint64_t{64} << 10;
  static constexpr uint64_t kPieceEntries = kPieceBytes / sizeof(uint64_t);

  // REQUIRES: file, cache and entries outlive the table; cluster_bits +
  // l2_entry_bits < 64. `cache_id` is the owner's Cache::NewId().
  TwoLevelTable(const TwoLevelLayout& layout, const File* file, Cache* cache, uint64_t cache_id,
                const TwoLevelEntries* entries)
      : layout_(layout), file_(file), cache_(cache), cache_id_(cache_id), entries_(entries) {}

  // kCorrupt when the L1 table does not lie inside a file of `file_size`
  // bytes; kUnsupported when it has more than `max_l1_bytes`. For Open.
  static Status CheckL1(const TwoLevelLayout& layout, uint64_t file_size, uint64_t max_l1_bytes);

  // The map of guest bytes [offset, offset + max_length), stopping at the
  // end of one piece of an L2 table at most. Errors from the owner or from
  // reading a table (past the end of the file).
  Result<Mapping> Map(uint64_t offset, uint64_t max_length) const;

  // Value of L1 entry `l1_index` (< l1_entries).
  Result<uint64_t> L1Entry(uint64_t l1_index) const;
  // The piece of the L2 table at `l2_offset` holding entry `l2_index`;
  // entry l2_index is words[l2_index % kPieceEntries].
  Result<std::shared_ptr<const Table<uint64_t>>> L2Piece(uint64_t l2_offset,
                                                         uint64_t l2_index) const;

  // For Check: calls visit(cluster, entry) for every L2 entry of every L2
  // table the L1 table names, each table once. L1 entries the owner refuses
  // L2 tables named twice and L2 tables that cannot be read (past the end
  // of the file) are added to `errors`; an unreadable L1 table fails the
  // walk. Work is bounded by the file: every table walked lies in it.
  Status Walk(const std::function<void(uint64_t cluster, uint64_t entry)>& visit,
              std::vector<std::string>* errors) const;

  uint64_t l2_entries() const { return uint64_t{1} << layout_.l2_entry_bits; }
  // Guest bytes one L2 table piece covers (Extents windows), as a power of 2.
  uint32_t piece_coverage_bits() const;
  const TwoLevelLayout& layout() const { return layout_; }

 private:
  const TwoLevelLayout layout_;
  const File* const file_;
  Cache* const cache_;
  const uint64_t cache_id_;
  const TwoLevelEntries* const entries_;
};

}  // namespace imgfs
