// SPDX-License-Identifier: MIT
// CRC-32 (IEEE 802.3, the zlib polynomial), as used by GPT headers and
// tables and by UDIF checksums. Incremental: pass the previous value.
#pragma once

#include <zlib.h>

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

}  // namespace imgfs
