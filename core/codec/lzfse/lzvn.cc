// SPDX-License-Identifier: MIT
// LZVN decoder and greedy encoder; opcodes are described in lzvn.h.
#include "core/codec/lzfse/lzvn.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/codec/match_finder.h"

namespace imgfs::codec::lzfse {
namespace {

constexpr size_t kEndOfStreamBytes = 8;

enum class Op { kSmallD, kMediumD, kLargeD, kPreviousD, kLiteral, kMatch, kEnd, kNop, kInvalid };

Op Classify(unsigned b) {
  if (b == 0x06) {
    return Op::kEnd;
  }
  if (b == 0x0e || b == 0x16) {
    return Op::kNop;
  }
  if ((b & 0xf0) == 0x70 || (b & 0xf0) == 0xd0) {
    return Op::kInvalid;
  }
  if ((b & 0xe0) == 0xa0) {
    return Op::kMediumD;
  }
  if ((b & 0xf0) == 0xe0) {
    return Op::kLiteral;
  }
  if ((b & 0xf0) == 0xf0) {
    return Op::kMatch;
  }
  if ((b & 7) == 7) {
    return Op::kLargeD;
  }
  if ((b & 7) == 6) {
    // LL=00 with the previous distance would be a bare match: those codes
    // are the end/no-op opcodes above, the rest are invalid.
    return (b >> 6) == 0 ? Op::kInvalid : Op::kPreviousD;
  }
  return Op::kSmallD;
}

Status Bad(const char* what, size_t at) {
  return CorruptError(std::string("lzvn: ") + what + " at payload byte " + std::to_string(at));
}

}  // namespace

Status LzvnDecode(std::span<const std::byte> in, std::span<std::byte> out, size_t out_begin,
                  size_t out_end, size_t* in_used) {
  size_t ip = 0;
  size_t op = out_begin;
  size_t d = 0;  // previous distance; none yet
  std::byte* const dst = out.data();
  const std::byte* const src = in.data();
  for (;;) {
    if (ip >= in.size()) {
      return Bad("stream ends without an end-of-stream opcode", ip);
    }
    const unsigned b = std::to_integer<unsigned>(src[ip]);
    size_t opc_len = 1;
    size_t l = 0;
    size_t m = 0;
    switch (Classify(b)) {
      case Op::kEnd:
        if (in.size() - ip < kEndOfStreamBytes) {
          return Bad("end-of-stream opcode is truncated", ip);
        }
        if (op != out_end) {
          return CorruptError("lzvn: stream ends after " + std::to_string(op - out_begin) + " of " +
                              std::to_string(out_end - out_begin) + " bytes");
        }
        if (in_used != nullptr) {
          *in_used = ip + kEndOfStreamBytes;
        }
        return Status::Ok();
      case Op::kNop:
        ++ip;
        continue;
      case Op::kInvalid:
        return Bad("invalid opcode", ip);
      case Op::kSmallD:
        opc_len = 2;
        l = b >> 6;
        m = ((b >> 3) & 7) + 3;
        if (in.size() - ip < opc_len) {
          return Bad("opcode is truncated", ip);
        }
        d = (static_cast<size_t>(b & 7) << 8) | std::to_integer<size_t>(src[ip + 1]);
        break;
      case Op::kMediumD: {
        opc_len = 3;
        l = (b >> 3) & 3;
        if (in.size() - ip < opc_len) {
          return Bad("opcode is truncated", ip);
        }
        const size_t w =
            std::to_integer<size_t>(src[ip + 1]) | (std::to_integer<size_t>(src[ip + 2]) << 8);
        m = (((b & 7) << 2) | (w & 3)) + 3;
        d = w >> 2;
        break;
      }
      case Op::kLargeD:
        opc_len = 3;
        l = b >> 6;
        m = ((b >> 3) & 7) + 3;
        if (in.size() - ip < opc_len) {
          return Bad("opcode is truncated", ip);
        }
        d = std::to_integer<size_t>(src[ip + 1]) | (std::to_integer<size_t>(src[ip + 2]) << 8);
        break;
      case Op::kPreviousD:
        l = b >> 6;
        m = ((b >> 3) & 7) + 3;
        break;
      case Op::kLiteral:
        if (b == 0xe0) {
          opc_len = 2;
          if (in.size() - ip < opc_len) {
            return Bad("opcode is truncated", ip);
          }
          l = std::to_integer<size_t>(src[ip + 1]) + 16;
        } else {
          l = b & 15;
        }
        break;
      case Op::kMatch:
        if (b == 0xf0) {
          opc_len = 2;
          if (in.size() - ip < opc_len) {
            return Bad("opcode is truncated", ip);
          }
          m = std::to_integer<size_t>(src[ip + 1]) + 16;
        } else {
          m = b & 15;
        }
        break;
    }
    if (l > in.size() - ip - opc_len) {
      return Bad("literal is truncated", ip);
    }
    if (l + m > out_end - op) {
      return Bad("opcode runs past the end of the block", ip);
    }
    if (l != 0) {  // out may be empty, and memcpy wants real pointers
      std::memcpy(dst + op, src + ip + opc_len, l);
    }
    ip += opc_len + l;
    op += l;
    if (m != 0) {
      if (d == 0 || d > op) {
        return Bad("match distance is out of range", ip);
      }
      CopyMatch(dst + op, d, m);
      op += m;
    }
  }
}

namespace {

// LZVN blocks are small (LZFSE uses them below 4 KiB): a 16K-entry table.
using LzvnMatchFinder = HashMatchFinder<14, 4>;
constexpr size_t kMaxDistance = 0xffff;  // large-distance opcode limit
// Distances the medium opcode is used for (small ones fit the 2-byte form).
constexpr size_t kMinMediumDistance = 1536;
constexpr size_t kMaxMediumDistance = 1 << 14;

void Put(std::vector<std::byte>& out, unsigned v) { out.push_back(static_cast<std::byte>(v)); }

void EmitLiterals(std::vector<std::byte>& out, const std::byte* p, size_t l) {
  while (l > 0) {
    const size_t n = std::min<size_t>(l, 271);
    if (n < 16) {
      Put(out, 0xe0 | static_cast<unsigned>(n));
    } else {
      Put(out, 0xe0);
      Put(out, static_cast<unsigned>(n - 16));
    }
    out.insert(out.end(), p, p + n);
    p += n;
    l -= n;
  }
}

// Match bytes at the previous distance.
void EmitMatchOnly(std::vector<std::byte>& out, size_t m) {
  while (m > 0) {
    const size_t n = std::min<size_t>(m, 271);
    if (n < 16) {
      Put(out, 0xf0 | static_cast<unsigned>(n));
    } else {
      Put(out, 0xf0);
      Put(out, static_cast<unsigned>(n - 16));
    }
    m -= n;
  }
}

// One literal-and-match: up to 3 literal bytes ride in the opcode; longer
// runs go first as literal-only opcodes. The first 3..10 match bytes go in
// the opcode, the rest as match-only opcodes at the same distance.
void EmitMatch(std::vector<std::byte>& out, const std::byte* lit, size_t l, size_t m, size_t d,
               size_t* prev_d) {
  if (l > 3) {
    EmitLiterals(out, lit, l - (l & 3));
    lit += l - (l & 3);
    l &= 3;
  }
  // The opcode's MMM field shares its values with other opcodes: with L
  // literal bytes it holds M up to 10 - 2L.
  if (d != *prev_d && d >= kMinMediumDistance && d < kMaxMediumDistance) {
    // Medium distance: 101LLMMM DDDDDDMM DDDDDDDD, M up to 34.
    const size_t first = std::min<size_t>(m, 34);
    const auto x = static_cast<unsigned>(first - 3);
    Put(out, 0xa0 | static_cast<unsigned>(l << 3) | (x >> 2));
    const auto w = static_cast<unsigned>((d << 2) | (x & 3));
    Put(out, w & 0xff);
    Put(out, w >> 8);
    out.insert(out.end(), lit, lit + l);
    *prev_d = d;
    EmitMatchOnly(out, m - first);
    return;
  }
  const size_t first = std::min<size_t>(m, 10 - 2 * l);
  const auto ll = static_cast<unsigned>(l << 6);
  const auto mmm = static_cast<unsigned>((first - 3) << 3);
  if (d == *prev_d) {
    if (l == 0) {
      Put(out, 0xf0 | static_cast<unsigned>(first));  // match only; first <= 10 < 16
    } else {
      Put(out, ll | mmm | 6);
    }
  } else if (d < 1536) {
    Put(out, ll | mmm | static_cast<unsigned>(d >> 8));
    Put(out, static_cast<unsigned>(d & 0xff));
  } else {
    Put(out, ll | mmm | 7);
    Put(out, static_cast<unsigned>(d & 0xff));
    Put(out, static_cast<unsigned>(d >> 8));
  }
  out.insert(out.end(), lit, lit + l);
  *prev_d = d;
  EmitMatchOnly(out, m - first);
}

}  // namespace

std::vector<std::byte> LzvnEncode(std::span<const std::byte> in) {
  std::vector<std::byte> out;
  out.reserve(in.size() + in.size() / 64 + 16);
  LzvnMatchFinder finder(in, kMaxDistance, SIZE_MAX);
  size_t prev_d = 0;
  const size_t lit = finder.GreedyParse(
      /*reindex_step=*/0, [&](size_t lit_begin, size_t pos, const LzMatch& match) {
        EmitMatch(out, in.data() + lit_begin, pos - lit_begin, match.length, match.distance,
                  &prev_d);
        return match.length;
      });
  EmitLiterals(out, in.data() + lit, in.size() - lit);
  Put(out, 0x06);
  out.insert(out.end(), kEndOfStreamBytes - 1, std::byte{0});
  return out;
}

}  // namespace imgfs::codec::lzfse
