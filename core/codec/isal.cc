// SPDX-License-Identifier: MIT
// Deflate (RFC 1951), raw or in a zlib wrapper (RFC 1950), with Intel's
// ISA-L (igzip): the fast back end deflate.cc chooses for the levels and
// operations where it measured faster (docs/BENCHMARKS.md, "ISA-L deflate
// (issue 23)"). Compiled only when libisal was found (IMGFS_HAVE_ISAL).
// The per-thread holder keeps one inflate state (about 40 KiB: ISA-L's
// decode tables and history) and one level buffer per compression level.
#include <isa-l/igzip_lib.h>

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/codec/codec_internal.h"

namespace imgfs::codec::internal {
namespace {

// ISA-L's suggested level buffer sizes (index = level; level 0 needs none).
constexpr std::array<size_t, kIsalMaxLevel + 1> kLevelBufBytes = {
    ISAL_DEF_LVL0_DEFAULT, ISAL_DEF_LVL1_DEFAULT, ISAL_DEF_LVL2_DEFAULT, ISAL_DEF_LVL3_DEFAULT};
static_assert(kIsalMaxLevel == ISAL_DEF_MAX_LEVEL);

constexpr size_t kMaxBytes = std::numeric_limits<uint32_t>::max();

class IsalContexts {
 public:
  static IsalContexts& ForThisThread() {
    thread_local IsalContexts contexts;
    return contexts;
  }

  // Freshly initialised for one stream.
  inflate_state* Inflater() {
    if (!inflater_) {
      inflater_ = std::make_unique<inflate_state>();
    }
    isal_inflate_init(inflater_.get());
    return inflater_.get();
  }

  // A scratch output of at least `bytes`, kept between calls: a fresh 1 MiB
  // vector per chunk costs a memset and page faults, 15 % of a UDZO write.
  std::span<std::byte> Scratch(size_t bytes) {
    if (scratch_bytes_ < bytes) {
      scratch_ = std::make_unique_for_overwrite<std::byte[]>(bytes);
      scratch_bytes_ = bytes;
    }
    return {scratch_.get(), bytes};
  }

  // The level buffer for `level` (0..kIsalMaxLevel), made on first use.
  std::span<uint8_t> LevelBuf(int level) {
    auto& buf = level_bufs_[static_cast<size_t>(level)];
    const size_t n = kLevelBufBytes[static_cast<size_t>(level)];
    if (!buf && n != 0) {
      buf = std::make_unique_for_overwrite<uint8_t[]>(n);
    }
    return {buf.get(), buf ? n : 0};
  }

 private:
  std::unique_ptr<inflate_state> inflater_;
  std::array<std::unique_ptr<uint8_t[]>, kIsalMaxLevel + 1> level_bufs_;
  std::unique_ptr<std::byte[]> scratch_;
  size_t scratch_bytes_ = 0;
};

std::string Name(bool zlib_header) { return zlib_header ? "zlib" : "deflate"; }

std::string ErrorName(int r) {
  switch (r) {
    case ISAL_INVALID_BLOCK:
      return "invalid block";
    case ISAL_INVALID_SYMBOL:
      return "invalid symbol";
    case ISAL_INVALID_LOOKBACK:
      return "distance too far back";
    case ISAL_INVALID_WRAPPER:
      return "invalid zlib header";
    case ISAL_UNSUPPORTED_METHOD:
      return "not deflate";
    case ISAL_INCORRECT_CHECKSUM:
      return "wrong Adler-32";
    case ISAL_NEED_DICT:
      return "needs a preset dictionary";
    default:
      return "error " + std::to_string(r);
  }
}

// The caller's buffers as ISA-L's non-const byte pointers. ISA-L never
// writes through next_in.
uint8_t* In(std::span<const std::byte> in) {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast)
  return reinterpret_cast<uint8_t*>(const_cast<std::byte*>(in.data()));
}
uint8_t* Out(std::span<std::byte> out) { return reinterpret_cast<uint8_t*>(out.data()); }

}  // namespace

Status IsalInflate(bool zlib_header, std::span<const std::byte> in, std::span<std::byte> out,
                   Fill fill) {
  if (in.size() > kMaxBytes || out.size() > kMaxBytes) {
    return InvalidArgumentError(Name(zlib_header) + ": ISA-L inflates at most 4 GiB");
  }
  inflate_state* s = IsalContexts::ForThisThread().Inflater();
  s->next_in = In(in);
  s->avail_in = static_cast<uint32_t>(in.size());
  s->next_out = Out(out);
  s->avail_out = static_cast<uint32_t>(out.size());
  s->crc_flag = zlib_header ? ISAL_ZLIB : ISAL_DEFLATE;
  // The stateless call needs room for the whole stream and checks the
  // Adler-32; the streaming one stops where `out` is full, which is the
  // prefix contract (it may decode ahead into its own buffer, never ours).
  const int r = fill == Fill::kExact ? isal_inflate_stateless(s) : isal_inflate(s);
  const size_t made = out.size() - s->avail_out;
  if (fill == Fill::kPrefix && made == out.size()) {
    return Status::Ok();  // damage past the prefix goes unseen, as with zlib
  }
  if (fill == Fill::kPrefix && r == ISAL_DECOMP_OK) {
    return CorruptError(Name(zlib_header) + ": stream holds " + std::to_string(made) +
                        " bytes, fewer than the " + std::to_string(out.size()) + " asked for");
  }
  if (r == ISAL_OUT_OVERFLOW) {
    return CorruptError(Name(zlib_header) + ": stream holds more than " +
                        std::to_string(out.size()) + " bytes");
  }
  if (r == ISAL_END_INPUT) {
    return CorruptError(Name(zlib_header) + ": stream is truncated after " + std::to_string(made) +
                        " bytes");
  }
  if (r != ISAL_DECOMP_OK) {
    return CorruptError(Name(zlib_header) + ": stream is invalid (ISA-L: " + ErrorName(r) + ")");
  }
  if (s->block_state != ISAL_BLOCK_FINISH) {
    return CorruptError(Name(zlib_header) + ": stream is truncated after " + std::to_string(made) +
                        " bytes");
  }
  if (made != out.size()) {
    return CorruptError(Name(zlib_header) + ": stream holds " + std::to_string(made) +
                        " bytes, not " + std::to_string(out.size()));
  }
  return Status::Ok();
}

Result<std::vector<std::byte>> IsalDeflate(bool zlib_header, int level,
                                           std::span<const std::byte> in) {
  if (level < 0 || level > kIsalMaxLevel) {
    return InvalidArgumentError(Name(zlib_header) + ": ISA-L level " + std::to_string(level) +
                                " is not 0 to " + std::to_string(kIsalMaxLevel));
  }
  // Stateless deflate falls back to stored blocks (5 header bytes per
  // 64 KiB) when the data does not shrink; the zlib wrapper adds 6 bytes.
  const size_t bound = in.size() + (in.size() / 65535 + 2) * 5 + 6 + 64;
  if (bound > kMaxBytes) {
    return InvalidArgumentError(Name(zlib_header) + ": ISA-L deflates at most 4 GiB");
  }
  IsalContexts& contexts = IsalContexts::ForThisThread();
  const std::span<std::byte> out = contexts.Scratch(bound);
  const std::span<uint8_t> level_buf = contexts.LevelBuf(level);
  isal_zstream z;
  isal_deflate_stateless_init(&z);
  z.level = static_cast<uint32_t>(level);
  z.level_buf = level_buf.data();
  z.level_buf_size = static_cast<uint32_t>(level_buf.size());
  z.gzip_flag = zlib_header ? IGZIP_ZLIB : IGZIP_DEFLATE;
  z.end_of_stream = 1;
  z.flush = NO_FLUSH;
  z.next_in = In(in);
  z.avail_in = static_cast<uint32_t>(in.size());
  z.next_out = Out(out);
  z.avail_out = static_cast<uint32_t>(out.size());
  const int r = isal_deflate_stateless(&z);
  if (r != COMP_OK || z.avail_in != 0) {
    return InternalError(Name(zlib_header) + ": ISA-L compression failed (error " +
                         std::to_string(r) + ")");
  }
  return std::vector<std::byte>(out.begin(), out.end() - z.avail_out);
}

}  // namespace imgfs::codec::internal
