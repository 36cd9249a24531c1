// SPDX-License-Identifier: MIT
// Byte-order helpers for decoding on-disk structures field by field
// (docs/CONTRIBUTING.md#parsing-on-disk-data: no packed struct cast over a buffer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace imgfs {

inline uint16_t LoadLE16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;  // x86-64 and aarch64 Linux are little-endian; see static_assert
}
inline uint32_t LoadLE32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint64_t LoadLE64(const std::byte* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint16_t LoadBE16(const std::byte* p) { return __builtin_bswap16(LoadLE16(p)); }
inline uint32_t LoadBE32(const std::byte* p) { return __builtin_bswap32(LoadLE32(p)); }
inline uint64_t LoadBE64(const std::byte* p) { return __builtin_bswap64(LoadLE64(p)); }

inline void StoreLE16(std::byte* p, uint16_t v) { std::memcpy(p, &v, sizeof v); }
inline void StoreLE32(std::byte* p, uint32_t v) { std::memcpy(p, &v, sizeof v); }
inline void StoreLE64(std::byte* p, uint64_t v) { std::memcpy(p, &v, sizeof v); }
inline void StoreBE16(std::byte* p, uint16_t v) { StoreLE16(p, __builtin_bswap16(v)); }
inline void StoreBE32(std::byte* p, uint32_t v) { StoreLE32(p, __builtin_bswap32(v)); }
inline void StoreBE64(std::byte* p, uint64_t v) { StoreLE64(p, __builtin_bswap64(v)); }

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "imgfs endian helpers assume a little-endian host");

}  // namespace imgfs
