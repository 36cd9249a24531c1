// SPDX-License-Identifier: MIT
// Input layout shared by the codec fuzzers (adc, lzfse, lzvn, codec): three
// little-endian bytes give the output size (at most kMaxOutBytes), the rest
// is the compressed stream. The decoder must never touch memory outside its
// buffers; then the rest is also round-tripped through our encoder, whose
// output must decode back exactly (a mismatch aborts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

namespace imgfs::fuzz {

inline constexpr size_t kCodecHeaderBytes = 3;
// 256 KiB: several LZFSE blocks, yet fast per input.
inline constexpr size_t kMaxOutBytes = 256u << 10;

struct CodecInput {
  size_t out_bytes = 0;
  std::span<const std::byte> stream;
};

inline bool SplitCodecInput(const uint8_t* data, size_t size, CodecInput* in) {
  if (size < kCodecHeaderBytes) {
    return false;
  }
  const size_t n = data[0] | (size_t{data[1]} << 8) | (size_t{data[2]} << 16);
  in->out_bytes = n % (kMaxOutBytes + 1);
  in->stream = std::span(reinterpret_cast<const std::byte*>(data) + kCodecHeaderBytes,
                         size - kCodecHeaderBytes);
  return true;
}

// Aborts unless `decode` restores `plain` from `packed`.
template <typename Decode>
void CheckRoundTrip(std::span<const std::byte> plain, std::span<const std::byte> packed,
                    Decode decode) {
  std::vector<std::byte> back(plain.size());
  if (!decode(packed, std::span(back)).ok() ||
      (!plain.empty() && std::memcmp(back.data(), plain.data(), plain.size()) != 0)) {
    std::abort();
  }
}

}  // namespace imgfs::fuzz
