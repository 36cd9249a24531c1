// SPDX-License-Identifier: MIT
// Apple Data Compression (ADC), the LZ77 codec of UDCO images (chunk type
// 0x80000004). There is no Apple specification; the byte codes below follow
// the reverse-engineered descriptions (libyal libmodi documentation, the
// decoders of dmg2img and 7-Zip). Each token starts with one byte:
//   1xxxxxxx                    literal run of (x + 1) bytes, 1..128
//   01LLLLLL DDDDDDDD DDDDDDDD  match of (L + 4) bytes, 4..67, offset D + 1
//   00LLLLDD DDDDDDDD           match of (L + 3) bytes, 3..18, offset D + 1
// where the offset counts back from the current output position (so matches
// may overlap their own output, as in run-length encoding). The stream has
// no end marker: it ends when the chunk's output is full.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "core/status.h"

namespace imgfs::codec {

// Decodes `in` into exactly out.size() bytes. A stream that ends before
// `out` is full, whose token runs past `out` or refers back before its
// start is kCorrupt. Bytes of `in` after the token that fills `out` are
// ignored (chunks may be padded). Thread-safe; never touches memory outside
// the two spans.
Status AdcDecompress(std::span<const std::byte> in, std::span<std::byte> out);

// Like AdcDecompress, but the token that reaches out.size() may run past it
// (it is cut there): decodes the first out.size() bytes of a longer stream.
Status AdcDecompressPrefix(std::span<const std::byte> in, std::span<std::byte> out);

// Greedy encoder (match_finder.h: one hash probe per position). Its output decodes with
// AdcDecompress, dmg2img and 7-Zip. Meant for tests and the writer; it is
// not tuned for ratio. Thread-safe.
std::vector<std::byte> AdcCompress(std::span<const std::byte> in);

}  // namespace imgfs::codec
