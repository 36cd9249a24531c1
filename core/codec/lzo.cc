// SPDX-License-Identifier: MIT
// LZO1X through liblzo2; compiled only when liblzo2 was found. This is
// what cloop 4.x stores under CLOOP_COMPRESSOR_LZO1X: the kernel module
// decodes each block with lzo1x_decompress_safe, a bare LZO1X stream (no
// lzop header, no length prefix). The stream ends with its own end marker,
// so bytes after it are ignored, as the codec contract asks.
//
// There is no prefix mode: lzo1x_decompress_safe stops before a run that
// would overflow `out`, leaving the last bytes of a prefix unwritten.
#include <lzo/lzo1x.h>

#include <algorithm>
#include <string>

#include "core/codec/codec_internal.h"

namespace imgfs::codec::internal {
namespace {

// Levels from this one up use LZO1X-999 (slow, smaller), below it LZO1X-1.
constexpr int kFirst999Level = 7;

std::string Bytes(size_t n) { return std::to_string(n) + " bytes"; }

bool LzoReady() {
  static const bool ok = lzo_init() == LZO_E_OK;
  return ok;
}

}  // namespace

Status Unlzo(std::span<const std::byte> in, std::span<std::byte> out, Fill fill) {
  if (fill == Fill::kPrefix) {
    return UnsupportedError("lzo: streams are only decoded whole");
  }
  if (!LzoReady()) {
    return InternalError("lzo: liblzo2 failed to initialise");
  }
  lzo_uint made = out.size();
  const int r = lzo1x_decompress_safe(reinterpret_cast<const unsigned char*>(in.data()), in.size(),
                                      reinterpret_cast<unsigned char*>(out.data()), &made, nullptr);
  switch (r) {
    case LZO_E_OK:
    case LZO_E_INPUT_NOT_CONSUMED:  // bytes after the end marker
      if (made != out.size()) {
        return CorruptError("lzo: stream holds " + Bytes(made) + ", not " +
                            std::to_string(out.size()));
      }
      return Status::Ok();
    case LZO_E_OUTPUT_OVERRUN:
      return CorruptError("lzo: stream holds more than " + Bytes(out.size()));
    case LZO_E_INPUT_OVERRUN:
      return CorruptError("lzo: stream ends before its end marker");
    default:
      return CorruptError("lzo: stream is invalid (liblzo2 error " + std::to_string(r) + ")");
  }
}

Result<std::vector<std::byte>> Lzo(int level, std::span<const std::byte> in) {
  if (!LzoReady()) {
    return InternalError("lzo: liblzo2 failed to initialise");
  }
  const bool best = level >= kFirst999Level;
  std::vector<unsigned char> work(best ? LZO1X_999_MEM_COMPRESS : LZO1X_1_MEM_COMPRESS);
  // liblzo2's documented worst case: in + in / 16 + 64 + 3.
  std::vector<std::byte> out(in.size() + in.size() / 16 + 64 + 3);
  lzo_uint n = out.size();
  const auto* src = reinterpret_cast<const unsigned char*>(in.data());
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  const int r = best ? lzo1x_999_compress(src, in.size(), dst, &n, work.data())
                     : lzo1x_1_compress(src, in.size(), dst, &n, work.data());
  if (r != LZO_E_OK) {
    return InternalError("lzo: compression failed (liblzo2 error " + std::to_string(r) + ")");
  }
  out.resize(n);
  return out;
}

}  // namespace imgfs::codec::internal
