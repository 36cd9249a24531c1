// SPDX-License-Identifier: MIT
// Deterministic sample data for the DMG codec tests, fuzz seeds and
// benchmarks: a mix of English-like text, small integers, runs of zeros and
// noise, so every codec meets literals, short and long matches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace imgfs::dmg::testing {

inline std::vector<std::byte> MixedData(size_t bytes, uint32_t seed = 1) {
  static constexpr const char* kWords[] = {"the ",    "disk ",  "image ",   "apple ",
                                           "sector ", "chunk ", "koly ",    "mish ",
                                           "lzfse ",  "block ", "volume\n", "of "};
  std::vector<std::byte> out;
  out.reserve(bytes);
  uint32_t x = seed * 2654435761u + 1;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  };
  while (out.size() < bytes) {
    const uint32_t kind = next() % 8;
    const size_t n = 16 + next() % 512;
    for (size_t i = 0; i < n && out.size() < bytes; ++i) {
      std::byte b{};
      if (kind < 4) {
        const std::string_view w = kWords[next() % std::size(kWords)];
        for (char c : w) {
          if (out.size() < bytes) {
            out.push_back(static_cast<std::byte>(c));
          }
        }
        continue;
      }
      if (kind == 4) {
        b = std::byte{0};
      } else if (kind == 5) {
        b = static_cast<std::byte>(i & 0x0f);
      } else {
        b = static_cast<std::byte>(next());
      }
      out.push_back(b);
    }
  }
  return out;
}

inline std::string AsString(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}
inline std::vector<std::byte> AsBytes(const std::string& s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return std::vector<std::byte>(p, p + s.size());
}

}  // namespace imgfs::dmg::testing
