// SPDX-License-Identifier: MIT
// qcow2 L1/L2 table loading, cluster descriptor decoding and refcount
// reading (QEMU docs/interop/qcow2.txt, "Cluster mapping", "Compressed
// Clusters Descriptor", "Extended L2 Entries", "Host cluster management").
#include "formats/qcow2/tables.h"

#include "core/util/endian.h"
#include "core/util/hex.h"

namespace imgfs::qcow2 {
namespace {

// Every qcow2 table is an array of big-endian 64-bit words.
TableSpec Spec(const char* what, uint64_t max_bytes) {
  return TableSpec{"qcow2", what, ByteOrder::kBig, max_bytes};
}

Unit DecodeCompressed(const Geometry& g, uint64_t word) {
  // Bits 0..x-1 hold the offset and x..61 the extra sector count, with
  // x = 62 - (cluster_bits - 8).
  uint32_t x = 62 - (g.cluster_bits - 8);
  uint64_t offset = word & ((uint64_t{1} << x) - 1);
  uint64_t extra_sectors = (word >> x) & ((uint64_t{1} << (g.cluster_bits - 8)) - 1);
  uint64_t end = (offset & ~(kSectorBytes - 1)) + (extra_sectors + 1) * kSectorBytes;
  return Unit{UnitKind::kCompressed, offset, end - offset};
}

Status BadEntry(uint64_t l2_offset, uint64_t index, uint64_t word, const char* problem) {
  return CorruptError("qcow2: L2 table at " + Hex(l2_offset) + " entry " + std::to_string(index) +
                      " (" + Hex(word) + ") " + problem);
}

}  // namespace

Geometry GeometryOf(const Header& h) {
  Geometry g;
  g.cluster_bits = h.cluster_bits;
  g.l2_bits = h.l2_bits();
  g.extended_l2 = h.extended_l2();
  g.external_data = h.has_data_file();
  return g;
}

Result<std::vector<uint64_t>> LoadL1(const File& file, const Geometry& /*g*/, uint64_t offset,
                                     uint64_t entries, const char* what) {
  return ReadTable<uint64_t>(file, offset, entries, Spec(what, kMaxL1Bytes));
}

Result<std::shared_ptr<const L2Table>> LoadL2(const File& file, const Geometry& g, Cache* cache,
                                              uint64_t cache_id, uint64_t offset) {
  if (offset % g.cluster_size() != 0) {
    return CorruptError("qcow2: L2 table at " + Hex(offset) + " is not cluster aligned");
  }
  // One cluster of entries; clusters are at most 2 MiB (kMaxClusterBits).
  return LoadTable<uint64_t>(file, *cache, CacheKey{cache_id, CacheKind::kMapTable, offset}, offset,
                             g.cluster_size() / 8,
                             Spec("L2 table", uint64_t{1} << kMaxClusterBits));
}

Result<Unit> DecodeUnit(const Geometry& g, const L2Table& l2, uint64_t l2_offset,
                        uint64_t unit_index) {
  uint64_t entry = g.extended_l2 ? unit_index >> kSubclusterBits : unit_index;
  uint64_t word = g.extended_l2 ? l2.words[entry * 2] : l2.words[entry];
  if (word & kL2Compressed) {
    if (g.external_data) {
      return BadEntry(l2_offset, entry, word, "is compressed in an image with a data file");
    }
    return DecodeCompressed(g, word);
  }
  uint64_t host = word & kL2OffsetMask;
  if (host % g.cluster_size() != 0) {
    return BadEntry(l2_offset, entry, word, "points at an unaligned host cluster");
  }
  bool has_host = host != 0 || (g.external_data && (word & kCopied) != 0);
  if (!g.extended_l2) {
    if (word & kL2ZeroFlag) {
      return Unit{UnitKind::kZero, 0, 0};
    }
    return has_host ? Unit{UnitKind::kData, host, 0} : Unit{UnitKind::kUnallocated, 0, 0};
  }
  uint64_t bitmap = l2.words[entry * 2 + 1];
  uint32_t sc = static_cast<uint32_t>(unit_index & (kSubclusters - 1));
  bool alloc = (bitmap >> sc) & 1;
  bool zero = (bitmap >> (sc + kSubclusters)) & 1;
  if (alloc && zero) {
    return BadEntry(l2_offset, entry, word, "has a subcluster both allocated and zero");
  }
  if (zero) {
    return Unit{UnitKind::kZero, 0, 0};
  }
  if (!alloc) {
    return Unit{UnitKind::kUnallocated, 0, 0};
  }
  if (!has_host) {
    return BadEntry(l2_offset, entry, word, "has allocated subclusters but no host cluster");
  }
  return Unit{UnitKind::kData, host + (uint64_t{sc} << g.unit_bits()), 0};
}

Result<RefcountReader> RefcountReader::Load(const File& file, const Header& h) {
  uint64_t entries = (uint64_t{h.refcount_table_clusters} << h.cluster_bits) / 8;
  IMGFS_ASSIGN_OR_RETURN(std::vector<uint64_t> table,
                         ReadTable<uint64_t>(file, h.refcount_table_offset, entries,
                                             Spec("refcount table", kMaxRefcountTableBytes)));
  return RefcountReader(file, h, std::move(table));
}

uint64_t RefcountReader::entries_per_block() const {
  return (header_.cluster_size() * 8) >> header_.refcount_order;
}

Result<uint64_t> RefcountReader::Get(uint64_t cluster_index) {
  uint64_t per_block = entries_per_block();
  uint64_t table_index = cluster_index / per_block;
  if (table_index >= reftable_.size()) {
    return uint64_t{0};
  }
  uint64_t block = reftable_[table_index] & ~uint64_t{0x1ff};
  if (block == 0) {
    return uint64_t{0};
  }
  if (block % header_.cluster_size() != 0) {
    return CorruptError("qcow2: refcount block at " + Hex(block) + " is not cluster aligned");
  }
  if (block != block_offset_ || block_.empty()) {
    block_.resize(static_cast<size_t>(header_.cluster_size()));
    IMGFS_RETURN_IF_ERROR(file_.ReadExactAt(block, block_, "qcow2: refcount block"));
    block_offset_ = block;
  }
  uint64_t i = cluster_index % per_block;
  uint32_t order = header_.refcount_order;
  if (order < 3) {
    uint32_t bits = 1u << order;
    uint64_t bit_pos = i * bits;
    auto byte = static_cast<uint64_t>(block_[static_cast<size_t>(bit_pos / 8)]);
    return (byte >> (bit_pos % 8)) & ((uint64_t{1} << bits) - 1);
  }
  const std::byte* p = block_.data() + ((i << order) / 8);
  switch (order) {
    case 3:
      return static_cast<uint64_t>(*p);
    case 4:
      return uint64_t{LoadBE16(p)};
    case 5:
      return uint64_t{LoadBE32(p)};
    default:
      return LoadBE64(p);
  }
}

}  // namespace imgfs::qcow2
