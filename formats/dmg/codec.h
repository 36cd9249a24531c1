// SPDX-License-Identifier: MIT
// Chunk codecs of UDIF images: ADC, zlib, bzip2, LZFSE (with LZVN) and LZMA
// (xz). Decoders are pure functions of their input, safe from many threads
// (per-thread codec state lives inside codec.cc) and never write outside
// `out`; they are fuzzed (tests/fuzz/).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "formats/dmg/udif.h"

namespace imgfs::dmg {

// Human name of a chunk type for `info` and errors ("zlib", "lzfse", ...).
std::string_view ChunkTypeName(ChunkType type);

// True for the compressed kinds this build can decode.
bool CanDecompress(ChunkType type);

// Decompresses one chunk into exactly out.size() bytes (the chunk's
// sector_count * 512). A stream that ends early, runs past out.size() or is
// malformed is kCorrupt with a message naming the codec; an unknown type is
// kUnsupported. REQUIRES: type is a compressed kind.
Status DecompressChunk(ChunkType type, std::span<const std::byte> in, std::span<std::byte> out);

// Compresses `in` as one chunk of `type` (kZlib, kBzip2, kLzma, kAdc and
// kLzfse). level < 0 means the codec's default. The result may be larger
// than `in`; the writer then stores a raw chunk instead.
Result<std::vector<std::byte>> CompressChunk(ChunkType type, int level,
                                             std::span<const std::byte> in);

}  // namespace imgfs::dmg
