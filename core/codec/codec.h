// SPDX-License-Identifier: MIT
// The codec library: one interface over every compression codec a disk
// image format stores chunks or clusters in. Formats map their own type tag
// (a dmg ChunkType, a qcow2 compression_type) to a Codec and call these.
//
// Decoders are pure functions of their input: thread-safe (per-thread
// libdeflate, zlib, zstd and liblzma contexts live inside the library and
// are reused, so a call neither shares nor allocates decoder state), never
// write outside `out`, and are fuzzed (tests/fuzz/). Errors name the codec:
// "zlib: stream holds 1000 bytes, not 4096"; callers add where the stream
// was ("dmg: zlib chunk at sector 8: ...").
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/status.h"

namespace imgfs::codec {

enum class Codec : uint8_t {
  kDeflateRaw,  // RFC 1951 deflate, no header (qcow2 zlib-type clusters)
  kZlib,        // RFC 1950: deflate in a zlib header and Adler-32 (dmg UDZO)
  kZstd,        // zstd frames (qcow2 compression_type 1)
  kBzip2,       // optional: libbz2 (dmg UDBZ)
  kXz,          // optional: liblzma; decodes xz and legacy .lzma, encodes xz as
                // hdiutil's ULMO chunks (check None, 8 MiB dictionary; xz.cc)
  kAdc,         // Apple Data Compression, our own (adc.h; dmg UDCO)
  kLzfse,       // LZFSE with LZVN blocks, our own (lzfse/lzfse.h; dmg ULFO)
  kLz4,         // optional: liblz4, raw LZ4 blocks (cloop 4.x); no end marker, so
                // the input must be exactly the block: trailing bytes are corrupt
  kLzo,         // optional: liblzo2, bare LZO1X streams (cloop 4.x)
};

// Every codec, for tests and tools that walk them all.
inline constexpr Codec kAllCodecs[] = {Codec::kDeflateRaw, Codec::kZlib, Codec::kZstd,
                                       Codec::kBzip2,      Codec::kXz,   Codec::kAdc,
                                       Codec::kLzfse,      Codec::kLz4,  Codec::kLzo};

// Lowercase name for messages: "deflate", "zlib", "zstd", "bzip2", "xz",
// "adc", "lzfse", "lz4", "lzo" ("unknown" for a value outside the enum).
std::string_view CodecName(Codec codec);

// True when this build has the codec (bzip2, xz, lz4 and lzo are optional;
// the others always are). A codec that is not built makes every call below
// return kUnsupported.
bool Available(Codec codec);

// Decodes `in` into exactly out.size() bytes. The stream must end exactly
// there: one that ends early, holds more than out.size() bytes, or is
// malformed is kCorrupt. Bytes of `in` after the end of the stream are
// ignored (formats pad streams to sectors), except for kLz4, whose raw
// blocks have no end marker: they end where `in` ends. No caller needs a stream that
// may end early, so there is no such mode. ADC has no end marker: its
// stream ends when `out` is full. Here and below, a Codec value outside the
// enum is kInvalidArgument.
Status Decompress(Codec codec, std::span<const std::byte> in, std::span<std::byte> out);

// Decodes only the first out.size() bytes of the stream and stops: the rest
// of the stream is not looked at, so damage after the prefix goes unseen.
// kCorrupt when the stream is malformed before, or ends before, out.size()
// bytes. Cheaper than Decompress for a small prefix of a large stream:
// kDeflateRaw/kZlib use zlib's streaming inflate, about half libdeflate's
// speed, so whole-stream Decompress wins past about half the stream
// (docs/BENCHMARKS.md, "Prefix inflate for small zlib reads"); zstd, bzip2,
// xz, lz4 and ADC stop where `out` is full. kLzfse and kLzo are
// kUnsupported: LZFSE blocks decode whole, and liblzo2's safe decoder stops
// short of a run that would overflow `out`; prefixes would need a temporary
// buffer, and no format needs them.
Status DecompressPrefix(Codec codec, std::span<const std::byte> in, std::span<std::byte> out);

// Bytes the successful Decompress and DecompressPrefix calls of this process
// have written so far, every codec and thread together: benchmarks report
// bytes decoded per read with it.
uint64_t DecodedBytes();

// Compresses `in` into one stream that Decompress(codec, ..., in.size())
// restores. level < 0 means the codec's default; levels above the codec's
// maximum are clamped (zlib/deflate 0..12, zstd 1..19, bzip2 1..9, xz
// 0..9, lz4 0..12 (3 and up LZ4HC); lzo has two: LZO1X-1 below 7,
// LZO1X-999 from 7; ADC and LZFSE have one level). zlib/deflate level 1 is Intel
// ISA-L's level 3 when built with it (libdeflate 1's size, about 2x as fast),
// every other level libdeflate's own (core/codec/README.md). The result may be
// larger than `in`. kInvalidArgument for inputs over 2 GiB (our encoders
// keep 32-bit positions; no format writes chunks that large).
Result<std::vector<std::byte>> Compress(Codec codec, int level, std::span<const std::byte> in);

}  // namespace imgfs::codec
