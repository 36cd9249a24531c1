// SPDX-License-Identifier: MIT
// UDIF chunk types mapped onto the codec library (core/codec/codec.h):
// ADC, zlib, bzip2, LZFSE (with LZVN) and LZMA (xz). The codecs themselves,
// their per-thread state and their contracts live there; this file only
// says which chunk type is which codec.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/codec/codec.h"
#include "core/result.h"
#include "formats/dmg/udif.h"

namespace imgfs::dmg {

// The codec of a compressed chunk type; nullopt for the other types.
std::optional<codec::Codec> ChunkCodec(ChunkType type);

// Human name of a chunk type for `info` and errors ("zlib", "lzfse", ...).
std::string_view ChunkTypeName(ChunkType type);

// True for the compressed kinds this build can decode.
bool CanDecompress(ChunkType type);

// Decompresses one chunk into exactly out.size() bytes (the chunk's
// sector_count * 512), as codec::Decompress: a stream that ends early, runs
// past out.size() or is malformed is kCorrupt with a message naming the
// codec; a type that is not a compressed kind, or whose codec this build
// lacks, is kUnsupported. Thread-safe.
Status DecompressChunk(ChunkType type, std::span<const std::byte> in, std::span<std::byte> out);

// Compresses `in` as one chunk of `type` (kZlib, kBzip2, kLzma, kAdc and
// kLzfse), as codec::Compress. level < 0 means the codec's default. The
// result may be larger than `in`; the writer then stores a raw chunk instead.
Result<std::vector<std::byte>> CompressChunk(ChunkType type, int level,
                                             std::span<const std::byte> in);

}  // namespace imgfs::dmg
