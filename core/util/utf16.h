// SPDX-License-Identifier: MIT
// UTF-16LE to UTF-8, for names stored by Microsoft formats (GPT partition
// names, VHDX creator strings and parent locator keys and values).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/util/endian.h"
#include "core/util/utf8.h"

namespace imgfs {

// Decodes UTF-16LE up to the first NUL (or the end; an odd last byte is
// ignored); unpaired surrogates become U+FFFD.
inline std::string Utf16LeToUtf8(std::span<const std::byte> bytes) {
  constexpr uint32_t kReplacementChar = 0xfffd;
  std::string out;
  const size_t units = bytes.size() / 2;
  for (size_t i = 0; i < units; ++i) {
    uint32_t u = LoadLE16(bytes.data() + 2 * i);
    if (u == 0) {
      break;
    }
    if (u >= 0xd800 && u <= 0xdbff) {
      const uint32_t low = i + 1 < units ? LoadLE16(bytes.data() + 2 * (i + 1)) : 0;
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

}  // namespace imgfs
