// SPDX-License-Identifier: MIT
// Finite State Entropy (tANS) as used by LZFSE: the block constants, the
// decoding and encoding tables built from normalized frequencies, and the
// bit streams. LZFSE payloads are written forwards and read backwards: the
// decoder starts at the end of a payload and takes bits from the most
// significant end of what is left, so the encoder's last bits come first.
//
// Table layout (what every LZFSE decoder derives from the frequencies):
// symbol s owns f_s consecutive states, in symbol order. With N states and
// k = floor(log2 N) - floor(log2 f_s), the first j0 = 2N/2^k - f_s of them
// read k bits and go to ((f_s + j) << k) - N + bits; the others read k - 1
// bits and go to ((j - j0) << (k - 1)) + bits. The two kinds tile [0, N),
// which is what lets the encoder invert them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace imgfs::codec::lzfse {

// Symbol and state counts of the four entropy coders.
inline constexpr int kLSymbols = 20;
inline constexpr int kMSymbols = 20;
inline constexpr int kDSymbols = 64;
inline constexpr int kLiteralSymbols = 256;
inline constexpr int kLStates = 64;
inline constexpr int kMStates = 64;
inline constexpr int kDStates = 256;
inline constexpr int kLiteralStates = 1024;
// Per-block limits of the reference encoder; decoders size buffers by them.
inline constexpr uint32_t kMatchesPerBlock = 10000;
inline constexpr uint32_t kLiteralsPerBlock = 4 * kMatchesPerBlock;

// Extra-bit counts and base values of the L (literal run), M (match length)
// and D (distance) symbols: value = base[symbol] + extra bits.
struct ValueCode {
  std::span<const uint8_t> extra_bits;
  std::span<const int32_t> base;
};
const ValueCode& LCode();
const ValueCode& MCode();
const ValueCode& DCode();
// Largest value each code can carry.
inline constexpr uint32_t kMaxLValue = 315;
inline constexpr uint32_t kMaxMValue = 2359;
inline constexpr uint32_t kMaxDValue = 262139;
// Symbol of `value` in `code`. REQUIRES: value fits the code.
int SymbolOf(const ValueCode& code, uint32_t value);

struct DecoderEntry {
  uint8_t symbol = 0;
  uint8_t bits = 0;
  uint16_t delta = 0;
};
struct ValueDecoderEntry {
  uint8_t total_bits = 0;  // state bits + extra value bits
  uint8_t value_bits = 0;
  uint16_t delta = 0;
  int32_t base = 0;
};

// Build decoding tables of size nstates. Entries past the sum of the
// frequencies stay zero (a harmless self-loop). Return false when the
// frequencies add up to more than nstates (a corrupt header).
bool BuildDecoderTable(int nstates, std::span<const uint16_t> freq, std::span<DecoderEntry> table);
bool BuildValueDecoderTable(int nstates, std::span<const uint16_t> freq, const ValueCode& code,
                            std::span<ValueDecoderEntry> table);

// Scales symbol counts to frequencies that add up to exactly nstates, with
// every present symbol keeping at least 1. All-zero counts give all-zero
// frequencies. REQUIRES: counts.size() <= nstates.
void NormalizeCounts(int nstates, std::span<const uint32_t> counts, std::span<uint16_t> freq);

// The inverse of a decoder table, for one symbol at a time.
class Encoder {
 public:
  Encoder(int nstates, std::span<const uint16_t> freq);
  // Encodes `symbol` given the state the decoder reaches after it; returns
  // the bits to emit (*nbits of them) and updates *state to the state the
  // decoder must be in to produce `symbol`. REQUIRES: freq[symbol] > 0.
  uint32_t Encode(uint32_t* state, int symbol, int* nbits) const;

 private:
  struct Entry {
    uint32_t start = 0;  // first state of the symbol
    uint32_t freq = 0;
    int k = 0;               // bits read by the first j0 states
    uint32_t threshold = 0;  // (freq << k) - N: smaller next states use k-1 bits
    uint32_t j0 = 0;
  };
  uint32_t nstates_;
  std::vector<Entry> entries_;
};

// Backward bit reader over [start, end): see the file comment.
class BitReader {
 public:
  // `end` is one past the payload; `start` bounds how far refills may
  // reach back (the block start: the reference decoder reads up to 7 bytes
  // before a payload). extra_bits in [-7, 0] is the header's bit count.
  // Returns false on a malformed start.
  bool Init(const std::byte* start, const std::byte* end, int extra_bits);
  // Tops the accumulator up to at least 56 bits; false if that would read
  // before `start`. Inline: it runs once per triple or literal group.
  bool Refill() {
    const int bits = (63 - nbits_) & ~7;
    const auto bytes = static_cast<size_t>(bits >> 3);
    if (static_cast<size_t>(pos_ - start_) < bytes) {
      return false;
    }
    if (bytes == 0) {
      return true;
    }
    pos_ -= bytes;
    // pos_ + 8 <= the old pos_ + 7 <= end: one fixed-size load, masked.
    uint64_t incoming = 0;
    std::memcpy(&incoming, pos_, sizeof incoming);
    accum_ = (accum_ << bits) | (incoming & ((uint64_t{1} << bits) - 1));
    nbits_ += bits;
    return true;
  }
  // Takes n bits (n <= 56 since the last refill, which callers guarantee);
  // a stream that asks for more than it holds sets failed().
  uint64_t Pull(int n) {
    if (n > nbits_) {
      failed_ = true;
      return 0;
    }
    nbits_ -= n;
    const uint64_t v = accum_ >> nbits_;
    accum_ &= (uint64_t{1} << nbits_) - 1;
    return v;
  }
  bool failed() const { return failed_; }

 private:
  const std::byte* start_ = nullptr;
  const std::byte* pos_ = nullptr;
  uint64_t accum_ = 0;
  int nbits_ = 0;
  bool failed_ = false;
};

// Forward bit writer producing what BitReader reads back in reverse.
class BitWriter {
 public:
  explicit BitWriter(std::vector<std::byte>* out) : out_(out) {}
  void Push(uint32_t bits, int n) {
    accum_ |= static_cast<uint64_t>(bits) << nbits_;
    nbits_ += n;
    while (nbits_ >= 8) {
      out_->push_back(static_cast<std::byte>(accum_ & 0xff));
      accum_ >>= 8;
      nbits_ -= 8;
    }
  }
  // Writes the last partial byte; returns the header's bit count in [-7, 0].
  int Finish();

 private:
  std::vector<std::byte>* out_;
  uint64_t accum_ = 0;
  int nbits_ = 0;
};

}  // namespace imgfs::codec::lzfse
