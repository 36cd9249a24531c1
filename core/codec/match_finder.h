// SPDX-License-Identifier: MIT
// The one hash match finder of our LZ77 encoders (ADC, LZVN and LZFSE): a
// table from the hash of the next kMinMatch bytes to the last position that
// had it, one probe per position, and the greedy parse over it. The
// encoders differ only in these parameters and in how they emit tokens:
//   ADC    3-byte matches (its short token codes 3..18), 15 hash bits,
//          distance <= 65536, length <= 67, re-indexes every 2nd position
//          inside a match;
//   LZVN   4-byte matches, 14 hash bits, distance <= 65535, any length, no
//          re-indexing (its blocks are small);
//   LZFSE  4-byte matches, 16 hash bits, distance <= its D limit, any
//          length, re-indexes every 4th position inside a match.
// With it the encoders write byte for byte what their three private finders
// wrote before (compared on 99 inputs when they were merged, issue 17).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/util/endian.h"

namespace imgfs::codec {

// A match of `length` bytes at `distance` bytes back; length 0 is none.
struct LzMatch {
  size_t length = 0;
  size_t distance = 0;
};

// Number of equal leading bytes of a and b, at most `limit`. `b` may
// overlap `a` (b < a); only bytes below a + limit and b + limit are read.
inline size_t CommonPrefixBytes(const std::byte* a, const std::byte* b, size_t limit) {
  size_t n = 0;
  while (n + 8 <= limit) {
    const uint64_t x = LoadLE64(a + n) ^ LoadLE64(b + n);
    if (x != 0) {
      return n + static_cast<size_t>(std::countr_zero(x)) / 8;  // little-endian host
    }
    n += 8;
  }
  while (n < limit && a[n] == b[n]) {
    ++n;
  }
  return n;
}

// Greedy single-probe matcher over one input buffer. Not thread-safe (one
// per encoder call); the table is allocated once per call, as the encoders
// did before. REQUIRES: in.size() < 4 GiB (positions are kept as uint32_t;
// codec::Compress caps inputs at 2 GiB).
template <unsigned kHashBits, size_t kMinMatch>
class HashMatchFinder {
  static_assert(kMinMatch == 3 || kMinMatch == 4, "hashes 3 or 4 bytes");
  static_assert(kHashBits >= 8 && kHashBits <= 24, "table of 256 to 16M entries");

 public:
  // Matches are at most max_distance back and max_length long.
  // REQUIRES: max_length >= kMinMatch.
  HashMatchFinder(std::span<const std::byte> in, size_t max_distance, size_t max_length)
      : in_(in),
        max_distance_(max_distance),
        max_length_(max_length),
        table_(size_t{1} << kHashBits, 0) {}

  // The longest match at `pos` against the last position with the same
  // hash (if within max_distance and at least kMinMatch long), and records
  // `pos` as the last position of its hash.
  // REQUIRES: pos + kMinMatch <= in.size(), positions increasing.
  LzMatch FindAndInsert(size_t pos) {
    uint32_t& slot = table_[Hash(pos)];
    const size_t candidate = slot;  // position + 1; 0 = empty
    slot = static_cast<uint32_t>(pos + 1);
    if (candidate == 0) {
      return {};
    }
    const size_t distance = pos - (candidate - 1);
    if (distance > max_distance_) {
      return {};
    }
    const std::byte* a = in_.data() + pos;
    const std::byte* b = a - distance;
    if (!SameFirstBytes(a, b)) {  // the usual miss: a hash collision
      return {};
    }
    const size_t left = in_.size() - pos;
    const size_t limit = left < max_length_ ? left : max_length_;
    const size_t length =
        kMinMatch + CommonPrefixBytes(a + kMinMatch, b + kMinMatch, limit - kMinMatch);
    return {length, distance};
  }

  // The greedy parse all three encoders use: at each position, the match
  // found (if any) is offered to take(literal_begin, pos, match), which
  // emits the literals in[literal_begin, pos) and a match, and returns the
  // bytes it covered, or 0 to refuse it (the parse then moves one byte on).
  // After a taken match, every reindex_step-th position inside it is
  // recorded (0: none). Returns where the trailing literals start.
  template <typename Take>
  size_t GreedyParse(size_t reindex_step, Take take) {
    size_t literal_begin = 0;
    size_t pos = 0;
    while (pos + kMinMatch <= in_.size()) {
      const LzMatch match = FindAndInsert(pos);
      const size_t used = match.length == 0 ? 0 : take(literal_begin, pos, match);
      if (used == 0) {
        ++pos;
        continue;
      }
      if (reindex_step != 0) {
        InsertEvery(pos + 1, pos + used, reindex_step);
      }
      pos += used;
      literal_begin = pos;
    }
    return literal_begin;
  }

  // Records the positions begin, begin + step, ... below `end` (those with
  // kMinMatch bytes left), so later searches find the inside of a match.
  void InsertEvery(size_t begin, size_t end, size_t step) {
    for (size_t k = begin; k < end && k + kMinMatch <= in_.size(); k += step) {
      table_[Hash(k)] = static_cast<uint32_t>(k + 1);
    }
  }

 private:
  static bool SameFirstBytes(const std::byte* a, const std::byte* b) {
    if constexpr (kMinMatch == 4) {
      return LoadLE32(a) == LoadLE32(b);
    } else {
      return LoadLE16(a) == LoadLE16(b) && a[2] == b[2];
    }
  }

  uint32_t Hash(size_t pos) const {
    const std::byte* p = in_.data() + pos;
    uint32_t v = 0;
    if constexpr (kMinMatch == 4) {
      v = LoadLE32(p);
    } else {
      v = std::to_integer<uint32_t>(p[0]) | (std::to_integer<uint32_t>(p[1]) << 8) |
          (std::to_integer<uint32_t>(p[2]) << 16);
    }
    return (v * 2654435761u) >> (32 - kHashBits);  // Knuth's multiplicative hash
  }

  std::span<const std::byte> in_;
  size_t max_distance_;
  size_t max_length_;
  std::vector<uint32_t> table_;
};

}  // namespace imgfs::codec
