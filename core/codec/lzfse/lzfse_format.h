// SPDX-License-Identifier: MIT
// LZFSE block headers, shared by the decoder and the encoder. All fields
// are little-endian.
//   bvx-  magic, n_raw_bytes, then the bytes
//   bvxn  magic, n_raw_bytes, n_payload_bytes, then an LZVN stream
//   bvx1  a 772-byte header of plain fields (kV1* offsets below)
//   bvx2  magic, n_raw_bytes, three packed 64-bit words, then the packed
//         frequency tables; word 2 bits 0-31 hold the whole header size
//   bvx$  end of stream
// A compressed block's payload is the literal stream followed by the L/M/D
// stream, each read backwards (fse.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/codec/lzfse/fse.h"

namespace imgfs::codec::lzfse {

inline constexpr uint32_t kMagicEnd = 0x24787662;   // "bvx$"
inline constexpr uint32_t kMagicRaw = 0x2d787662;   // "bvx-"
inline constexpr uint32_t kMagicV1 = 0x31787662;    // "bvx1"
inline constexpr uint32_t kMagicV2 = 0x32787662;    // "bvx2"
inline constexpr uint32_t kMagicLzvn = 0x6e787662;  // "bvxn"
inline constexpr size_t kRawHeaderBytes = 8;
inline constexpr size_t kLzvnHeaderBytes = 12;
inline constexpr size_t kV2FixedBytes = 32;
// v1 header: 7 u32 counts, literal_bits, 4 u16 literal states, lmd_bits,
// 3 u16 l/m/d states, then the 360 u16 frequencies, padded to 4 bytes.
inline constexpr size_t kV1FreqOffset = 50;
inline constexpr size_t kV1HeaderBytes = 772;
// Frequencies in header order: L, M, D, literal.
inline constexpr int kFreqCount = kLSymbols + kMSymbols + kDSymbols + kLiteralSymbols;

// A compressed block header in decoded form (the v1 field set).
struct CompressedHeader {
  uint32_t n_raw_bytes = 0;
  uint32_t n_literals = 0;
  uint32_t n_matches = 0;
  uint32_t n_literal_payload_bytes = 0;
  uint32_t n_lmd_payload_bytes = 0;
  int32_t literal_bits = 0;
  int32_t lmd_bits = 0;
  std::array<uint16_t, 4> literal_state{};
  uint16_t l_state = 0;
  uint16_t m_state = 0;
  uint16_t d_state = 0;
  std::array<uint16_t, kFreqCount> freq{};

  uint16_t& FreqAt(int i) { return freq[static_cast<size_t>(i)]; }
  std::span<const uint16_t> LFreq() const { return std::span(freq).subspan(0, kLSymbols); }
  std::span<const uint16_t> MFreq() const { return std::span(freq).subspan(kLSymbols, kMSymbols); }
  std::span<const uint16_t> DFreq() const {
    return std::span(freq).subspan(kLSymbols + kMSymbols, kDSymbols);
  }
  std::span<const uint16_t> LiteralFreq() const {
    return std::span(freq).subspan(kLSymbols + kMSymbols + kDSymbols, kLiteralSymbols);
  }
};

// The v2 header's fixed code for one frequency, read least significant bit
// first: 0 -> 00, 1 -> 10, 2 -> 001, 3 -> 101, 4..7 -> xx011 (2 bits of
// value - 4 above 011), 8..23 -> 4 bits of value - 8 above 0111, and
// 24..1047 -> 10 bits of value - 24 above 1111.
inline uint16_t DecodeFreqValue(uint32_t bits, int* nbits) {
  if ((bits & 3) == 0) {
    *nbits = 2;
    return 0;
  }
  if ((bits & 3) == 2) {
    *nbits = 2;
    return 1;
  }
  if ((bits & 7) == 1) {
    *nbits = 3;
    return 2;
  }
  if ((bits & 7) == 5) {
    *nbits = 3;
    return 3;
  }
  if ((bits & 7) == 3) {
    *nbits = 5;
    return static_cast<uint16_t>(4 + ((bits >> 3) & 3));
  }
  if ((bits & 15) == 7) {
    *nbits = 8;
    return static_cast<uint16_t>(8 + ((bits >> 4) & 15));
  }
  *nbits = 14;  // bits & 15 == 15
  return static_cast<uint16_t>(24 + ((bits >> 4) & 0x3ff));
}

inline uint32_t EncodeFreqValue(uint32_t value, int* nbits) {
  static constexpr uint8_t kSmall[4] = {0, 2, 1, 5};
  if (value < 4) {
    *nbits = value < 2 ? 2 : 3;
    return kSmall[value];
  }
  if (value < 8) {
    *nbits = 5;
    return 3 | ((value - 4) << 3);
  }
  if (value < 24) {
    *nbits = 8;
    return 7 | ((value - 8) << 4);
  }
  *nbits = 14;
  return 15 | ((value - 24) << 4);
}

}  // namespace imgfs::codec::lzfse
