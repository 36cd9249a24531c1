// SPDX-License-Identifier: MIT
// libFuzzer target for the raw LZVN decoder (the opcodes of bvxn blocks),
// plus an encoder round trip; input layout in codec_fuzz.h.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/codec/lzfse/lzvn.h"
#include "core/status.h"
#include "tests/fuzz/codec_fuzz.h"

namespace {

imgfs::Status Decode(std::span<const std::byte> in, std::span<std::byte> out) {
  return imgfs::codec::lzfse::LzvnDecode(in, out, 0, out.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::fuzz::CodecInput in;
  if (!imgfs::fuzz::SplitCodecInput(data, size, &in)) {
    return 0;
  }
  // Also decode after some already-present output, so matches can reach
  // back before the block (as they do inside an LZFSE stream).
  std::vector<std::byte> out(in.out_bytes);
  const size_t begin = in.out_bytes / 3;
  (void)imgfs::codec::lzfse::LzvnDecode(in.stream, out, begin, out.size());
  (void)Decode(in.stream, out);
  imgfs::fuzz::CheckRoundTrip(in.stream, imgfs::codec::lzfse::LzvnEncode(in.stream), Decode);
  return 0;
}
