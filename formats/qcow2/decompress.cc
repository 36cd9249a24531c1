// SPDX-License-Identifier: MIT
// qcow2 cluster decompression with libdeflate (raw deflate), zlib (prefixes
// of raw deflate streams) and libzstd.
// Contexts are thread-local so that concurrent readers neither share nor
// reallocate decompressor state per call.
#include "formats/qcow2/decompress.h"

#include <libdeflate.h>
#include <zlib.h>
#include <zstd.h>

#include <limits>
#include <memory>

namespace imgfs::qcow2 {
namespace {

struct DeflateFree {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};
struct ZlibStream {
  z_stream z{};
  bool ready = false;
  ZlibStream() {
    // -15: raw deflate with any window; QEMU writes 4 KiB windows (-12).
    ready = inflateInit2(&z, -15) == Z_OK;
  }
  ~ZlibStream() {
    if (ready) {
      inflateEnd(&z);
    }
  }
};
struct ZstdFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

Status Inflate(std::span<const std::byte> in, std::span<std::byte> out) {
  thread_local std::unique_ptr<libdeflate_decompressor, DeflateFree> ctx(
      libdeflate_alloc_decompressor());
  if (!ctx) {
    return InternalError("qcow2: cannot allocate a deflate decompressor");
  }
  size_t in_used = 0;
  size_t out_made = 0;
  // The _ex form reports how much input the stream used, so the sector
  // padding after it is ignored.
  libdeflate_result r = libdeflate_deflate_decompress_ex(
      ctx.get(), in.data(), in.size(), out.data(), out.size(), &in_used, &out_made);
  if (r != LIBDEFLATE_SUCCESS) {
    return CorruptError("qcow2: deflate stream is invalid (libdeflate error " +
                        std::to_string(static_cast<int>(r)) + ")");
  }
  if (out_made != out.size()) {
    return CorruptError("qcow2: deflate stream holds " + std::to_string(out_made) +
                        " bytes, not a whole cluster of " + std::to_string(out.size()));
  }
  return Status::Ok();
}

// Like QEMU: decompress until the cluster is full; the frame must then be
// complete (a frame larger than a cluster is corrupt). Frames may lack a
// content size and the input is padded, so the one-shot API does not fit.
Status Unzstd(std::span<const std::byte> in, std::span<std::byte> out) {
  thread_local std::unique_ptr<ZSTD_DCtx, ZstdFree> ctx(ZSTD_createDCtx());
  if (!ctx) {
    return InternalError("qcow2: cannot allocate a zstd decompressor");
  }
  ZSTD_DCtx_reset(ctx.get(), ZSTD_reset_session_only);
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  ZSTD_outBuffer output{out.data(), out.size(), 0};
  size_t ret = 1;
  while (output.pos < output.size) {
    size_t in_before = input.pos;
    size_t out_before = output.pos;
    ret = ZSTD_decompressStream(ctx.get(), &output, &input);
    if (ZSTD_isError(ret)) {
      return CorruptError(std::string("qcow2: zstd stream is invalid: ") + ZSTD_getErrorName(ret));
    }
    if (input.pos == in_before && output.pos == out_before) {
      return CorruptError("qcow2: zstd stream ends before filling the cluster");
    }
  }
  if (ret != 0) {
    return CorruptError("qcow2: zstd frame continues past the end of the cluster");
  }
  return Status::Ok();
}

}  // namespace

Status InflatePrefix(std::span<const std::byte> in, std::span<std::byte> out) {
  thread_local ZlibStream stream;
  if (!stream.ready || inflateReset(&stream.z) != Z_OK) {
    return InternalError("qcow2: cannot set up a zlib inflater");
  }
  constexpr size_t kMax = std::numeric_limits<uInt>::max();
  if (in.size() > kMax || out.size() > kMax) {
    return InternalError("qcow2: compressed cluster too large for zlib");
  }
  z_stream& z = stream.z;
  // zlib's API is not const-correct; it never writes through next_in.
  z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  // All input is given at once, so one call either fills `out`, ends the
  // stream early, or fails.
  const int r = inflate(&z, Z_NO_FLUSH);
  const bool well_formed = r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR;
  if (well_formed && z.avail_out == 0) {
    return Status::Ok();
  }
  if (well_formed) {
    return CorruptError("qcow2: deflate stream holds " + std::to_string(out.size() - z.avail_out) +
                        " bytes, fewer than the " + std::to_string(out.size()) + " read");
  }
  return CorruptError(std::string("qcow2: deflate stream is invalid (zlib: ") +
                      (z.msg != nullptr ? z.msg : "error " + std::to_string(r)) + ")");
}

Status DecompressCluster(CompressionType type, std::span<const std::byte> in,
                         std::span<std::byte> out) {
  return type == CompressionType::kZstd ? Unzstd(in, out) : Inflate(in, out);
}

}  // namespace imgfs::qcow2
