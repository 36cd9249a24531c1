// SPDX-License-Identifier: MIT
// libFuzzer target for the LZFSE chunk decoder (every block kind), plus an
// encoder round trip with a block kind picked from the input; input layout
// in codec_fuzz.h.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/codec/lzfse/lzfse.h"
#include "tests/fuzz/codec_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::fuzz::CodecInput in;
  if (!imgfs::fuzz::SplitCodecInput(data, size, &in)) {
    return 0;
  }
  std::vector<std::byte> out(in.out_bytes);
  (void)imgfs::codec::LzfseDecompress(in.stream, out);
  const auto kind = static_cast<imgfs::codec::LzfseBlockKind>(data[2] % 5);
  imgfs::fuzz::CheckRoundTrip(in.stream, imgfs::codec::LzfseCompress(in.stream, kind),
                              imgfs::codec::LzfseDecompress);
  return 0;
}
