// SPDX-License-Identifier: MIT
// Helpers of the codec tests: an output buffer inside guard bytes that no
// decoder may touch (decoders written in assembly, ISA-L's, are not seen by
// ASan, so the guards are the check), and incompressible noise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace imgfs::codec {

inline std::vector<std::byte> Noise(size_t bytes, uint32_t seed) {
  std::vector<std::byte> out(bytes);
  for (auto& b : out) {
    seed = seed * 1103515245 + 12345;
    b = static_cast<std::byte>(seed >> 24);
  }
  return out;
}

class GuardedOut {
 public:
  explicit GuardedOut(size_t bytes) : buf_(kGuard + bytes + kGuard, kCanary), bytes_(bytes) {}
  std::span<std::byte> out() { return std::span(buf_).subspan(kGuard, bytes_); }
  bool GuardsIntact() const {
    for (size_t i = 0; i < kGuard; ++i) {
      if (buf_[i] != kCanary || buf_[kGuard + bytes_ + i] != kCanary) {
        return false;
      }
    }
    return true;
  }

 private:
  static constexpr size_t kGuard = 64;
  static constexpr std::byte kCanary{0xa5};
  std::vector<std::byte> buf_;
  size_t bytes_;
};

}  // namespace imgfs::codec
