// SPDX-License-Identifier: MIT
// Sizes as users type them ("64k", "256M", "1G"): shared by the CLI
// (--cache-size) and format writers' options (dmg chunk_size=1M).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace imgfs {

// "256M", "1G", "4096", "64k" -> bytes (K/M/G/T suffixes, powers of 1024;
// also B, KiB, MiB, GiB, TiB). kInvalidArgument for anything else and for
// sizes past 2^64 - 1.
inline Result<uint64_t> ParseSize(std::string_view text) {
  uint64_t value = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (__builtin_mul_overflow(value, 10, &value) ||
        __builtin_add_overflow(value, static_cast<uint64_t>(text[i] - '0'), &value)) {
      return InvalidArgumentError("size '" + std::string(text) + "' is too large");
    }
  }
  if (i == 0) {
    return InvalidArgumentError("'" + std::string(text) + "' is not a size");
  }
  std::string_view suffix = text.substr(i);
  unsigned shift = 0;
  if (suffix.empty() || suffix == "B" || suffix == "b") {
    shift = 0;
  } else if (suffix == "K" || suffix == "k" || suffix == "KiB") {
    shift = 10;
  } else if (suffix == "M" || suffix == "m" || suffix == "MiB") {
    shift = 20;
  } else if (suffix == "G" || suffix == "g" || suffix == "GiB") {
    shift = 30;
  } else if (suffix == "T" || suffix == "t" || suffix == "TiB") {
    shift = 40;
  } else {
    return InvalidArgumentError("size '" + std::string(text) +
                                "' has an unknown suffix (use K, M, G or T)");
  }
  if (shift != 0 && value > (UINT64_MAX >> shift)) {
    return InvalidArgumentError("size '" + std::string(text) + "' is too large");
  }
  return value << shift;
}

}  // namespace imgfs
