// SPDX-License-Identifier: MIT
// libFuzzer target for the codec library's interface (core/codec/codec.h):
// every codec, whole-stream and prefix decoding, then a round trip through
// Compress. Input: one selector byte (low bits: the codec, index into
// kAllCodecs; bit 7: decode a prefix), then the codec_fuzz.h layout. The
// library codecs (zlib, zstd, bzip2, xz) are fuzzed by their projects;
// here the point is our wrappers: sizes, padding, prefixes, per-thread
// state reused after a failed stream. Deflate and zlib streams also go
// through ISA-L's inflate (codec_internal.h), which Decompress does not use
// for whole streams: inside guard bytes (its decoder is assembly that ASan
// does not see), and where libdeflate and ISA-L both accept a stream they
// must agree on every byte. ISA-L's encoder makes level 1.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <span>
#include <vector>

#include "core/codec/codec.h"
#include "core/codec/codec_internal.h"
#include "tests/fuzz/codec_fuzz.h"

namespace {

constexpr size_t kGuardBytes = 64;
constexpr std::byte kCanary{0xa5};

// ISA-L's inflate of `stream` into a guarded buffer of out.size() bytes;
// aborts if it writes outside, or if it and `out` (libdeflate's or zlib's
// result, `ok`) both succeed with different bytes.
void CheckIsal(bool zlib_header, bool prefix, std::span<const std::byte> stream,
               std::span<const std::byte> out, bool ok) {
  namespace internal = imgfs::codec::internal;
  std::vector<std::byte> buf(kGuardBytes + out.size() + kGuardBytes, kCanary);
  const std::span<std::byte> isal_out = std::span(buf).subspan(kGuardBytes, out.size());
  const bool isal_ok =
      internal::IsalInflate(zlib_header, stream, isal_out,
                            prefix ? internal::Fill::kPrefix : internal::Fill::kExact)
          .ok();
  for (size_t i = 0; i < kGuardBytes; ++i) {
    if (buf[i] != kCanary || buf[kGuardBytes + out.size() + i] != kCanary) {
      std::abort();
    }
  }
  if (ok && isal_ok && !std::equal(out.begin(), out.end(), isal_out.begin())) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return 0;
  }
  const imgfs::codec::Codec codec =
      imgfs::codec::kAllCodecs[(data[0] & 0x7f) % std::size(imgfs::codec::kAllCodecs)];
  const bool prefix = (data[0] & 0x80) != 0;
  imgfs::fuzz::CodecInput in;
  if (!imgfs::codec::Available(codec) || !imgfs::fuzz::SplitCodecInput(data + 1, size - 1, &in)) {
    return 0;
  }
  std::vector<std::byte> out(in.out_bytes);
  const bool ok = prefix ? imgfs::codec::DecompressPrefix(codec, in.stream, out).ok()
                         : imgfs::codec::Decompress(codec, in.stream, out).ok();
  const bool deflate =
      codec == imgfs::codec::Codec::kDeflateRaw || codec == imgfs::codec::Codec::kZlib;
  if (deflate && imgfs::codec::internal::IsalBuilt()) {
    CheckIsal(codec == imgfs::codec::Codec::kZlib, prefix, in.stream, out, ok);
  }
  // Fast levels: the round trip checks our framing, not the ratio.
  auto packed = imgfs::codec::Compress(codec, 1, in.stream);
  if (!packed.ok()) {
    std::abort();
  }
  imgfs::fuzz::CheckRoundTrip(in.stream, *packed,
                              [codec](std::span<const std::byte> s, std::span<std::byte> o) {
                                return imgfs::codec::Decompress(codec, s, o);
                              });
  return 0;
}
