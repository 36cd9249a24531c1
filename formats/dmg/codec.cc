// SPDX-License-Identifier: MIT
// UDIF chunk codecs: zlib through libdeflate (whole-buffer), bzip2 through
// libbz2, LZMA through liblzma, and our own ADC and LZFSE. Every decoder
// fills exactly out.size() bytes or fails with kCorrupt.
//
// LZMA chunks (type 0x80000008, "ULMO" images) are xz streams: that is what
// hdiutil writes and what 7-Zip's DMG reader decodes (with its xz decoder).
// liblzma's auto decoder also accepts the legacy .lzma container, so a
// chunk of either kind decodes.
#include "formats/dmg/codec.h"

#include <libdeflate.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "core/util/hex.h"
#include "formats/dmg/adc.h"
#include "formats/dmg/lzfse/lzfse.h"

#if IMGFS_HAVE_BZIP2
#include <bzlib.h>
#endif
#if IMGFS_HAVE_LZMA
#include <lzma.h>
#endif

namespace imgfs::dmg {
namespace {

// liblzma refuses streams whose decoder would need more memory than this;
// xz -9 (64 MiB dictionary) needs about 65 MiB, so every preset fits.
constexpr uint64_t kLzmaMemLimitBytes = 256ull << 20;
constexpr size_t kMaxChunkInputBytes = size_t{1} << 31;
constexpr int kDefaultZlibLevel = 6;
constexpr int kMaxZlibLevel = 12;  // libdeflate's maximum
constexpr int kDefaultBzip2Level = 9;
constexpr int kDefaultLzmaLevel = 6;
// Smallest LZMA dictionary; larger inputs use a dictionary of their size
// (a bigger one would only cost memory, in the encoder and every decoder).
constexpr uint32_t kMinLzmaDictBytes = 4096;

Status NotCompressed(ChunkType type) {
  return UnsupportedError("dmg: chunk type " + Hex(static_cast<uint32_t>(type)) +
                          " is not a known compressed kind");
}

[[maybe_unused]] Status NotBuilt(ChunkType type) {
  return UnsupportedError("dmg: this build has no " + std::string(ChunkTypeName(type)) + " codec");
}

// --- zlib ------------------------------------------------------------------

struct DeflateDecompressorFree {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};
struct DeflateCompressorFree {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};

Status Inflate(std::span<const std::byte> in, std::span<std::byte> out) {
  thread_local std::unique_ptr<libdeflate_decompressor, DeflateDecompressorFree> ctx(
      libdeflate_alloc_decompressor());
  if (!ctx) {
    return InternalError("dmg: cannot allocate a zlib decompressor");
  }
  size_t in_used = 0;
  size_t out_made = 0;
  // The _ex form reports the input used, so padding after the stream is
  // ignored; it fails with INSUFFICIENT_SPACE when the stream runs past out.
  const libdeflate_result r = libdeflate_zlib_decompress_ex(
      ctx.get(), in.data(), in.size(), out.data(), out.size(), &in_used, &out_made);
  if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
    return CorruptError("dmg: zlib chunk holds more than " + std::to_string(out.size()) + " bytes");
  }
  if (r != LIBDEFLATE_SUCCESS) {
    return CorruptError("dmg: zlib chunk is invalid (libdeflate error " +
                        std::to_string(static_cast<int>(r)) + ")");
  }
  if (out_made != out.size()) {
    return CorruptError("dmg: zlib chunk holds " + std::to_string(out_made) + " bytes, not " +
                        std::to_string(out.size()));
  }
  return Status::Ok();
}

Result<std::vector<std::byte>> Deflate(int level, std::span<const std::byte> in) {
  if (level < 0) {
    level = kDefaultZlibLevel;
  }
  level = std::min(level, kMaxZlibLevel);
  thread_local std::unique_ptr<libdeflate_compressor, DeflateCompressorFree> ctx;
  thread_local int ctx_level = -1;
  if (!ctx || ctx_level != level) {
    ctx.reset(libdeflate_alloc_compressor(level));
    ctx_level = level;
    if (!ctx) {
      return InternalError("dmg: cannot allocate a zlib compressor");
    }
  }
  std::vector<std::byte> out(libdeflate_zlib_compress_bound(ctx.get(), in.size()));
  const size_t n =
      libdeflate_zlib_compress(ctx.get(), in.data(), in.size(), out.data(), out.size());
  if (n == 0) {
    return InternalError("dmg: zlib compression failed");
  }
  out.resize(n);
  return out;
}

// --- bzip2 -----------------------------------------------------------------

#if IMGFS_HAVE_BZIP2
// A bz_stream that always ends; libbz2 keeps no reusable state across
// streams, so there is nothing to keep per thread.
class BzDecoder {
 public:
  BzDecoder() { ok_ = BZ2_bzDecompressInit(&s_, 0, 0) == BZ_OK; }
  ~BzDecoder() {
    if (ok_) {
      BZ2_bzDecompressEnd(&s_);
    }
  }
  BzDecoder(const BzDecoder&) = delete;
  BzDecoder& operator=(const BzDecoder&) = delete;
  bool ok() const { return ok_; }
  bz_stream* get() { return &s_; }

 private:
  bz_stream s_{};
  bool ok_ = false;
};

Status Bunzip2(std::span<const std::byte> in, std::span<std::byte> out) {
  BzDecoder dec;
  if (!dec.ok()) {
    return InternalError("dmg: cannot allocate a bzip2 decompressor");
  }
  bz_stream* s = dec.get();
  // libbz2 takes non-const pointers and unsigned int sizes; chunk sizes are
  // far below 4 GiB (the reader bounds them), but say so rather than wrap.
  if (in.size() > UINT32_MAX || out.size() > UINT32_MAX) {
    return CorruptError("dmg: bzip2 chunk is larger than 4 GiB");
  }
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): libbz2 never writes input
  s->next_in = const_cast<char*>(reinterpret_cast<const char*>(in.data()));
  s->avail_in = static_cast<unsigned>(in.size());
  s->next_out = reinterpret_cast<char*>(out.data());
  s->avail_out = static_cast<unsigned>(out.size());
  for (;;) {
    const unsigned in_before = s->avail_in;
    const unsigned out_before = s->avail_out;
    const int r = BZ2_bzDecompress(s);
    if (r == BZ_STREAM_END) {
      break;
    }
    if (r != BZ_OK) {
      return CorruptError("dmg: bzip2 chunk is invalid (libbz2 error " + std::to_string(r) + ")");
    }
    if (s->avail_in == in_before && s->avail_out == out_before) {
      if (s->avail_out == 0) {
        return CorruptError("dmg: bzip2 chunk holds more than " + std::to_string(out.size()) +
                            " bytes");
      }
      return CorruptError("dmg: bzip2 chunk ends after " +
                          std::to_string(out.size() - s->avail_out) + " of " +
                          std::to_string(out.size()) + " bytes");
    }
  }
  if (s->avail_out != 0) {
    return CorruptError("dmg: bzip2 chunk holds " + std::to_string(out.size() - s->avail_out) +
                        " bytes, not " + std::to_string(out.size()));
  }
  return Status::Ok();
}

Result<std::vector<std::byte>> Bzip2(int level, std::span<const std::byte> in) {
  if (level < 0) {
    level = kDefaultBzip2Level;
  }
  level = std::clamp(level, 1, 9);
  if (in.size() > UINT32_MAX / 2) {
    return InvalidArgumentError("dmg: bzip2 chunk input is larger than 2 GiB");
  }
  // libbz2's documented worst case: 1% larger plus 600 bytes.
  std::vector<std::byte> out(in.size() + in.size() / 100 + 601);
  auto out_bytes = static_cast<unsigned>(out.size());
  const int r = BZ2_bzBuffToBuffCompress(
      reinterpret_cast<char*>(out.data()), &out_bytes,
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): libbz2 never writes input
      const_cast<char*>(reinterpret_cast<const char*>(in.data())), static_cast<unsigned>(in.size()),
      level, 0, 0);
  if (r != BZ_OK) {
    return InternalError("dmg: bzip2 compression failed (libbz2 error " + std::to_string(r) + ")");
  }
  out.resize(out_bytes);
  return out;
}
#endif  // IMGFS_HAVE_BZIP2

// --- LZMA (xz) -------------------------------------------------------------

#if IMGFS_HAVE_LZMA
// One lzma_stream per thread: re-initialising a decoder with the same
// dictionary size reuses its buffers, which matters for 8 MiB+ dictionaries
// decoded 1 MiB at a time.
struct LzmaStream {
  lzma_stream s = LZMA_STREAM_INIT;
  LzmaStream() = default;
  ~LzmaStream() { lzma_end(&s); }
  LzmaStream(const LzmaStream&) = delete;
  LzmaStream& operator=(const LzmaStream&) = delete;
};

Status Unxz(std::span<const std::byte> in, std::span<std::byte> out) {
  thread_local LzmaStream stream;
  lzma_stream* s = &stream.s;
  lzma_ret r = lzma_auto_decoder(s, kLzmaMemLimitBytes, 0);
  if (r != LZMA_OK) {
    return InternalError("dmg: cannot set up an lzma decompressor (liblzma error " +
                         std::to_string(static_cast<int>(r)) + ")");
  }
  s->next_in = reinterpret_cast<const uint8_t*>(in.data());
  s->avail_in = in.size();
  s->next_out = reinterpret_cast<uint8_t*>(out.data());
  s->avail_out = out.size();
  do {
    r = lzma_code(s, LZMA_FINISH);
  } while (r == LZMA_OK);
  const size_t made = out.size() - s->avail_out;
  if (r == LZMA_STREAM_END) {
    if (made != out.size()) {
      return CorruptError("dmg: lzma chunk holds " + std::to_string(made) + " bytes, not " +
                          std::to_string(out.size()));
    }
    return Status::Ok();
  }
  if (r == LZMA_BUF_ERROR) {
    if (s->avail_out == 0) {
      return CorruptError("dmg: lzma chunk holds more than " + std::to_string(out.size()) +
                          " bytes");
    }
    return CorruptError("dmg: lzma chunk ends after " + std::to_string(made) + " of " +
                        std::to_string(out.size()) + " bytes");
  }
  if (r == LZMA_MEMLIMIT_ERROR) {
    return UnsupportedError("dmg: lzma chunk needs more than " +
                            std::to_string(kLzmaMemLimitBytes >> 20) + " MiB to decode");
  }
  return CorruptError("dmg: lzma chunk is invalid (liblzma error " +
                      std::to_string(static_cast<int>(r)) + ")");
}

Result<std::vector<std::byte>> Xz(int level, std::span<const std::byte> in) {
  if (level < 0) {
    level = kDefaultLzmaLevel;
  }
  level = std::clamp(level, 0, 9);
  lzma_options_lzma options;
  if (lzma_lzma_preset(&options, static_cast<uint32_t>(level))) {
    return InternalError("dmg: liblzma has no preset " + std::to_string(level));
  }
  const uint64_t want_dict = std::max<uint64_t>(kMinLzmaDictBytes, in.size());
  options.dict_size = static_cast<uint32_t>(std::min<uint64_t>(options.dict_size, want_dict));
  lzma_filter filters[] = {{LZMA_FILTER_LZMA2, &options}, {LZMA_VLI_UNKNOWN, nullptr}};
  std::vector<std::byte> out(lzma_stream_buffer_bound(in.size()));
  size_t out_pos = 0;
  const lzma_ret r = lzma_stream_buffer_encode(
      filters, LZMA_CHECK_CRC32, nullptr, reinterpret_cast<const uint8_t*>(in.data()), in.size(),
      reinterpret_cast<uint8_t*>(out.data()), &out_pos, out.size());
  if (r != LZMA_OK) {
    return InternalError("dmg: lzma compression failed (liblzma error " +
                         std::to_string(static_cast<int>(r)) + ")");
  }
  out.resize(out_pos);
  return out;
}
#endif  // IMGFS_HAVE_LZMA

}  // namespace

std::string_view ChunkTypeName(ChunkType type) {
  switch (type) {
    case ChunkType::kZeroFill:
      return "zero";
    case ChunkType::kRaw:
      return "raw";
    case ChunkType::kIgnore:
      return "ignore";
    case ChunkType::kAdc:
      return "adc";
    case ChunkType::kZlib:
      return "zlib";
    case ChunkType::kBzip2:
      return "bzip2";
    case ChunkType::kLzfse:
      return "lzfse";
    case ChunkType::kLzma:
      return "lzma";
    case ChunkType::kComment:
      return "comment";
    case ChunkType::kTerminator:
      return "terminator";
  }
  return "unknown";
}

bool CanDecompress(ChunkType type) {
  switch (type) {
    case ChunkType::kAdc:
    case ChunkType::kZlib:
    case ChunkType::kLzfse:
      return true;
    case ChunkType::kBzip2:
      return IMGFS_HAVE_BZIP2 != 0;
    case ChunkType::kLzma:
      return IMGFS_HAVE_LZMA != 0;
    default:
      return false;
  }
}

Status DecompressChunk(ChunkType type, std::span<const std::byte> in, std::span<std::byte> out) {
  switch (type) {
    case ChunkType::kAdc:
      return AdcDecompress(in, out);
    case ChunkType::kZlib:
      return Inflate(in, out);
    case ChunkType::kLzfse:
      return LzfseDecompress(in, out);
    case ChunkType::kBzip2:
#if IMGFS_HAVE_BZIP2
      return Bunzip2(in, out);
#else
      return NotBuilt(type);
#endif
    case ChunkType::kLzma:
#if IMGFS_HAVE_LZMA
      return Unxz(in, out);
#else
      return NotBuilt(type);
#endif
    default:
      return NotCompressed(type);
  }
}

Result<std::vector<std::byte>> CompressChunk(ChunkType type, int level,
                                             std::span<const std::byte> in) {
  // The encoders keep 32-bit positions; UDIF chunks are far smaller.
  if (in.size() > kMaxChunkInputBytes) {
    return InvalidArgumentError("dmg: a chunk to compress may hold at most 2 GiB, not " +
                                std::to_string(in.size()) + " bytes");
  }
  switch (type) {
    case ChunkType::kAdc:
      return AdcCompress(in);
    case ChunkType::kZlib:
      return Deflate(level, in);
    case ChunkType::kLzfse:
      return LzfseCompress(in);
    case ChunkType::kBzip2:
#if IMGFS_HAVE_BZIP2
      return Bzip2(level, in);
#else
      return NotBuilt(type);
#endif
    case ChunkType::kLzma:
#if IMGFS_HAVE_LZMA
      return Xz(level, in);
#else
      return NotBuilt(type);
#endif
    default:
      return NotCompressed(type);
  }
}

}  // namespace imgfs::dmg
