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
#include <string_view>
#include <vector>

#include "core/status.h"

namespace imgfs::codec {

// Decodes a whole LZFSE stream (up to and including its end block) into
// exactly out.size() bytes. Anything malformed, a stream that ends early or
// makes more than out.size() bytes is kCorrupt. Bytes after the end block
// are ignored. Thread-safe; never touches memory outside the two spans.
Status LzfseDecompress(std::span<const std::byte> in, std::span<std::byte> out);

// Block kinds the encoder can write. kAuto, like Apple's encoder, writes
// an LZVN block for small inputs (under 4 KiB) and bvx2 blocks otherwise;
// unlike it, never a raw bvx- block (7-Zip 26.02 rejects those in DMGs).
// The others force one kind (tests use them to cover every decoder path;
// 7-Zip also refuses bvx1, which Apple's encoders never write).
enum class LzfseBlockKind { kAuto, kV2, kV1, kLzvn, kRaw };

// "auto", "v2", "v1", "lzvn" or "raw" (for messages and test names).
std::string_view LzfseBlockKindName(LzfseBlockKind kind);

// Encodes `in` as an LZFSE stream that LzfseDecompress and 7-Zip read
// (greedy hash matcher, real FSE entropy coding). Thread-safe.
std::vector<std::byte> LzfseCompress(std::span<const std::byte> in,
                                     LzfseBlockKind kind = LzfseBlockKind::kAuto);

}  // namespace imgfs::codec
