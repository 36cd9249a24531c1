// SPDX-License-Identifier: MIT
// UDIF chunk type -> codec library mapping. LZMA chunks (type 0x80000008,
// "ULMO" images) are xz streams (codec::Codec::kXz).
#include "formats/dmg/codec.h"

#include <cstdint>
#include <string>

#include "core/util/hex.h"

namespace imgfs::dmg {
namespace {

Status NotCompressed(ChunkType type) {
  return UnsupportedError("dmg: chunk type " + Hex(static_cast<uint32_t>(type)) +
                          " is not a known compressed kind");
}

}  // namespace

std::optional<codec::Codec> ChunkCodec(ChunkType type) {
  switch (type) {
    case ChunkType::kAdc:
      return codec::Codec::kAdc;
    case ChunkType::kZlib:
      return codec::Codec::kZlib;
    case ChunkType::kBzip2:
      return codec::Codec::kBzip2;
    case ChunkType::kLzfse:
      return codec::Codec::kLzfse;
    case ChunkType::kLzma:
      return codec::Codec::kXz;
    default:
      return std::nullopt;
  }
}

std::string_view ChunkTypeName(ChunkType type) {
  switch (type) {
    case ChunkType::kZeroFill:
      return "zero";
    case ChunkType::kRaw:
      return "raw";
    case ChunkType::kIgnore:
      return "ignore";
    case ChunkType::kAdc:
      return "adc";
    case ChunkType::kZlib:
      return "zlib";
    case ChunkType::kBzip2:
      return "bzip2";
    case ChunkType::kLzfse:
      return "lzfse";
    case ChunkType::kLzma:
      return "lzma";
    case ChunkType::kComment:
      return "comment";
    case ChunkType::kTerminator:
      return "terminator";
  }
  return "unknown";
}

bool CanDecompress(ChunkType type) {
  const std::optional<codec::Codec> c = ChunkCodec(type);
  return c.has_value() && codec::Available(*c);
}

Status DecompressChunk(ChunkType type, std::span<const std::byte> in, std::span<std::byte> out) {
  const std::optional<codec::Codec> c = ChunkCodec(type);
  if (!c.has_value()) {
    return NotCompressed(type);
  }
  return codec::Decompress(*c, in, out);
}

Result<std::vector<std::byte>> CompressChunk(ChunkType type, int level,
                                             std::span<const std::byte> in) {
  const std::optional<codec::Codec> c = ChunkCodec(type);
  if (!c.has_value()) {
    return NotCompressed(type);
  }
  return codec::Compress(*c, level, in);
}

}  // namespace imgfs::dmg
