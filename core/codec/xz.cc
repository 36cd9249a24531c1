// SPDX-License-Identifier: MIT
// xz (LZMA2) through liblzma; compiled only when liblzma was found. DMG
// "ULMO" chunks (type 0x80000008) are xz streams: that is what hdiutil
// writes and what 7-Zip's DMG reader decodes. liblzma's auto decoder also
// accepts the legacy .lzma container, so either kind decodes.
//
// The encoder writes streams shaped like hdiutil's ULMO chunks (every
// chunk of tests/data/dmg-real/keramics-hfsplus_lzma.dmg): integrity check
// None (the DMG's own CRC-32s cover the data) and an LZMA2 dictionary of
// 8 MiB (filter property 0x16) whatever the input's size. The dictionary
// size only tells a decoder how much to reserve; inputs no longer than the
// dictionary compress the same with any larger one.
#include <lzma.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/codec/codec_internal.h"

namespace imgfs::codec::internal {
namespace {

// liblzma refuses streams whose decoder would need more memory than this;
// xz -9 (64 MiB dictionary) needs about 65 MiB, so every preset fits.
constexpr uint64_t kMemLimitBytes = 256ull << 20;
constexpr int kDefaultLevel = 6;
// hdiutil's ULMO dictionary (see the top of this file).
constexpr uint32_t kDictBytes = 8u << 20;

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

std::string Bytes(size_t n) { return std::to_string(n) + " bytes"; }

}  // namespace

Status Unxz(std::span<const std::byte> in, std::span<std::byte> out, Fill fill) {
  thread_local LzmaStream stream;
  lzma_stream* s = &stream.s;
  lzma_ret r = lzma_auto_decoder(s, kMemLimitBytes, 0);
  if (r != LZMA_OK) {
    return InternalError("xz: cannot set up a decompressor (liblzma error " +
                         std::to_string(static_cast<int>(r)) + ")");
  }
  s->next_in = reinterpret_cast<const uint8_t*>(in.data());
  s->avail_in = in.size();
  s->next_out = reinterpret_cast<uint8_t*>(out.data());
  s->avail_out = out.size();
  do {
    r = lzma_code(s, LZMA_FINISH);
  } while (r == LZMA_OK && (fill == Fill::kExact || s->avail_out != 0));
  const size_t made = out.size() - s->avail_out;
  if (fill == Fill::kPrefix && made == out.size() && (r == LZMA_OK || r == LZMA_STREAM_END)) {
    return Status::Ok();
  }
  if (r == LZMA_STREAM_END) {
    if (made != out.size()) {
      return CorruptError("xz: stream holds " + Bytes(made) + ", not " +
                          std::to_string(out.size()));
    }
    return Status::Ok();
  }
  if (r == LZMA_BUF_ERROR) {
    if (s->avail_out == 0) {
      return CorruptError("xz: stream holds more than " + Bytes(out.size()));
    }
    return CorruptError("xz: stream ends after " + std::to_string(made) + " of " +
                        Bytes(out.size()));
  }
  if (r == LZMA_MEMLIMIT_ERROR) {
    return UnsupportedError("xz: stream needs more than " + std::to_string(kMemLimitBytes >> 20) +
                            " MiB to decode");
  }
  return CorruptError("xz: stream is invalid (liblzma error " +
                      std::to_string(static_cast<int>(r)) + ")");
}

Result<std::vector<std::byte>> Xz(int level, std::span<const std::byte> in) {
  level = level < 0 ? kDefaultLevel : std::clamp(level, 0, 9);
  lzma_options_lzma options;
  if (lzma_lzma_preset(&options, static_cast<uint32_t>(level))) {
    return InternalError("xz: liblzma has no preset " + std::to_string(level));
  }
  options.dict_size = kDictBytes;
  lzma_filter filters[] = {{LZMA_FILTER_LZMA2, &options}, {LZMA_VLI_UNKNOWN, nullptr}};
  std::vector<std::byte> out(lzma_stream_buffer_bound(in.size()));
  size_t out_pos = 0;
  const lzma_ret r = lzma_stream_buffer_encode(
      filters, LZMA_CHECK_NONE, nullptr, reinterpret_cast<const uint8_t*>(in.data()), in.size(),
      reinterpret_cast<uint8_t*>(out.data()), &out_pos, out.size());
  if (r != LZMA_OK) {
    return InternalError("xz: compression failed (liblzma error " +
                         std::to_string(static_cast<int>(r)) + ")");
  }
  out.resize(out_pos);
  return out;
}

}  // namespace imgfs::codec::internal
