// SPDX-License-Identifier: MIT
// ADC decoder and a greedy encoder; the token format is described in adc.h.
#include "core/codec/adc.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/codec/match_finder.h"

namespace imgfs::codec {
namespace {

constexpr unsigned kLiteralFlag = 0x80;
constexpr unsigned kLongMatchFlag = 0x40;
constexpr size_t kMaxLiteralRun = 128;
constexpr size_t kMinShortMatch = 3;
constexpr size_t kMaxShortMatch = 18;
constexpr size_t kMaxShortOffset = 1024;
constexpr size_t kMinLongMatch = 4;
constexpr size_t kMaxLongMatch = 67;
constexpr size_t kMaxLongOffset = 65536;

Status Truncated(size_t out_pos, size_t out_bytes) {
  return CorruptError("adc: stream ends after " + std::to_string(out_pos) + " of " +
                      std::to_string(out_bytes) + " bytes");
}

// The decoder of both entry points. A token that runs past `out` is
// corrupt, or (kPrefix) cut where `out` ends.
template <bool kPrefix>
Status Decode(std::span<const std::byte> in, std::span<std::byte> out) {
  size_t ip = 0;
  size_t op = 0;
  const size_t out_bytes = out.size();
  while (op < out_bytes) {
    if (ip >= in.size()) {
      return Truncated(op, out_bytes);
    }
    const unsigned b = std::to_integer<unsigned>(in[ip]);
    if ((b & kLiteralFlag) != 0) {
      const size_t run = (b & 0x7f) + 1;
      if (run > in.size() - ip - 1) {
        return Truncated(op, out_bytes);
      }
      if (run > out_bytes - op) {
        if constexpr (kPrefix) {
          std::memcpy(out.data() + op, in.data() + ip + 1, out_bytes - op);
          return Status::Ok();
        }
        return CorruptError("adc: literal run at input byte " + std::to_string(ip) +
                            " runs past the end of the output");
      }
      std::memcpy(out.data() + op, in.data() + ip + 1, run);
      ip += 1 + run;
      op += run;
      continue;
    }
    size_t length = 0;
    size_t offset = 0;
    const size_t token_bytes = (b & kLongMatchFlag) != 0 ? 3 : 2;
    if (token_bytes > in.size() - ip) {
      return Truncated(op, out_bytes);
    }
    const unsigned b1 = std::to_integer<unsigned>(in[ip + 1]);
    if (token_bytes == 3) {
      length = (b & 0x3f) + kMinLongMatch;
      offset = ((static_cast<size_t>(b1) << 8) | std::to_integer<unsigned>(in[ip + 2])) + 1;
    } else {
      length = (b >> 2) + kMinShortMatch;
      offset = ((static_cast<size_t>(b & 3) << 8) | b1) + 1;
    }
    if (offset > op) {
      return CorruptError("adc: match at input byte " + std::to_string(ip) +
                          " refers before the start of the output");
    }
    if (length > out_bytes - op) {
      if constexpr (!kPrefix) {
        return CorruptError("adc: match at input byte " + std::to_string(ip) +
                            " runs past the end of the output");
      }
      length = out_bytes - op;
    }
    std::byte* dst = out.data() + op;
    const std::byte* src = dst - offset;
    if (offset >= length) {
      std::memcpy(dst, src, length);
    } else {
      for (size_t i = 0; i < length; ++i) {  // overlapping: byte by byte
        dst[i] = src[i];
      }
    }
    ip += token_bytes;
    op += length;
  }
  return Status::Ok();
}

}  // namespace

Status AdcDecompress(std::span<const std::byte> in, std::span<std::byte> out) {
  return Decode<false>(in, out);
}

Status AdcDecompressPrefix(std::span<const std::byte> in, std::span<std::byte> out) {
  return Decode<true>(in, out);
}

namespace {

// 3-byte matches need the 3-byte hash; 15 bits as ADC's short token
// reaches 1 KiB and its long token 64 KiB back.
using AdcMatchFinder = HashMatchFinder<15, kMinShortMatch>;

void FlushLiterals(std::span<const std::byte> in, size_t from, size_t to,
                   std::vector<std::byte>& out) {
  while (from < to) {
    const size_t run = std::min(kMaxLiteralRun, to - from);
    out.push_back(static_cast<std::byte>(kLiteralFlag | (run - 1)));
    out.insert(out.end(), in.begin() + static_cast<std::ptrdiff_t>(from),
               in.begin() + static_cast<std::ptrdiff_t>(from + run));
    from += run;
  }
}

}  // namespace

std::vector<std::byte> AdcCompress(std::span<const std::byte> in) {
  std::vector<std::byte> out;
  out.reserve(in.size() + in.size() / kMaxLiteralRun + 1);
  AdcMatchFinder finder(in, kMaxLongOffset, kMaxLongMatch);
  // Every 2nd position inside a match is indexed so later matches find it.
  const size_t literal_start = finder.GreedyParse(
      /*reindex_step=*/2, [&](size_t lit_begin, size_t pos, const LzMatch& match) -> size_t {
        size_t length = match.length;
        const size_t offset = match.distance;
        const bool short_ok = offset <= kMaxShortOffset;  // length >= 3 already
        const bool long_ok = length >= kMinLongMatch;
        if (!short_ok && !long_ok) {
          return 0;
        }
        FlushLiterals(in, lit_begin, pos, out);
        const size_t d = offset - 1;
        if (long_ok && (offset > kMaxShortOffset || length > kMaxShortMatch)) {
          out.push_back(static_cast<std::byte>(kLongMatchFlag | (length - kMinLongMatch)));
          out.push_back(static_cast<std::byte>(d >> 8));
          out.push_back(static_cast<std::byte>(d & 0xff));
        } else {
          length = std::min(length, kMaxShortMatch);
          out.push_back(static_cast<std::byte>(((length - kMinShortMatch) << 2) | (d >> 8)));
          out.push_back(static_cast<std::byte>(d & 0xff));
        }
        return length;
      });
  FlushLiterals(in, literal_start, in.size(), out);
  return out;
}

}  // namespace imgfs::codec
