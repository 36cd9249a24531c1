// SPDX-License-Identifier: MIT
// LZ4 raw blocks (no frame) through liblz4; compiled only when liblz4 was
// found. This is the block format cloop 4.x stores under
// CLOOP_COMPRESSOR_LZ4: the kernel module decodes each block with
// LZ4_decompress_safe(block, out, stored_bytes, block_size).
//
// A raw LZ4 block has no end marker: it ends where its input ends. So,
// unlike the other codecs, trailing bytes after the block are not ignored
// but decoded as (usually invalid) sequences; callers pass the exact block,
// as cloop's index gives it.
#include <lz4.h>
#include <lz4hc.h>

#include <algorithm>
#include <climits>
#include <string>

#include "core/codec/codec_internal.h"

namespace imgfs::codec::internal {
namespace {

// Levels below this use LZ4's fast compressor; this and above LZ4HC.
constexpr int kFirstHcLevel = 3;

std::string Bytes(size_t n) { return std::to_string(n) + " bytes"; }

}  // namespace

Status Unlz4(std::span<const std::byte> in, std::span<std::byte> out, Fill fill) {
  if (in.size() > INT_MAX || out.size() > INT_MAX) {
    return UnsupportedError("lz4: blocks of 2 GiB or more are not decoded");
  }
  if (in.empty()) {
    return CorruptError("lz4: block is empty");
  }
  const auto* src = reinterpret_cast<const char*>(in.data());
  auto* dst = reinterpret_cast<char*>(out.data());
  const int in_bytes = static_cast<int>(in.size());
  const int out_bytes = static_cast<int>(out.size());
  const int made = fill == Fill::kExact
                       ? LZ4_decompress_safe(src, dst, in_bytes, out_bytes)
                       : LZ4_decompress_safe_partial(src, dst, in_bytes, out_bytes, out_bytes);
  if (made < 0) {
    // liblz4 does not say whether the block ran past `out` or is malformed.
    return CorruptError("lz4: block is invalid or holds more than " + Bytes(out.size()));
  }
  if (made != out_bytes) {
    return CorruptError("lz4: block holds " + Bytes(static_cast<size_t>(made)) + ", not " +
                        std::to_string(out.size()));
  }
  return Status::Ok();
}

Result<std::vector<std::byte>> Lz4(int level, std::span<const std::byte> in) {
  if (in.size() > LZ4_MAX_INPUT_SIZE) {
    return InvalidArgumentError("lz4: an input to compress may hold at most " +
                                Bytes(LZ4_MAX_INPUT_SIZE) + ", not " + Bytes(in.size()));
  }
  const int in_bytes = static_cast<int>(in.size());
  std::vector<std::byte> out(static_cast<size_t>(LZ4_compressBound(in_bytes)));
  const auto* src = reinterpret_cast<const char*>(in.data());
  auto* dst = reinterpret_cast<char*>(out.data());
  const int cap = static_cast<int>(out.size());
  const int n = level < kFirstHcLevel
                    ? LZ4_compress_default(src, dst, in_bytes, cap)
                    : LZ4_compress_HC(src, dst, in_bytes, cap, std::min(level, LZ4HC_CLEVEL_MAX));
  if (n <= 0) {
    return InternalError("lz4: compression failed");
  }
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace imgfs::codec::internal
