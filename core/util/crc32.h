// SPDX-License-Identifier: MIT
// CRC-32 (IEEE 802.3, the zlib polynomial), as used by GPT headers and
// tables and by UDIF checksums. Incremental: pass the previous value.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace imgfs {

// ISA-L's CRC-32 (about 20x zlib's) when imgfs is built with it, else
// zlib's (crc32.cc): DMG writes checksum every chunk twice.
uint32_t Crc32(std::span<const std::byte> data, uint32_t crc = 0);

// The CRC-32 of A followed by B, from crc(A), crc(B) and B's length.
inline uint32_t CrcCombine(uint32_t crc, uint32_t next, uint64_t next_length) {
  return static_cast<uint32_t>(crc32_combine(crc, next, static_cast<z_off_t>(next_length)));
}

// The CRC-32 of A followed by `zeros` zero bytes, from crc(A), in
// O(log zeros): a checksum over a huge zero run costs nothing, however large
// a (possibly hostile) image claims it. Zero bytes multiply the CRC register
// (crc ^ ~0) by x^(8 zeros) mod P, which is crc32_combine(register, 0, zeros).
inline uint32_t Crc32ZeroExtend(uint32_t crc, uint64_t zeros) {
  constexpr uint64_t kStep = uint64_t{1} << 62;  // keeps z_off_t positive
  uLong reg = crc ^ 0xffffffffU;                 // NOLINT(google-runtime-int): zlib's type
  while (zeros > 0) {
    const uint64_t n = zeros < kStep ? zeros : kStep;
    reg = crc32_combine(reg, 0, static_cast<z_off_t>(n));
    zeros -= n;
  }
  return static_cast<uint32_t>(reg ^ 0xffffffffU);
}

inline uint32_t Crc32OfZeros(uint64_t length) { return Crc32ZeroExtend(0, length); }

}  // namespace imgfs
