// SPDX-License-Identifier: MIT
// zstd through libzstd's streaming decoder, with one context per thread
// (reset, not reallocated, per call). The one-shot API does not fit: frames
// may lack a content size (QEMU writes them so) and inputs are padded.
#include <zstd.h>

#include <algorithm>
#include <memory>
#include <string>

#include "core/codec/codec_internal.h"

namespace imgfs::codec::internal {
namespace {

constexpr int kDefaultLevel = 3;  // zstd's own default
constexpr int kMaxLevel = 19;     // beyond 19 are the --ultra levels

struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};
struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

}  // namespace

// Like QEMU: decompress until `out` is full; for kExact the frame must then
// be complete (a frame larger than `out` is corrupt).
Status Unzstd(std::span<const std::byte> in, std::span<std::byte> out, Fill fill) {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> ctx(ZSTD_createDCtx());
  if (!ctx) {
    return InternalError("zstd: cannot allocate a decompressor");
  }
  ZSTD_DCtx_reset(ctx.get(), ZSTD_reset_session_only);
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  ZSTD_outBuffer output{out.data(), out.size(), 0};
  size_t ret = 1;
  // An empty `out` still needs its (empty) frame read, for kExact.
  const bool read_empty = fill == Fill::kExact && out.empty();
  while (output.pos < output.size || (read_empty && ret != 0)) {
    const size_t in_before = input.pos;
    const size_t out_before = output.pos;
    ret = ZSTD_decompressStream(ctx.get(), &output, &input);
    if (ZSTD_isError(ret)) {
      return CorruptError(std::string("zstd: stream is invalid: ") + ZSTD_getErrorName(ret));
    }
    if (input.pos == in_before && output.pos == out_before) {
      if (output.pos == output.size) {
        break;  // full: the frame check below
      }
      return CorruptError("zstd: stream ends after " + std::to_string(output.pos) + " of " +
                          std::to_string(out.size()) + " bytes");
    }
  }
  if (fill == Fill::kExact && ret != 0) {
    return CorruptError("zstd: frame holds more than " + std::to_string(out.size()) + " bytes");
  }
  return Status::Ok();
}

Result<std::vector<std::byte>> Zstd(int level, std::span<const std::byte> in) {
  level = level < 0 ? kDefaultLevel : std::clamp(level, 1, kMaxLevel);
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> ctx(ZSTD_createCCtx());
  if (!ctx) {
    return InternalError("zstd: cannot allocate a compressor");
  }
  std::vector<std::byte> out(ZSTD_compressBound(in.size()));
  const size_t n =
      ZSTD_compressCCtx(ctx.get(), out.data(), out.size(), in.data(), in.size(), level);
  if (ZSTD_isError(n)) {
    return InternalError(std::string("zstd: compression failed: ") + ZSTD_getErrorName(n));
  }
  out.resize(n);
  return out;
}

}  // namespace imgfs::codec::internal
