// SPDX-License-Identifier: MIT
// LZFSE, Apple's LZ77 + finite-state-entropy codec (chunk type 0x80000007),
// with its LZVN sub-format. Written from the format as implemented by the
// reference implementation (github lzfse/lzfse); no code is shared with it.
// A stream is a sequence of blocks, each starting with a 4-byte magic:
//   "bvx-" raw, "bvxn" LZVN, "bvx1" LZFSE with a plain header,
//   "bvx2" LZFSE with a packed header, "bvx$" end of stream.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "core/status.h"

namespace imgfs::dmg {

// Decodes a whole LZFSE stream (up to and including its end block) into
// exactly out.size() bytes. Anything malformed, a stream that ends early or
// makes more than out.size() bytes is kCorrupt. Bytes after the end block
// are ignored. Thread-safe; never touches memory outside the two spans.
Status LzfseDecompress(std::span<const std::byte> in, std::span<std::byte> out);

// Encodes `in` as an LZFSE stream that LzfseDecompress, Apple's decoder
// and 7-Zip read. Thread-safe.
std::vector<std::byte> LzfseCompress(std::span<const std::byte> in);

}  // namespace imgfs::dmg
