// SPDX-License-Identifier: MIT
// LZVN, the byte-oriented LZ77 sub-format of LZFSE ("bvxn" blocks). Each
// opcode byte carries a literal length L (0-3 inline, or up to 271), a match
// length M and a distance D, in one of these forms (bits high to low):
//   LLMMMDDD DDDDDDDD            small distance, M = MMM + 3, D < 2048
//   LLMMM111 DDDDDDDD DDDDDDDD   large distance (16-bit little-endian D)
//   LLMMM110                     previous distance
//   101LLMMM DDDDDDMM DDDDDDDD   medium distance (M 5 bits + 3, D 14 bits)
//   1110LLLL / 11100000 LLLLLLLL literal only (L, or 16 + the byte)
//   1111MMMM / 11110000 MMMMMMMM match only at the previous distance
//   00000110 + 7 bytes           end of stream; 00001110, 00010110 no-ops
// Literal bytes follow their opcode. Other opcodes are invalid.
#pragma once

#include <cstddef>
#include <cstring>
#include <span>
#include <vector>

#include "core/status.h"

namespace imgfs::codec::lzfse {

// Copies m bytes from p - d to p front to back, so an overlapping match
// (d < m) repeats its pattern. REQUIRES: d >= 1 and both ranges in bounds.
inline void CopyMatch(std::byte* p, size_t d, size_t m) {
  if (d >= m) {
    std::memcpy(p, p - d, m);
    return;
  }
  const std::byte* src = p - d;
  for (size_t i = 0; i < m; ++i) {
    p[i] = src[i];
  }
}

// Decodes an LZVN stream that writes out[out_begin, out_end) and then ends
// with the end-of-stream opcode inside `in`. Matches may reach back to
// out[0] (earlier blocks of the same LZFSE stream). kCorrupt otherwise.
// *in_used (optional) receives the bytes read, including the end opcode.
Status LzvnDecode(std::span<const std::byte> in, std::span<std::byte> out, size_t out_begin,
                  size_t out_end, size_t* in_used = nullptr);

// Encodes `in` (greedy matcher) as an LZVN stream ending with the
// end-of-stream opcode.
std::vector<std::byte> LzvnEncode(std::span<const std::byte> in);

}  // namespace imgfs::codec::lzfse
