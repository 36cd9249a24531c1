// SPDX-License-Identifier: MIT
// libFuzzer target for the codec library's interface (core/codec/codec.h):
// every codec, whole-stream and prefix decoding, then a round trip through
// Compress. Input: one selector byte (low bits: the codec, index into
// kAllCodecs; bit 7: decode a prefix), then the codec_fuzz.h layout. The
// library codecs (zlib, zstd, bzip2, xz) are fuzzed by their projects;
// here the point is our wrappers: sizes, padding, prefixes, per-thread
// state reused after a failed stream.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <span>
#include <vector>

#include "core/codec/codec.h"
#include "tests/fuzz/codec_fuzz.h"

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
  if (prefix) {
    (void)imgfs::codec::DecompressPrefix(codec, in.stream, out);
  } else {
    (void)imgfs::codec::Decompress(codec, in.stream, out);
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
