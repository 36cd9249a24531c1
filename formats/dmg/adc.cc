// SPDX-License-Identifier: MIT
// ADC decoder and a greedy encoder; the token format is described in adc.h.
#include "formats/dmg/adc.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

namespace imgfs::dmg {
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
  return CorruptError("dmg: adc stream ends after " + std::to_string(out_pos) + " of " +
                      std::to_string(out_bytes) + " bytes");
}

}  // namespace

Status AdcDecompress(std::span<const std::byte> in, std::span<std::byte> out) {
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
        return CorruptError("dmg: adc literal run at input byte " + std::to_string(ip) +
                            " runs past the end of the chunk");
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
      return CorruptError("dmg: adc match at input byte " + std::to_string(ip) +
                          " refers before the start of the chunk");
    }
    if (length > out_bytes - op) {
      return CorruptError("dmg: adc match at input byte " + std::to_string(ip) +
                          " runs past the end of the chunk");
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

namespace {

constexpr unsigned kHashBits = 15;

uint32_t Hash3(const std::byte* p) {
  const uint32_t v = std::to_integer<uint32_t>(p[0]) | (std::to_integer<uint32_t>(p[1]) << 8) |
                     (std::to_integer<uint32_t>(p[2]) << 16);
  return (v * 2654435761u) >> (32 - kHashBits);
}

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
  // Positions + 1 (0 = empty) of the last 3-byte sequence with each hash.
  std::vector<uint32_t> table(size_t{1} << kHashBits, 0);
  size_t literal_start = 0;
  size_t i = 0;
  while (i + kMinShortMatch <= in.size()) {
    const uint32_t h = Hash3(in.data() + i);
    const size_t candidate = table[h];
    table[h] = static_cast<uint32_t>(i + 1);
    size_t length = 0;
    size_t offset = 0;
    if (candidate != 0) {
      offset = i - (candidate - 1);
      if (offset <= kMaxLongOffset) {
        const size_t limit = std::min(kMaxLongMatch, in.size() - i);
        const std::byte* a = in.data() + i;
        const std::byte* b = a - offset;
        while (length < limit && a[length] == b[length]) {
          ++length;
        }
      }
    }
    const bool short_ok = length >= kMinShortMatch && offset <= kMaxShortOffset;
    const bool long_ok = length >= kMinLongMatch;
    if (!short_ok && !long_ok) {
      ++i;
      continue;
    }
    FlushLiterals(in, literal_start, i, out);
    if (long_ok && (offset > kMaxShortOffset || length > kMaxShortMatch)) {
      const size_t d = offset - 1;
      out.push_back(static_cast<std::byte>(kLongMatchFlag | (length - kMinLongMatch)));
      out.push_back(static_cast<std::byte>(d >> 8));
      out.push_back(static_cast<std::byte>(d & 0xff));
    } else {
      length = std::min(length, kMaxShortMatch);
      const size_t d = offset - 1;
      out.push_back(static_cast<std::byte>(((length - kMinShortMatch) << 2) | (d >> 8)));
      out.push_back(static_cast<std::byte>(d & 0xff));
    }
    // Index a few positions inside the match so later matches find them.
    for (size_t k = i + 1; k < i + length && k + kMinShortMatch <= in.size(); k += 2) {
      table[Hash3(in.data() + k)] = static_cast<uint32_t>(k + 1);
    }
    i += length;
    literal_start = i;
  }
  FlushLiterals(in, literal_start, in.size(), out);
  return out;
}

}  // namespace imgfs::dmg
