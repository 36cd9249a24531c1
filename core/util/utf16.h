// SPDX-License-Identifier: MIT
// UTF-16 to UTF-8 for names stored in images: GPT partition names, VHD and
// VHDX parent locators, VHDX creator strings (little-endian), the VHD parent
// name (big-endian).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/util/endian.h"
#include "core/util/utf8.h"

namespace imgfs {

enum class Utf16Order : uint8_t { kLittle, kBig };

// Decodes UTF-16 up to the first NUL (or the end; an odd last byte is
// ignored); unpaired surrogates become U+FFFD.
inline std::string Utf16ToUtf8(std::span<const std::byte> bytes, Utf16Order order) {
  constexpr uint32_t kReplacementChar = 0xfffd;
  const size_t units = bytes.size() / 2;
  auto unit = [&](size_t i) -> uint32_t {
    const std::byte* p = bytes.data() + 2 * i;
    return order == Utf16Order::kLittle ? LoadLE16(p) : LoadBE16(p);
  };
  std::string out;
  for (size_t i = 0; i < units; ++i) {
    uint32_t u = unit(i);
    if (u == 0) {
      break;
    }
    if (u >= 0xd800 && u <= 0xdbff) {
      const uint32_t low = i + 1 < units ? unit(i + 1) : 0;
      if (low >= 0xdc00 && low <= 0xdfff) {
        u = 0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00);
        ++i;
      } else {
        u = kReplacementChar;
      }
    } else if (u >= 0xdc00 && u <= 0xdfff) {
      u = kReplacementChar;
    }
    AppendUtf8(u, &out);
  }
  return out;
}

// The little-endian form most Microsoft structures use.
inline std::string Utf16LeToUtf8(std::span<const std::byte> bytes) {
  return Utf16ToUtf8(bytes, Utf16Order::kLittle);
}

}  // namespace imgfs
