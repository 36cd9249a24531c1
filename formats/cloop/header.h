// SPDX-License-Identifier: MIT
// The cloop (compressed loop) image layout. Sources: the cloop kernel
// module's compressed_loop.h / cloop.h (Knoppix, versions 2.x and 4.x) and
// qemu's block/cloop.c, which reads version 2. All numbers big-endian.
//
//   head (136 bytes): a 128-byte preamble (a shell script; the version
//   signature "V2.0" or "V4.0" sits at 0x0b, after "#!/bin/sh\n#"), then
//   block_size (u32) and num_blocks (u32).
//   index: num_blocks + 1 u64 entries; block i is stored from entry i to
//   entry i + 1 (offsets from the start of the file).
//
// Header first (every V2.0 image create_compressed_fs writes, and V4.0
// "robust" images): head at 0, index right after it, blocks after that.
// Header last (V4.0 "streaming" images; the kernel accepts V2.0 so too):
// blocks, then the index, then the head in the file's last 136 bytes.
//
// V2.0 blocks are zlib streams. In V4.0 the top 4 bits of each index entry
// are the block's compressor (0 zlib, 1 none, 2 xz, 3 lz4, 4 lzo1x) and
// the low 60 bits its offset. Every block decodes to block_size bytes; the
// disk is num_blocks * block_size bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/codec/codec.h"
#include "core/result.h"

namespace imgfs::cloop {

inline constexpr size_t kPreambleBytes = 128;
inline constexpr size_t kHeadBytes = 136;  // preamble + block_size + num_blocks
inline constexpr size_t kBlockSizeOffset = 128;
inline constexpr size_t kBlockCountOffset = 132;
inline constexpr size_t kSignatureOffset = 0x0b;
inline constexpr char kShebang[] = "#!/bin/sh\n#";
inline constexpr char kSignatureV2[] = "V2.0";
inline constexpr char kSignatureV4[] = "V4.0";
inline constexpr size_t kSignatureBytes = 4;
inline constexpr size_t kIndexEntryBytes = 8;

// V4.0 compressor flags (compressed_loop.h CLOOP_COMPRESSOR_*).
enum class Compressor : uint8_t { kZlib = 0, kNone = 1, kXz = 2, kLz4 = 3, kLzo = 4 };
inline constexpr int kFlagShift = 60;
inline constexpr uint64_t kOffsetMask = (uint64_t{1} << kFlagShift) - 1;

// Caps. qemu's: blocks of at most 64 MiB, an index of at most 512 MiB,
// stored blocks of at most twice the largest block. We keep the index in
// memory, so it gets a lower cap: 8 Mi blocks, 512 GiB at 64 KiB blocks.
inline constexpr uint32_t kMaxBlockBytes = uint32_t{64} << 20;
inline constexpr uint64_t kMaxIndexBytes = uint64_t{64} << 20;
inline constexpr uint64_t kMaxStoredBytes = uint64_t{2} * kMaxBlockBytes;

enum class Placement : uint8_t { kHeaderFirst, kHeaderLast };

struct Head {
  int version = 2;  // 2 or 4
  Placement placement = Placement::kHeaderFirst;
  uint32_t block_bytes = 0;
  uint32_t block_count = 0;
  uint64_t index_offset = 0;  // where the num_blocks + 1 entries start
  uint64_t index_bytes() const { return (uint64_t{block_count} + 1) * kIndexEntryBytes; }
  uint64_t disk_bytes() const { return uint64_t{block_count} * block_bytes; }
};

// One stored block.
struct Block {
  uint64_t offset = 0;        // in the file
  uint64_t stored_bytes = 0;  // up to the next block
  Compressor compressor = Compressor::kZlib;
};

// The version signature in `head` (the first bytes of a file, or its last
// kHeadBytes): 2, 4, or 0 when there is none.
int SignatureVersion(std::span<const std::byte> head);

// Finds and decodes the head: at the start of the file (`first`, its first
// kHeadBytes or less) or else at its end (`last`, its last kHeadBytes).
// kCorrupt for a short file, no signature, or an index that does not fit
// in the file; kUnsupported for a block size that is not a multiple of 512
// or over kMaxBlockBytes, or an index over kMaxIndexBytes.
Result<Head> DecodeHead(std::span<const std::byte> first, std::span<const std::byte> last,
                        uint64_t file_size);

// Decodes the index (`bytes`, head.index_bytes() of them) into one Block
// per block. kCorrupt when offsets decrease, a block overlaps the head or
// index, ends past the end of the file or is stored in more than
// kMaxStoredBytes; kUnsupported, naming it, for a compressor this build
// cannot decode (xz, lz4 or lzo without their library, unknown flags).
Result<std::vector<Block>> DecodeIndex(const Head& head, std::span<const std::byte> bytes,
                                       uint64_t file_size);

// The codec a compressor's blocks decode with: zlib (a zlib stream), xz,
// lz4 (a raw LZ4 block, the kernel's LZ4_decompress_safe), lzo
// (lzo1x_decompress_safe); nullopt for "none" and unknown flags.
std::optional<codec::Codec> CompressorCodec(Compressor c);

// "zlib", "none", "xz", "lz4", "lzo", or "flag N".
std::string CompressorName(Compressor c);

}  // namespace imgfs::cloop
