// SPDX-License-Identifier: MIT
// libFuzzer target for the ADC chunk decoder, plus an encoder round trip;
// input layout in codec_fuzz.h.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/codec/adc.h"
#include "tests/fuzz/codec_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::fuzz::CodecInput in;
  if (!imgfs::fuzz::SplitCodecInput(data, size, &in)) {
    return 0;
  }
  std::vector<std::byte> out(in.out_bytes);
  (void)imgfs::codec::AdcDecompress(in.stream, out);
  imgfs::fuzz::CheckRoundTrip(in.stream, imgfs::codec::AdcCompress(in.stream),
                              imgfs::codec::AdcDecompress);
  return 0;
}
