// SPDX-License-Identifier: MIT
// Bounded loading of on-disk lookup tables: N fixed-size big- or
// little-endian integers at a host offset (qcow2 L1/L2 tables, VHD/VHDX
// BATs, vmdk grain directories and tables, VDI block maps). Every load is
// checked against the file's size and a named cap before anything is
// allocated; cached loads go through the shared Cache under the caller's key
// and come back refcounted, so a table stays alive while a reader holds it
// even if the cache evicts it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/cache/cache.h"
#include "core/io/file.h"
#include "core/result.h"

namespace imgfs {

enum class ByteOrder : uint8_t { kBig, kLittle };

// How one kind of table is stored and bounded, and what messages call it.
struct TableSpec {
  const char* format = "";  // "qcow2": the message prefix
  const char* what = "";    // "L2 table"
  ByteOrder order = ByteOrder::kBig;
  // The largest table accepted, in bytes: a format's named cap (QEMU's
  // QCOW_MAX_L1_SIZE, a BAT's limit). Larger tables are kUnsupported.
  uint64_t max_bytes = 0;
};

// A decoded table. `words` holds one integer per on-disk entry.
template <typename T>
struct Table {
  std::vector<T> words;
};

// Reads `entries` entries of sizeof(T) bytes (T is uint16_t, uint32_t or
// uint64_t) at `offset` of `file`, uncached. kUnsupported past the cap,
// kCorrupt when the table extends past the end of the file or the file is
// shorter than it says; the message names format, table and offset.
template <typename T>
Result<std::vector<T>> ReadTable(const File& file, uint64_t offset, uint64_t entries,
                                 const TableSpec& spec);

// ReadTable through `cache` under `key`: a hit costs one lookup, a miss
// reads, decodes and inserts (charged at its decoded size). Concurrent
// misses may both read. Thread-safe.
template <typename T>
Result<std::shared_ptr<const Table<T>>> LoadTable(const File& file, Cache& cache,
                                                  const CacheKey& key, uint64_t offset,
                                                  uint64_t entries, const TableSpec& spec);

// "32 MiB", "4 KiB" or "1000 bytes": a cap as messages print it.
std::string ByteSizeText(uint64_t bytes);

extern template Result<std::vector<uint16_t>> ReadTable(const File&, uint64_t, uint64_t,
                                                        const TableSpec&);
extern template Result<std::vector<uint32_t>> ReadTable(const File&, uint64_t, uint64_t,
                                                        const TableSpec&);
extern template Result<std::vector<uint64_t>> ReadTable(const File&, uint64_t, uint64_t,
                                                        const TableSpec&);
extern template Result<std::shared_ptr<const Table<uint16_t>>> LoadTable(const File&, Cache&,
                                                                         const CacheKey&, uint64_t,
                                                                         uint64_t,
                                                                         const TableSpec&);
extern template Result<std::shared_ptr<const Table<uint32_t>>> LoadTable(const File&, Cache&,
                                                                         const CacheKey&, uint64_t,
                                                                         uint64_t,
                                                                         const TableSpec&);
extern template Result<std::shared_ptr<const Table<uint64_t>>> LoadTable(const File&, Cache&,
                                                                         const CacheKey&, uint64_t,
                                                                         uint64_t,
                                                                         const TableSpec&);

}  // namespace imgfs
