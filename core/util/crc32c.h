// SPDX-License-Identifier: MIT
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by VHDX
// headers, region and log entries ([MS-VHDX] 2.2.2) and by iSCSI/ext4.
// Table-driven and byte-wise: the structures it checks are a few KiB.
// Incremental: pass the previous value.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace imgfs {

namespace crc32c_detail {
constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) {
      c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78U : c >> 1;
    }
    t[i] = c;
  }
  return t;
}
inline constexpr std::array<uint32_t, 256> kTable = MakeTable();
}  // namespace crc32c_detail

inline uint32_t Crc32c(std::span<const std::byte> data, uint32_t crc = 0) {
  uint32_t c = ~crc;
  for (std::byte b : data) {
    c = crc32c_detail::kTable[(c ^ std::to_integer<uint32_t>(b)) & 0xff] ^ (c >> 8);
  }
  return ~c;
}

}  // namespace imgfs
