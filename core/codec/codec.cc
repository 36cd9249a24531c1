// SPDX-License-Identifier: MIT
// The codec library's dispatch: names, availability, the input cap of
// Compress, and one switch per entry point onto the per-library halves
// (codec_internal.h) and our own ADC and LZFSE coders.
#include "core/codec/codec.h"

#include <atomic>
#include <string>

#include "core/codec/adc.h"
#include "core/codec/codec_internal.h"
#include "core/codec/lzfse/lzfse.h"

#ifndef IMGFS_HAVE_BZIP2
#error "core/CMakeLists.txt defines IMGFS_HAVE_BZIP2 to 0 or 1"
#endif
#ifndef IMGFS_HAVE_LZMA
#error "core/CMakeLists.txt defines IMGFS_HAVE_LZMA to 0 or 1"
#endif
#if !defined(IMGFS_HAVE_LZ4) || !defined(IMGFS_HAVE_LZO)
#error "core/codec/sources.cmake defines IMGFS_HAVE_LZ4 and IMGFS_HAVE_LZO to 0 or 1"
#endif

namespace imgfs::codec {
namespace {

// Our encoders keep 32-bit positions (match_finder.h); image formats write
// chunks of at most a few MiB.
constexpr size_t kMaxCompressInputBytes = size_t{1} << 31;

[[maybe_unused]] Status NotBuilt(Codec codec) {
  return UnsupportedError(std::string(CodecName(codec)) + ": this build has no such codec");
}

Status Unknown(Codec codec) {
  return InvalidArgumentError("codec " + std::to_string(static_cast<unsigned>(codec)) +
                              " does not exist");
}

}  // namespace

std::string_view CodecName(Codec codec) {
  switch (codec) {
    case Codec::kDeflateRaw:
      return "deflate";
    case Codec::kZlib:
      return "zlib";
    case Codec::kZstd:
      return "zstd";
    case Codec::kBzip2:
      return "bzip2";
    case Codec::kXz:
      return "xz";
    case Codec::kAdc:
      return "adc";
    case Codec::kLzfse:
      return "lzfse";
    case Codec::kLz4:
      return "lz4";
    case Codec::kLzo:
      return "lzo";
  }
  return "unknown";
}

bool Available(Codec codec) {
  switch (codec) {
    case Codec::kDeflateRaw:
    case Codec::kZlib:
    case Codec::kZstd:
    case Codec::kAdc:
    case Codec::kLzfse:
      return true;
    case Codec::kBzip2:
      return IMGFS_HAVE_BZIP2 != 0;
    case Codec::kXz:
      return IMGFS_HAVE_LZMA != 0;
    case Codec::kLz4:
      return IMGFS_HAVE_LZ4 != 0;
    case Codec::kLzo:
      return IMGFS_HAVE_LZO != 0;
  }
  return false;
}

namespace {

// For DecodedBytes: one relaxed add per decoded stream (kilobytes to
// megabytes of work each), so sharing it between threads costs nothing.
std::atomic<uint64_t> decoded_bytes{0};

Status DecodeStream(Codec codec, std::span<const std::byte> in, std::span<std::byte> out,
                    internal::Fill fill) {
  const bool prefix = fill == internal::Fill::kPrefix;
  switch (codec) {
    case Codec::kDeflateRaw:
      return internal::Inflate(/*zlib_header=*/false, in, out, fill);
    case Codec::kZlib:
      return internal::Inflate(/*zlib_header=*/true, in, out, fill);
    case Codec::kZstd:
      return internal::Unzstd(in, out, fill);
    case Codec::kBzip2:
#if IMGFS_HAVE_BZIP2
      return internal::Bunzip2(in, out, fill);
#else
      return NotBuilt(codec);
#endif
    case Codec::kXz:
#if IMGFS_HAVE_LZMA
      return internal::Unxz(in, out, fill);
#else
      return NotBuilt(codec);
#endif
    case Codec::kAdc:
      return prefix ? AdcDecompressPrefix(in, out) : AdcDecompress(in, out);
    case Codec::kLzfse:
      if (prefix) {
        return UnsupportedError("lzfse: streams are only decoded whole");
      }
      return LzfseDecompress(in, out);
    case Codec::kLz4:
#if IMGFS_HAVE_LZ4
      return internal::Unlz4(in, out, fill);
#else
      return NotBuilt(codec);
#endif
    case Codec::kLzo:
#if IMGFS_HAVE_LZO
      return internal::Unlzo(in, out, fill);
#else
      return NotBuilt(codec);
#endif
  }
  return Unknown(codec);
}

Status Decode(Codec codec, std::span<const std::byte> in, std::span<std::byte> out,
              internal::Fill fill) {
  Status s = DecodeStream(codec, in, out, fill);
  if (s.ok()) {
    decoded_bytes.fetch_add(out.size(), std::memory_order_relaxed);
  }
  return s;
}

}  // namespace

uint64_t DecodedBytes() { return decoded_bytes.load(std::memory_order_relaxed); }

Status Decompress(Codec codec, std::span<const std::byte> in, std::span<std::byte> out) {
  return Decode(codec, in, out, internal::Fill::kExact);
}

Status DecompressPrefix(Codec codec, std::span<const std::byte> in, std::span<std::byte> out) {
  return Decode(codec, in, out, internal::Fill::kPrefix);
}

Result<std::vector<std::byte>> Compress(Codec codec, int level, std::span<const std::byte> in) {
  if (in.size() > kMaxCompressInputBytes) {
    return InvalidArgumentError(std::string(CodecName(codec)) +
                                ": an input to compress may hold at most 2 GiB, not " +
                                std::to_string(in.size()) + " bytes");
  }
  switch (codec) {
    case Codec::kDeflateRaw:
      return internal::Deflate(/*zlib_header=*/false, level, in);
    case Codec::kZlib:
      return internal::Deflate(/*zlib_header=*/true, level, in);
    case Codec::kZstd:
      return internal::Zstd(level, in);
    case Codec::kBzip2:
#if IMGFS_HAVE_BZIP2
      return internal::Bzip2(level, in);
#else
      return NotBuilt(codec);
#endif
    case Codec::kXz:
#if IMGFS_HAVE_LZMA
      return internal::Xz(level, in);
#else
      return NotBuilt(codec);
#endif
    case Codec::kAdc:
      return AdcCompress(in);
    case Codec::kLzfse:
      return LzfseCompress(in);
    case Codec::kLz4:
#if IMGFS_HAVE_LZ4
      return internal::Lz4(level, in);
#else
      return NotBuilt(codec);
#endif
    case Codec::kLzo:
#if IMGFS_HAVE_LZO
      return internal::Lzo(level, in);
#else
      return NotBuilt(codec);
#endif
  }
  return Unknown(codec);
}

}  // namespace imgfs::codec
