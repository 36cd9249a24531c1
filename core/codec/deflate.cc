// SPDX-License-Identifier: MIT
// Deflate (RFC 1951), raw or in a zlib wrapper (RFC 1950): libdeflate for
// whole streams, which is about twice as fast as zlib, and zlib's streaming
// inflate for prefixes, which libdeflate cannot stop early for. All state is
// in one per-thread holder, so concurrent readers neither share nor
// reallocate contexts per call.
#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <string>

#include "core/codec/codec_internal.h"

#ifndef IMGFS_HAVE_ISAL
#error "core/codec/sources.cmake defines IMGFS_HAVE_ISAL to 0 or 1"
#endif

namespace imgfs::codec::internal {
namespace {

constexpr int kDefaultLevel = 6;
constexpr int kMaxLevel = 12;  // libdeflate's maximum
// Level 1 is ISA-L's level 3: on the benchmark disk it compresses as well as
// libdeflate's level 1 (0.6 % larger) 1.6 to 2.5x as fast. ISA-L's levels 0 to 2
// are faster still but 18 to 25 % larger, so no level maps to them.
constexpr int kIsalLevelForLevel1 = 3;
// Window bits for inflateInit2: 15 is the largest window, which accepts
// every stream (QEMU writes raw deflate with 4 KiB windows, -12); negative
// means raw deflate.
constexpr int kZlibWindowBits = 15;

struct DecompressorFree {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};
struct CompressorFree {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};

// The thread's deflate contexts, each made on first use.
class DeflateContexts {
 public:
  static DeflateContexts& ForThisThread() {
    thread_local DeflateContexts contexts;
    return contexts;
  }

  DeflateContexts() = default;
  DeflateContexts(const DeflateContexts&) = delete;
  DeflateContexts& operator=(const DeflateContexts&) = delete;
  ~DeflateContexts() {
    if (inflater_ready_) {
      inflateEnd(&inflater_);
    }
  }

  // nullptr when out of memory.
  libdeflate_decompressor* Decompressor() {
    if (!decompressor_) {
      decompressor_.reset(libdeflate_alloc_decompressor());
    }
    return decompressor_.get();
  }

  // A compressor for `level`; a libdeflate compressor is made for one level.
  libdeflate_compressor* Compressor(int level) {
    if (!compressor_ || compressor_level_ != level) {
      compressor_.reset(libdeflate_alloc_compressor(level));
      compressor_level_ = level;
    }
    return compressor_.get();
  }

  // zlib's inflater, reset for a new raw or zlib-wrapped stream; nullptr
  // when zlib cannot set one up.
  z_stream* Inflater(bool zlib_header) {
    if (!inflater_ready_) {
      inflater_ready_ = inflateInit2(&inflater_, -kZlibWindowBits) == Z_OK;
      if (!inflater_ready_) {
        return nullptr;
      }
    }
    const int bits = zlib_header ? kZlibWindowBits : -kZlibWindowBits;
    return inflateReset2(&inflater_, bits) == Z_OK ? &inflater_ : nullptr;
  }

 private:
  std::unique_ptr<libdeflate_decompressor, DecompressorFree> decompressor_;
  std::unique_ptr<libdeflate_compressor, CompressorFree> compressor_;
  int compressor_level_ = -1;
  z_stream inflater_{};
  bool inflater_ready_ = false;
};

std::string Name(bool zlib_header) { return zlib_header ? "zlib" : "deflate"; }

}  // namespace

Status LibdeflateInflate(bool zlib_header, std::span<const std::byte> in,
                         std::span<std::byte> out) {
  libdeflate_decompressor* d = DeflateContexts::ForThisThread().Decompressor();
  if (d == nullptr) {
    return InternalError(Name(zlib_header) + ": cannot allocate a decompressor");
  }
  size_t in_used = 0;
  size_t out_made = 0;
  // The _ex forms report the input used, so padding after the stream is
  // ignored; they fail with INSUFFICIENT_SPACE when the stream runs past out.
  const libdeflate_result r =
      zlib_header ? libdeflate_zlib_decompress_ex(d, in.data(), in.size(), out.data(), out.size(),
                                                  &in_used, &out_made)
                  : libdeflate_deflate_decompress_ex(d, in.data(), in.size(), out.data(),
                                                     out.size(), &in_used, &out_made);
  if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
    return CorruptError(Name(zlib_header) + ": stream holds more than " +
                        std::to_string(out.size()) + " bytes");
  }
  if (r != LIBDEFLATE_SUCCESS) {
    return CorruptError(Name(zlib_header) + ": stream is invalid (libdeflate error " +
                        std::to_string(static_cast<int>(r)) + ")");
  }
  if (out_made != out.size()) {
    return CorruptError(Name(zlib_header) + ": stream holds " + std::to_string(out_made) +
                        " bytes, not " + std::to_string(out.size()));
  }
  return Status::Ok();
}

Status ZlibInflatePrefix(bool zlib_header, std::span<const std::byte> in,
                         std::span<std::byte> out) {
  z_stream* z = DeflateContexts::ForThisThread().Inflater(zlib_header);
  if (z == nullptr) {
    return InternalError(Name(zlib_header) + ": cannot set up a zlib inflater");
  }
  constexpr size_t kMax = std::numeric_limits<uInt>::max();
  if (in.size() > kMax || out.size() > kMax) {
    return InvalidArgumentError(Name(zlib_header) + ": a prefix inflate takes at most 4 GiB");
  }
  // zlib's API is not const-correct; it never writes through next_in.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast)
  z->next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
  z->avail_in = static_cast<uInt>(in.size());
  z->next_out = reinterpret_cast<Bytef*>(out.data());
  z->avail_out = static_cast<uInt>(out.size());
  // All input is given at once, so one call either fills `out`, ends the
  // stream early, or fails.
  const int r = inflate(z, Z_NO_FLUSH);
  const bool well_formed = r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR;
  if (well_formed && z->avail_out == 0) {
    return Status::Ok();
  }
  if (well_formed) {
    return CorruptError(Name(zlib_header) + ": stream holds " +
                        std::to_string(out.size() - z->avail_out) + " bytes, fewer than the " +
                        std::to_string(out.size()) + " asked for");
  }
  return CorruptError(Name(zlib_header) + ": stream is invalid (zlib: " +
                      (z->msg != nullptr ? z->msg : "error " + std::to_string(r)) + ")");
}

Result<std::vector<std::byte>> LibdeflateDeflate(bool zlib_header, int level,
                                                 std::span<const std::byte> in) {
  level = std::clamp(level, 0, kMaxLevel);
  libdeflate_compressor* c = DeflateContexts::ForThisThread().Compressor(level);
  if (c == nullptr) {
    return InternalError(Name(zlib_header) + ": cannot allocate a compressor");
  }
  std::vector<std::byte> out(zlib_header ? libdeflate_zlib_compress_bound(c, in.size())
                                         : libdeflate_deflate_compress_bound(c, in.size()));
  const size_t n =
      zlib_header ? libdeflate_zlib_compress(c, in.data(), in.size(), out.data(), out.size())
                  : libdeflate_deflate_compress(c, in.data(), in.size(), out.data(), out.size());
  if (n == 0) {
    return InternalError(Name(zlib_header) + ": compression failed");
  }
  out.resize(n);
  return out;
}

#if !IMGFS_HAVE_ISAL
bool IsalBuilt() { return false; }
Status IsalInflate(bool zlib_header, std::span<const std::byte>, std::span<std::byte>, Fill) {
  return UnsupportedError(Name(zlib_header) + ": this build has no ISA-L");
}
Result<std::vector<std::byte>> IsalDeflate(bool zlib_header, int, std::span<const std::byte>) {
  return UnsupportedError(Name(zlib_header) + ": this build has no ISA-L");
}
#else
bool IsalBuilt() { return true; }
#endif

Status Inflate(bool zlib_header, std::span<const std::byte> in, std::span<std::byte> out,
               Fill fill) {
  // Whole streams: libdeflate. Prefixes: zlib, which stops where `out` is
  // full; ISA-L's streaming inflate decodes a 64 KiB cluster whole even for
  // a 4 KiB prefix.
  return fill == Fill::kExact ? LibdeflateInflate(zlib_header, in, out)
                              : ZlibInflatePrefix(zlib_header, in, out);
}

Result<std::vector<std::byte>> Deflate(bool zlib_header, int level, std::span<const std::byte> in) {
  level = level < 0 ? kDefaultLevel : std::min(level, kMaxLevel);
  if (IsalBuilt() && level == 1) {
    return IsalDeflate(zlib_header, kIsalLevelForLevel1, in);
  }
  return LibdeflateDeflate(zlib_header, level, in);
}

}  // namespace imgfs::codec::internal
