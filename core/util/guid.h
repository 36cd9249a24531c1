// SPDX-License-Identifier: MIT
// GUIDs as Microsoft stores them (GPT, VHDX): 16 bytes whose first three
// fields are little-endian and last two a plain byte sequence, printed in
// the usual "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" form.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace imgfs {

using Guid = std::array<std::byte, 16>;

// Copies the 16 bytes at `p`. REQUIRES: p points at 16 readable bytes.
inline Guid LoadGuid(const std::byte* p) {
  Guid g;
  for (size_t i = 0; i < g.size(); ++i) {
    g[i] = p[i];
  }
  return g;
}

inline bool IsNullGuid(const Guid& g) {
  for (std::byte b : g) {
    if (b != std::byte{0}) {
      return false;
    }
  }
  return true;
}

// Upper-case hex, 36 characters, no braces.
inline std::string GuidToString(const Guid& guid) {
  // Byte order of the printed hex digits: fields 1-3 are stored
  // little-endian, fields 4-5 as a plain byte sequence.
  static constexpr int kOrder[] = {3,  2, 1, 0,  -1, 5,  4,  -1, 7,  6,
                                   -1, 8, 9, -1, 10, 11, 12, 13, 14, 15};
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string s;
  s.reserve(36);
  for (int i : kOrder) {
    if (i < 0) {
      s.push_back('-');
      continue;
    }
    const auto b = std::to_integer<uint8_t>(guid[static_cast<size_t>(i)]);
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 0xf]);
  }
  return s;
}

}  // namespace imgfs
