// SPDX-License-Identifier: MIT
// Decoding of the cloop head and index (formats/cloop/header.h).
#include "formats/cloop/header.h"

#include <cstring>

#include "core/util/checked.h"
#include "core/util/endian.h"
#include "core/util/hex.h"

namespace imgfs::cloop {
namespace {

bool HasText(std::span<const std::byte> bytes, size_t offset, const char* text, size_t n) {
  return bytes.size() >= offset + n && std::memcmp(bytes.data() + offset, text, n) == 0;
}

// Whether blocks in this image may carry compressor flags.
bool HasFlags(const Head& head) { return head.version == 4; }

}  // namespace

int SignatureVersion(std::span<const std::byte> head) {
  if (HasText(head, kSignatureOffset, kSignatureV2, kSignatureBytes)) {
    return 2;
  }
  if (HasText(head, kSignatureOffset, kSignatureV4, kSignatureBytes)) {
    return 4;
  }
  return 0;
}

std::optional<codec::Codec> CompressorCodec(Compressor c) {
  switch (c) {
    case Compressor::kZlib:
      return codec::Codec::kZlib;
    case Compressor::kXz:
      return codec::Codec::kXz;
    case Compressor::kLz4:
      return codec::Codec::kLz4;
    case Compressor::kLzo:
      return codec::Codec::kLzo;
    case Compressor::kNone:
      break;
  }
  return std::nullopt;
}

std::string CompressorName(Compressor c) {
  switch (c) {
    case Compressor::kZlib:
      return "zlib";
    case Compressor::kNone:
      return "none";
    case Compressor::kXz:
      return "xz";
    case Compressor::kLz4:
      return "lz4";
    case Compressor::kLzo:
      return "lzo";
  }
  return "flag " + std::to_string(static_cast<int>(c));
}

Result<Head> DecodeHead(std::span<const std::byte> first, std::span<const std::byte> last,
                        uint64_t file_size) {
  if (file_size < kHeadBytes || first.size() < kHeadBytes || last.size() < kHeadBytes) {
    return CorruptError("cloop: file of " + std::to_string(file_size) +
                        " bytes is shorter than the 136-byte header");
  }
  Head h;
  std::span<const std::byte> bytes = first;
  if ((h.version = SignatureVersion(first)) == 0) {
    h.version = SignatureVersion(last);
    h.placement = Placement::kHeaderLast;
    bytes = last;
  }
  if (h.version == 0) {
    return CorruptError("cloop: no V2.0 or V4.0 signature at 0xb of the first or last header");
  }
  const std::string where = h.placement == Placement::kHeaderFirst
                                ? std::string("cloop: header at 0x0")
                                : "cloop: header at " + Hex(file_size - kHeadBytes);
  h.block_bytes = LoadBE32(bytes.data() + kBlockSizeOffset);
  h.block_count = LoadBE32(bytes.data() + kBlockCountOffset);
  if (h.block_bytes == 0 || h.block_bytes % 512 != 0) {
    return UnsupportedError(where + ": block size " + std::to_string(h.block_bytes) +
                            " is not a positive multiple of 512");
  }
  if (h.block_bytes > kMaxBlockBytes) {
    return UnsupportedError(where + ": block size " + std::to_string(h.block_bytes) +
                            " is over the 64 MiB cap");
  }
  if (h.index_bytes() > kMaxIndexBytes) {
    return UnsupportedError(where + ": index of " + std::to_string(h.block_count) +
                            " blocks is over the cap of " +
                            std::to_string(kMaxIndexBytes / kIndexEntryBytes - 1));
  }
  if (h.index_bytes() > file_size - kHeadBytes) {
    return CorruptError(where + ": index of " + std::to_string(h.block_count) +
                        " blocks extends past end of file (size " + Hex(file_size) + ")");
  }
  h.index_offset = h.placement == Placement::kHeaderFirst
                       ? kHeadBytes
                       : file_size - kHeadBytes - h.index_bytes();
  return h;
}

Result<std::vector<Block>> DecodeIndex(const Head& head, std::span<const std::byte> bytes,
                                       uint64_t file_size) {
  // Blocks live between these bounds: after the head and index, or before.
  const uint64_t low =
      head.placement == Placement::kHeaderFirst ? head.index_offset + head.index_bytes() : 0;
  const uint64_t high = head.placement == Placement::kHeaderFirst ? file_size : head.index_offset;
  auto entry = [&](uint64_t i) { return LoadBE64(bytes.data() + i * kIndexEntryBytes); };
  auto offset_of = [&](uint64_t e) { return HasFlags(head) ? e & kOffsetMask : e; };
  std::vector<Block> blocks;
  blocks.reserve(head.block_count);
  for (uint64_t i = 0; i < head.block_count; ++i) {
    const uint64_t e = entry(i);
    Block b;
    b.offset = offset_of(e);
    const uint64_t end = offset_of(entry(i + 1));
    b.compressor = HasFlags(head) ? static_cast<Compressor>(e >> kFlagShift) : Compressor::kZlib;
    // Built only for an error: an index has up to millions of entries.
    const auto what = [&] { return "cloop: block " + std::to_string(i) + " at " + Hex(b.offset); };
    if (end < b.offset) {
      return CorruptError(what() + ": the next block starts before it, at " + Hex(end) +
                          " (index offsets must not decrease)");
    }
    if (b.offset < low || end > high) {
      return CorruptError(what() + " (" + std::to_string(end - b.offset) + " bytes) " +
                          (b.offset < low ? "overlaps the header and index" : "leaves the data") +
                          " (data from " + Hex(low) + " to " + Hex(high) + ")");
    }
    b.stored_bytes = end - b.offset;
    if (b.stored_bytes > kMaxStoredBytes) {
      return CorruptError(what() + " is stored in " + std::to_string(b.stored_bytes) +
                          " bytes, over the cap of " + std::to_string(kMaxStoredBytes));
    }
    const std::optional<codec::Codec> c = CompressorCodec(b.compressor);
    if (b.compressor != Compressor::kNone && (!c || !codec::Available(*c))) {
      return UnsupportedError(what() + " is " + CompressorName(b.compressor) +
                              "-compressed, which this imgfs does not decode");
    }
    if (b.compressor == Compressor::kNone && b.stored_bytes < head.block_bytes) {
      return CorruptError(what() + " is stored uncompressed in " + std::to_string(b.stored_bytes) +
                          " bytes, less than the block size " + std::to_string(head.block_bytes));
    }
    blocks.push_back(b);
  }
  return blocks;
}

}  // namespace imgfs::cloop
