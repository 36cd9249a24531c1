// SPDX-License-Identifier: MIT
// TwoLevelTable: L1 and L2 pieces through the Cache, and runs of equal
// mappings inside one L2 piece.
#include "core/blockmap/two_level_table.h"

#include <algorithm>
#include <bit>
#include <string>
#include <unordered_map>

#include "core/util/checked.h"
#include "core/util/hex.h"

namespace imgfs {

Status TwoLevelTable::CheckL1(const TwoLevelLayout& layout, uint64_t file_size,
                              uint64_t max_l1_bytes) {
  std::optional<uint64_t> bytes = CheckedMul(layout.l1_entries, sizeof(uint64_t));
  if (!bytes || *bytes > max_l1_bytes) {
    return UnsupportedError(std::string(layout.format) + ": L1 table of " +
                            std::to_string(layout.l1_entries) + " entries is larger than the " +
                            ByteSizeText(max_l1_bytes) + " limit");
  }
  if (!RangeWithin(layout.l1_offset, *bytes, file_size)) {
    return CorruptError(std::string(layout.format) + ": L1 table at " + Hex(layout.l1_offset) +
                        " extends past end of file (size " + Hex(file_size) + ")");
  }
  return Status::Ok();
}

uint32_t TwoLevelTable::piece_coverage_bits() const {
  return layout_.cluster_bits +
         std::min<uint32_t>(layout_.l2_entry_bits,
                            static_cast<uint32_t>(std::countr_zero(kPieceEntries)));
}

Result<uint64_t> TwoLevelTable::L1Entry(uint64_t l1_index) const {
  const uint64_t piece = l1_index / kPieceEntries;
  const uint64_t first = piece * kPieceEntries;
  const TableSpec spec{layout_.format, "L1 table", layout_.order, kPieceBytes};
  IMGFS_ASSIGN_OR_RETURN(
      std::shared_ptr<const Table<uint64_t>> t,
      LoadTable<uint64_t>(*file_, *cache_, CacheKey{cache_id_, CacheKind::kTable, piece},
                          layout_.l1_offset + first * sizeof(uint64_t),
                          std::min(kPieceEntries, layout_.l1_entries - first), spec));
  return t->words[l1_index - first];
}

Result<std::shared_ptr<const Table<uint64_t>>> TwoLevelTable::L2Piece(uint64_t l2_offset,
                                                                      uint64_t l2_index) const {
  const uint64_t first = l2_index / kPieceEntries * kPieceEntries;
  const uint64_t host = l2_offset + first * sizeof(uint64_t);
  const TableSpec spec{layout_.format, "L2 table", layout_.order, kPieceBytes};
  // Keyed by host offset: two L1 entries naming one table share its pieces.
  return LoadTable<uint64_t>(*file_, *cache_, CacheKey{cache_id_, CacheKind::kMapTable, host}, host,
                             std::min(kPieceEntries, l2_entries() - first), spec);
}

Result<Mapping> TwoLevelTable::Map(uint64_t offset, uint64_t max_length) const {
  const uint32_t cb = layout_.cluster_bits;
  const uint32_t coverage_bits = piece_coverage_bits();
  const uint64_t piece_end = ((offset >> coverage_bits) + 1) << coverage_bits;
  const uint64_t limit = std::min(offset + max_length, piece_end);
  const uint64_t l1_index = offset >> (cb + layout_.l2_entry_bits);
  uint64_t l2_offset = 0;
  if (l1_index < layout_.l1_entries) {
    IMGFS_ASSIGN_OR_RETURN(uint64_t l1_entry, L1Entry(l1_index));
    IMGFS_ASSIGN_OR_RETURN(l2_offset, entries_->L2Offset(l1_index, l1_entry));
  }
  if (l2_offset == 0) {
    Mapping m;
    m.kind = MapKind::kUnallocated;
    m.length = limit - offset;
    return m;
  }
  const uint64_t cluster = offset >> cb;
  const uint64_t l2_mask = l2_entries() - 1;
  IMGFS_ASSIGN_OR_RETURN(std::shared_ptr<const Table<uint64_t>> piece,
                         L2Piece(l2_offset, cluster & l2_mask));
  auto entry_of = [&](uint64_t c) { return piece->words[(c & l2_mask) % kPieceEntries]; };
  const uint64_t cluster_mask = (uint64_t{1} << cb) - 1;
  IMGFS_ASSIGN_OR_RETURN(Mapping m,
                         entries_->Classify(cluster, entry_of(cluster), offset & cluster_mask));
  uint64_t pos = (cluster + 1) << cb;
  if (m.kind != MapKind::kCompressed) {
    while (pos < limit) {
      const uint64_t next_cluster = pos >> cb;
      IMGFS_ASSIGN_OR_RETURN(Mapping next,
                             entries_->Classify(next_cluster, entry_of(next_cluster), 0));
      if (next.kind != m.kind ||
          (m.kind == MapKind::kHost && next.host_offset != m.host_offset + (pos - offset))) {
        break;
      }
      pos += uint64_t{1} << cb;
    }
  }
  m.length = std::min(pos, limit) - offset;
  return m;
}

Status TwoLevelTable::Walk(const std::function<void(uint64_t cluster, uint64_t entry)>& visit,
                           std::vector<std::string>* errors) const {
  std::unordered_map<uint64_t, uint64_t> seen;  // L2 offset -> first L1 index
  // Distinct tables inside the file hold at most file_size / 8 entries
  // unless they overlap; overlapping tables (a hostile image) stop the walk
  // there instead of multiplying it.
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file_->Size());
  uint64_t budget = file_size / sizeof(uint64_t) + kPieceEntries;
  for (uint64_t l1_index = 0; l1_index < layout_.l1_entries; ++l1_index) {
    IMGFS_ASSIGN_OR_RETURN(uint64_t l1_entry, L1Entry(l1_index));
    Result<uint64_t> l2_offset = entries_->L2Offset(l1_index, l1_entry);
    if (!l2_offset.ok()) {
      errors->push_back(l2_offset.status().message());
      continue;
    }
    if (*l2_offset == 0) {
      continue;
    }
    auto [it, fresh] = seen.emplace(*l2_offset, l1_index);
    if (!fresh) {
      errors->push_back(std::string(layout_.format) + ": L2 table at " + Hex(*l2_offset) +
                        " is named by L1 entries " + std::to_string(it->second) + " and " +
                        std::to_string(l1_index));
      continue;
    }
    const uint64_t first_cluster = l1_index << layout_.l2_entry_bits;
    for (uint64_t i = 0; i < l2_entries(); i += kPieceEntries) {
      Result<std::shared_ptr<const Table<uint64_t>>> loaded = L2Piece(*l2_offset, i);
      if (!loaded.ok()) {
        errors->push_back(loaded.status().message());
        break;
      }
      const std::shared_ptr<const Table<uint64_t>>& piece = *loaded;
      if (piece->words.size() > budget) {
        errors->push_back(std::string(layout_.format) + ": L2 tables overlap (at " +
                          Hex(*l2_offset) + "); the walk stops there");
        return Status::Ok();
      }
      budget -= piece->words.size();
      for (size_t j = 0; j < piece->words.size(); ++j) {
        visit(first_cluster + i + j, piece->words[j]);
      }
    }
  }
  return Status::Ok();
}

}  // namespace imgfs
