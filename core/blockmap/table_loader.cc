// SPDX-License-Identifier: MIT
// Bounded table loading: size checks first, one positional read, then a
// decode of each entry in the table's byte order.
#include "core/blockmap/table_loader.h"

#include <string>

#include "core/util/checked.h"
#include "core/util/endian.h"
#include "core/util/hex.h"

namespace imgfs {
namespace {

template <typename T>
T LoadEntry(const std::byte* p, ByteOrder order) {
  if constexpr (sizeof(T) == 2) {
    return order == ByteOrder::kBig ? LoadBE16(p) : LoadLE16(p);
  } else if constexpr (sizeof(T) == 4) {
    return order == ByteOrder::kBig ? LoadBE32(p) : LoadLE32(p);
  } else {
    static_assert(sizeof(T) == 8, "table entries are 2, 4 or 8 bytes");
    return order == ByteOrder::kBig ? LoadBE64(p) : LoadLE64(p);
  }
}

std::string Name(const TableSpec& spec) { return std::string(spec.format) + ": " + spec.what; }

}  // namespace

std::string ByteSizeText(uint64_t bytes) {
  constexpr uint64_t kKiB = 1024;
  constexpr uint64_t kMiB = kKiB * 1024;
  if (bytes != 0 && bytes % kMiB == 0) {
    return std::to_string(bytes / kMiB) + " MiB";
  }
  if (bytes != 0 && bytes % kKiB == 0) {
    return std::to_string(bytes / kKiB) + " KiB";
  }
  return std::to_string(bytes) + " bytes";
}

template <typename T>
Result<std::vector<T>> ReadTable(const File& file, uint64_t offset, uint64_t entries,
                                 const TableSpec& spec) {
  std::optional<uint64_t> bytes = CheckedMul(entries, sizeof(T));
  if (!bytes || *bytes > spec.max_bytes) {
    return UnsupportedError(Name(spec) + " at " + Hex(offset) + " has " + std::to_string(entries) +
                            " entries, more than the " + ByteSizeText(spec.max_bytes) + " limit");
  }
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file.Size());
  if (!RangeWithin(offset, *bytes, file_size)) {
    return CorruptError(Name(spec) + " at " + Hex(offset) + " extends past end of file (size " +
                        Hex(file_size) + ")");
  }
  std::vector<std::byte> raw(static_cast<size_t>(*bytes));
  const std::string label = Name(spec);
  IMGFS_RETURN_IF_ERROR(file.ReadExactAt(offset, raw, label.c_str()));
  std::vector<T> out(static_cast<size_t>(entries));
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = LoadEntry<T>(raw.data() + i * sizeof(T), spec.order);
  }
  return out;
}

template <typename T>
Result<std::shared_ptr<const Table<T>>> LoadTable(const File& file, Cache& cache,
                                                  const CacheKey& key, uint64_t offset,
                                                  uint64_t entries, const TableSpec& spec) {
  if (auto hit = cache.Get<Table<T>>(key)) {
    return hit;
  }
  IMGFS_ASSIGN_OR_RETURN(std::vector<T> words, ReadTable<T>(file, offset, entries, spec));
  auto table = std::make_shared<Table<T>>();
  table->words = std::move(words);
  cache.Insert(key, table, table->words.size() * sizeof(T));
  return std::shared_ptr<const Table<T>>(std::move(table));
}

template Result<std::vector<uint16_t>> ReadTable(const File&, uint64_t, uint64_t, const TableSpec&);
template Result<std::vector<uint32_t>> ReadTable(const File&, uint64_t, uint64_t, const TableSpec&);
template Result<std::vector<uint64_t>> ReadTable(const File&, uint64_t, uint64_t, const TableSpec&);
template Result<std::shared_ptr<const Table<uint16_t>>> LoadTable(const File&, Cache&,
                                                                  const CacheKey&, uint64_t,
                                                                  uint64_t, const TableSpec&);
template Result<std::shared_ptr<const Table<uint32_t>>> LoadTable(const File&, Cache&,
                                                                  const CacheKey&, uint64_t,
                                                                  uint64_t, const TableSpec&);
template Result<std::shared_ptr<const Table<uint64_t>>> LoadTable(const File&, Cache&,
                                                                  const CacheKey&, uint64_t,
                                                                  uint64_t, const TableSpec&);

}  // namespace imgfs
