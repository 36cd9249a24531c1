// SPDX-License-Identifier: MIT
// Deflate streams made by zlib itself, as independent inputs for the
// decoders under test: raw deflate (window_bits < 0, as QEMU writes qcow2
// clusters) or zlib-wrapped (window_bits > 0).
#pragma once

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <string_view>

namespace imgfs::testing {

inline std::string ZlibDeflate(std::string_view in, int window_bits = -12,
                               int level = Z_DEFAULT_COMPRESSION) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, level, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())), '\0');
  // zlib's API is not const-correct; it never writes through next_in.
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace imgfs::testing
