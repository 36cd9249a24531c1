// SPDX-License-Identifier: MIT
// FSE tables and bit streams for LZFSE; see fse.h.
#include "core/codec/lzfse/fse.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace imgfs::codec::lzfse {
namespace {

template <size_t N>
struct CodeTables {
  std::array<uint8_t, N> bits{};
  std::array<int32_t, N> base{};
  ValueCode code;
  explicit CodeTables(const std::array<uint8_t, N>& b) : bits(b) {
    int32_t v = 0;
    for (size_t i = 0; i < N; ++i) {
      base[i] = v;
      v += int32_t{1} << bits[i];
    }
    code = ValueCode{bits, base};
  }
};

// floor(log2 v) for v >= 1.
int Log2(uint32_t v) { return 31 - std::countl_zero(v); }

}  // namespace

const ValueCode& LCode() {
  static const CodeTables<kLSymbols> t(
      {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 5, 8});
  return t.code;
}
const ValueCode& MCode() {
  static const CodeTables<kMSymbols> t(
      {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 5, 8, 11});
  return t.code;
}
const ValueCode& DCode() {
  // Four symbols per extra-bit count 0..15.
  static const CodeTables<kDSymbols> t([] {
    std::array<uint8_t, kDSymbols> b{};
    for (size_t i = 0; i < b.size(); ++i) {
      b[i] = static_cast<uint8_t>(i / 4);
    }
    return b;
  }());
  return t.code;
}

int SymbolOf(const ValueCode& code, uint32_t value) {
  // Bases are increasing: the last base not above value.
  const auto it = std::upper_bound(code.base.begin(), code.base.end(), static_cast<int32_t>(value));
  return static_cast<int>(it - code.base.begin()) - 1;
}

namespace {

// Calls emit(symbol, state_bits, delta) for every state in table order (see
// fse.h); false when the frequencies add up to more than nstates.
template <typename Emit>
bool ForEachState(int nstates, std::span<const uint16_t> freq, Emit emit) {
  const auto n = static_cast<uint32_t>(nstates);
  uint32_t at = 0;
  for (size_t s = 0; s < freq.size(); ++s) {
    const uint32_t f = freq[s];
    if (f == 0) {
      continue;
    }
    if (f > n - at) {
      return false;
    }
    const int k = Log2(n) - Log2(f);
    const uint32_t j0 = ((2 * n) >> k) - f;
    for (uint32_t j = 0; j < f; ++j) {
      if (j < j0) {
        emit(s, k, ((f + j) << k) - n);
      } else {
        emit(s, k - 1, (j - j0) << (k - 1));
      }
    }
    at += f;
  }
  return true;
}

}  // namespace

bool BuildDecoderTable(int nstates, std::span<const uint16_t> freq, std::span<DecoderEntry> table) {
  std::fill(table.begin(), table.end(), DecoderEntry{});
  size_t i = 0;
  return ForEachState(nstates, freq, [&](size_t symbol, int bits, uint32_t delta) {
    table[i++] = DecoderEntry{static_cast<uint8_t>(symbol), static_cast<uint8_t>(bits),
                              static_cast<uint16_t>(delta)};
  });
}

bool BuildValueDecoderTable(int nstates, std::span<const uint16_t> freq, const ValueCode& code,
                            std::span<ValueDecoderEntry> table) {
  std::fill(table.begin(), table.end(), ValueDecoderEntry{});
  size_t i = 0;
  return ForEachState(nstates, freq, [&](size_t symbol, int bits, uint32_t delta) {
    const uint8_t extra = code.extra_bits[symbol];
    table[i++] = ValueDecoderEntry{static_cast<uint8_t>(bits + extra), extra,
                                   static_cast<uint16_t>(delta), code.base[symbol]};
  });
}

void NormalizeCounts(int nstates, std::span<const uint32_t> counts, std::span<uint16_t> freq) {
  uint64_t total = 0;
  for (uint32_t c : counts) {
    total += c;
  }
  std::fill(freq.begin(), freq.end(), uint16_t{0});
  if (total == 0) {
    return;
  }
  const auto n = static_cast<uint64_t>(nstates);
  int64_t sum = 0;
  size_t biggest = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0) {
      continue;
    }
    const uint64_t f = std::max<uint64_t>(1, (counts[i] * n + total / 2) / total);
    freq[i] = static_cast<uint16_t>(f);
    sum += static_cast<int64_t>(f);
    if (counts[i] > counts[biggest]) {
      biggest = i;
    }
  }
  const int64_t want = nstates;
  if (sum < want) {
    freq[biggest] = static_cast<uint16_t>(freq[biggest] + (want - sum));
    return;
  }
  // Too many: take from the largest frequencies, never below 1.
  while (sum > want) {
    size_t top = 0;
    for (size_t i = 1; i < freq.size(); ++i) {
      if (freq[i] > freq[top]) {
        top = i;
      }
    }
    const int64_t take = std::min<int64_t>(sum - want, std::max<int64_t>(1, (freq[top] - 1) / 4));
    freq[top] = static_cast<uint16_t>(freq[top] - take);
    sum -= take;
  }
}

Encoder::Encoder(int nstates, std::span<const uint16_t> freq)
    : nstates_(static_cast<uint32_t>(nstates)), entries_(freq.size()) {
  uint32_t at = 0;
  for (size_t s = 0; s < freq.size(); ++s) {
    Entry& e = entries_[s];
    e.start = at;
    e.freq = freq[s];
    if (e.freq == 0) {
      continue;
    }
    e.k = Log2(nstates_) - Log2(e.freq);
    e.threshold = (e.freq << e.k) - nstates_;
    e.j0 = ((2 * nstates_) >> e.k) - e.freq;
    at += e.freq;
  }
}

uint32_t Encoder::Encode(uint32_t* state, int symbol, int* nbits) const {
  const Entry& e = entries_[static_cast<size_t>(symbol)];
  const uint32_t next = *state;
  uint32_t j = 0;
  uint32_t bits = 0;
  if (next >= e.threshold) {
    const uint32_t v = next + nstates_;
    j = (v >> e.k) - e.freq;
    bits = v & ((uint32_t{1} << e.k) - 1);
    *nbits = e.k;
  } else {
    j = e.j0 + (next >> (e.k - 1));
    bits = next & ((uint32_t{1} << (e.k - 1)) - 1);
    *nbits = e.k - 1;
  }
  *state = e.start + j;
  return bits;
}

bool BitReader::Init(const std::byte* start, const std::byte* end, int extra_bits) {
  start_ = start;
  failed_ = false;
  if (extra_bits < -7 || extra_bits > 0) {
    return false;
  }
  const size_t bytes = extra_bits != 0 ? 8 : 7;
  if (static_cast<size_t>(end - start) < bytes) {
    return false;
  }
  pos_ = end - bytes;
  accum_ = 0;
  std::memcpy(&accum_, pos_, bytes);  // little-endian host (core/util/endian.h)
  nbits_ = extra_bits != 0 ? 64 + extra_bits : 56;
  // The encoder leaves the bits above the stream zero.
  return nbits_ == 64 || (accum_ >> nbits_) == 0;
}

int BitWriter::Finish() {
  if (nbits_ == 0) {
    return 0;
  }
  const int extra = nbits_ - 8;
  out_->push_back(static_cast<std::byte>(accum_ & 0xff));
  accum_ = 0;
  nbits_ = 0;
  return extra;
}

}  // namespace imgfs::codec::lzfse
