// SPDX-License-Identifier: MIT
// CRC-32 (IEEE 802.3, the zlib polynomial), as used by GPT headers and
// tables and by UDIF checksums. Incremental: pass the previous value.
#pragma once

#include <zlib.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace imgfs {

inline uint32_t Crc32(std::span<const std::byte> data, uint32_t crc = 0) {
  unsigned long c = crc;  // NOLINT(google-runtime-int): zlib's type
  const auto* p = reinterpret_cast<const Bytef*>(data.data());
  size_t left = data.size();
  while (left > 0) {
    uInt n = left > (1U << 30) ? (1U << 30) : static_cast<uInt>(left);
    c = crc32(c, p, n);
    p += n;
    left -= n;
  }
  return static_cast<uint32_t>(c);
}

// The CRC-32 of A followed by B, from crc(A), crc(B) and B's length.
inline uint32_t CrcCombine(uint32_t crc, uint32_t next, uint64_t next_length) {
  return static_cast<uint32_t>(crc32_combine(crc, next, static_cast<z_off_t>(next_length)));
}

// CRC-32 of `length` zero bytes, in O(log length): a checksum over a huge
// zero run costs nothing, however large a (possibly hostile) image claims it.
inline uint32_t Crc32OfZeros(uint64_t length) {
  // z(2n) = combine(z(n), z(n), n); z(n + 1) = combine(z(n), z(1), 1).
  static const uint32_t kOneZero = Crc32(std::array<std::byte, 1>{});
  uint32_t crc = 0;
  uint64_t done = 0;
  for (int bit = 63; bit >= 0; --bit) {
    if (done != 0) {
      crc = CrcCombine(crc, crc, done);
      done *= 2;
    }
    if ((length >> bit) & 1) {
      crc = CrcCombine(crc, kOneZero, 1);
      done += 1;
    }
  }
  return crc;
}

}  // namespace imgfs
