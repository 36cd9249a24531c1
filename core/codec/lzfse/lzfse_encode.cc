// SPDX-License-Identifier: MIT
// LZFSE encoder: a greedy hash matcher feeding L/M/D triples and literals
// into blocks of at most kMatchesPerBlock triples and kLiteralsPerBlock
// literals, each entropy coded with FSE into a bvx2 (or bvx1) block, or
// stored raw when that is smaller.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "core/codec/lzfse/fse.h"
#include "core/codec/lzfse/lzfse.h"
#include "core/codec/lzfse/lzfse_format.h"
#include "core/codec/lzfse/lzvn.h"
#include "core/codec/match_finder.h"
#include "core/util/endian.h"

namespace imgfs::codec {
namespace lzfse {
namespace {

using LzfseMatchFinder = HashMatchFinder<16, 4>;
// Inputs below this size get an LZVN block, as Apple's encoder does.
constexpr size_t kLzvnThresholdBytes = 4096;
// The L/M/D payload starts with 8 zero bytes, as the reference encoder
// writes them, so no decoder refill ever reaches before the payload.
constexpr size_t kLmdPaddingBytes = 8;

struct Triple {
  uint32_t l = 0;
  uint32_t m = 0;
  uint32_t d = 0;  // 0 with m == 0: any distance
};

void AppendLE32(std::vector<std::byte>& out, uint32_t v) {
  std::byte b[4];
  StoreLE32(b, v);
  out.insert(out.end(), b, b + 4);
}
void AppendLE64(std::vector<std::byte>& out, uint64_t v) {
  std::byte b[8];
  StoreLE64(b, v);
  out.insert(out.end(), b, b + 8);
}

void AppendRawBlock(std::vector<std::byte>& out, std::span<const std::byte> raw) {
  AppendLE32(out, kMagicRaw);
  AppendLE32(out, static_cast<uint32_t>(raw.size()));
  out.insert(out.end(), raw.begin(), raw.end());
}

// Entropy codes one block's literals and triples.
class BlockCoder {
 public:
  BlockCoder(std::vector<uint8_t> literals, std::vector<Triple> triples, uint32_t raw_bytes,
             bool v1)
      : literals_(std::move(literals)), triples_(std::move(triples)), v1_(v1) {
    header_.n_raw_bytes = raw_bytes;
  }

  std::vector<std::byte> Encode() {
    // Four interleaved literal streams need a multiple of 4 (and at least
    // one group, so no frequency table is empty).
    while (literals_.empty() || literals_.size() % 4 != 0) {
      literals_.push_back(0);
    }
    header_.n_literals = static_cast<uint32_t>(literals_.size());
    header_.n_matches = static_cast<uint32_t>(triples_.size());
    ResolveDistances();
    Normalize();
    std::vector<std::byte> literal_payload = EncodeLiterals();
    std::vector<std::byte> lmd_payload = EncodeLmd();
    header_.n_literal_payload_bytes = static_cast<uint32_t>(literal_payload.size());
    header_.n_lmd_payload_bytes = static_cast<uint32_t>(lmd_payload.size());
    std::vector<std::byte> out = v1_ ? HeaderV1() : HeaderV2();
    out.insert(out.end(), literal_payload.begin(), literal_payload.end());
    out.insert(out.end(), lmd_payload.begin(), lmd_payload.end());
    return out;
  }

 private:
  // The decoder keeps the last nonzero distance of the block; 0 repeats it.
  void ResolveDistances() {
    uint32_t prev = 0;
    for (Triple& t : triples_) {
      if (t.m == 0) {
        t.d = prev == 0 ? 1 : 0;  // any valid distance will do
        prev = prev == 0 ? 1 : prev;
      } else if (t.d == prev) {
        t.d = 0;
      } else {
        prev = t.d;
      }
    }
  }

  void Normalize() {
    std::array<uint32_t, kLSymbols> l{};
    std::array<uint32_t, kMSymbols> m{};
    std::array<uint32_t, kDSymbols> d{};
    std::array<uint32_t, kLiteralSymbols> lit{};
    for (const Triple& t : triples_) {
      ++l[static_cast<size_t>(SymbolOf(LCode(), t.l))];
      ++m[static_cast<size_t>(SymbolOf(MCode(), t.m))];
      ++d[static_cast<size_t>(SymbolOf(DCode(), t.d))];
    }
    for (uint8_t c : literals_) {
      ++lit[c];
    }
    auto f = std::span(header_.freq);
    NormalizeCounts(kLStates, l, f.subspan(0, kLSymbols));
    NormalizeCounts(kMStates, m, f.subspan(kLSymbols, kMSymbols));
    NormalizeCounts(kDStates, d, f.subspan(kLSymbols + kMSymbols, kDSymbols));
    NormalizeCounts(kLiteralStates, lit,
                    f.subspan(kLSymbols + kMSymbols + kDSymbols, kLiteralSymbols));
  }

  std::vector<std::byte> EncodeLiterals() {
    const Encoder enc(kLiteralStates, header_.LiteralFreq());
    std::vector<std::byte> payload;
    payload.reserve(literals_.size() * 10 / 8 + 8);
    BitWriter w(&payload);
    std::array<uint32_t, 4> st{};
    for (size_t i = literals_.size(); i > 0;) {
      i -= 4;
      for (size_t k = 4; k-- > 0;) {
        int nbits = 0;
        const uint32_t bits = enc.Encode(&st[k], literals_[i + k], &nbits);
        w.Push(bits, nbits);
      }
    }
    header_.literal_bits = w.Finish();
    for (size_t k = 0; k < 4; ++k) {
      header_.literal_state[k] = static_cast<uint16_t>(st[k]);
    }
    return payload;
  }

  static void PushValue(BitWriter& w, const Encoder& enc, const ValueCode& code, uint32_t* state,
                        uint32_t value) {
    const int symbol = SymbolOf(code, value);
    const auto s = static_cast<size_t>(symbol);
    w.Push(value - static_cast<uint32_t>(code.base[s]), code.extra_bits[s]);
    int nbits = 0;
    const uint32_t bits = enc.Encode(state, symbol, &nbits);
    w.Push(bits, nbits);
  }

  std::vector<std::byte> EncodeLmd() {
    const Encoder l_enc(kLStates, header_.LFreq());
    const Encoder m_enc(kMStates, header_.MFreq());
    const Encoder d_enc(kDStates, header_.DFreq());
    std::vector<std::byte> payload(kLmdPaddingBytes);
    payload.reserve(triples_.size() * 7 + 16);
    BitWriter w(&payload);
    uint32_t ls = 0;
    uint32_t ms = 0;
    uint32_t ds = 0;
    // Last triple first; per triple D, M, L (the decoder reads L, M, D).
    for (size_t i = triples_.size(); i-- > 0;) {
      const Triple& t = triples_[i];
      PushValue(w, d_enc, DCode(), &ds, t.d);
      PushValue(w, m_enc, MCode(), &ms, t.m);
      PushValue(w, l_enc, LCode(), &ls, t.l);
    }
    header_.lmd_bits = w.Finish();
    header_.l_state = static_cast<uint16_t>(ls);
    header_.m_state = static_cast<uint16_t>(ms);
    header_.d_state = static_cast<uint16_t>(ds);
    return payload;
  }

  std::vector<std::byte> HeaderV2() const {
    std::vector<std::byte> packed;
    BitWriter w(&packed);
    for (uint16_t f : header_.freq) {
      int nbits = 0;
      const uint32_t code = EncodeFreqValue(f, &nbits);
      w.Push(code, nbits);
    }
    (void)w.Finish();
    const CompressedHeader& h = header_;
    const uint64_t v0 = uint64_t{h.n_literals} | (uint64_t{h.n_literal_payload_bytes} << 20) |
                        (uint64_t{h.n_matches} << 40) |
                        (static_cast<uint64_t>(h.literal_bits + 7) << 60);
    const uint64_t v1 =
        uint64_t{h.literal_state[0]} | (uint64_t{h.literal_state[1]} << 10) |
        (uint64_t{h.literal_state[2]} << 20) | (uint64_t{h.literal_state[3]} << 30) |
        (uint64_t{h.n_lmd_payload_bytes} << 40) | (static_cast<uint64_t>(h.lmd_bits + 7) << 60);
    const uint64_t v2 = (kV2FixedBytes + packed.size()) | (uint64_t{h.l_state} << 32) |
                        (uint64_t{h.m_state} << 42) | (uint64_t{h.d_state} << 52);
    std::vector<std::byte> out;
    AppendLE32(out, kMagicV2);
    AppendLE32(out, h.n_raw_bytes);
    AppendLE64(out, v0);
    AppendLE64(out, v1);
    AppendLE64(out, v2);
    out.insert(out.end(), packed.begin(), packed.end());
    return out;
  }

  std::vector<std::byte> HeaderV1() const {
    const CompressedHeader& h = header_;
    std::vector<std::byte> out(kV1HeaderBytes);
    std::byte* p = out.data();
    StoreLE32(p, kMagicV1);
    StoreLE32(p + 4, h.n_raw_bytes);
    StoreLE32(p + 8, h.n_literal_payload_bytes + h.n_lmd_payload_bytes);
    StoreLE32(p + 12, h.n_literals);
    StoreLE32(p + 16, h.n_matches);
    StoreLE32(p + 20, h.n_literal_payload_bytes);
    StoreLE32(p + 24, h.n_lmd_payload_bytes);
    StoreLE32(p + 28, static_cast<uint32_t>(h.literal_bits));
    for (size_t i = 0; i < 4; ++i) {
      StoreLE16(p + 32 + 2 * i, h.literal_state[i]);
    }
    StoreLE32(p + 40, static_cast<uint32_t>(h.lmd_bits));
    StoreLE16(p + 44, h.l_state);
    StoreLE16(p + 46, h.m_state);
    StoreLE16(p + 48, h.d_state);
    for (size_t i = 0; i < h.freq.size(); ++i) {
      StoreLE16(p + kV1FreqOffset + 2 * i, h.freq[i]);
    }
    return out;
  }

  std::vector<uint8_t> literals_;
  std::vector<Triple> triples_;
  bool v1_;
  CompressedHeader header_;
};

// Collects triples into blocks and writes each one out.
class BlockWriter {
 public:
  BlockWriter(std::span<const std::byte> in, bool v1, bool allow_raw, std::vector<std::byte>* out)
      : in_(in), v1_(v1), allow_raw_(allow_raw), out_(out) {}

  // L literal bytes at in[lit_begin], then M bytes from distance D.
  void Add(size_t lit_begin, size_t l, size_t m, size_t d) {
    while (l > kMaxLValue) {
      AddOne(lit_begin, kMaxLValue, 0, 0);
      lit_begin += kMaxLValue;
      l -= kMaxLValue;
    }
    const size_t first = std::min<size_t>(m, kMaxMValue);
    AddOne(lit_begin, l, first, d);
    m -= first;
    while (m > 0) {
      const size_t n = std::min<size_t>(m, kMaxMValue);
      AddOne(0, 0, n, d);
      m -= n;
    }
  }

  void Flush() {
    if (triples_.empty()) {
      return;
    }
    const auto raw = in_.subspan(block_begin_, block_bytes_);
    std::vector<std::byte> coded = BlockCoder(std::move(literals_), std::move(triples_),
                                              static_cast<uint32_t>(raw.size()), v1_)
                                       .Encode();
    if (allow_raw_ && coded.size() >= raw.size() + kRawHeaderBytes) {
      AppendRawBlock(*out_, raw);
    } else {
      out_->insert(out_->end(), coded.begin(), coded.end());
    }
    literals_ = {};
    triples_ = {};
    block_begin_ += block_bytes_;
    block_bytes_ = 0;
  }

 private:
  void AddOne(size_t lit_begin, size_t l, size_t m, size_t d) {
    // Keep room for the padding to a multiple of 4 literals.
    if (literals_.size() + l + 4 > kLiteralsPerBlock || triples_.size() + 1 > kMatchesPerBlock) {
      Flush();
    }
    const auto* p = reinterpret_cast<const uint8_t*>(in_.data() + lit_begin);
    literals_.insert(literals_.end(), p, p + l);
    triples_.push_back(
        Triple{static_cast<uint32_t>(l), static_cast<uint32_t>(m), static_cast<uint32_t>(d)});
    block_bytes_ += l + m;
  }

  std::span<const std::byte> in_;
  bool v1_;
  bool allow_raw_;
  std::vector<std::byte>* out_;
  std::vector<uint8_t> literals_;
  std::vector<Triple> triples_;
  size_t block_begin_ = 0;
  size_t block_bytes_ = 0;
};

void EncodeFse(std::span<const std::byte> in, bool v1, bool allow_raw,
               std::vector<std::byte>* out) {
  BlockWriter blocks(in, v1, allow_raw, out);
  LzfseMatchFinder finder(in, kMaxDValue, SIZE_MAX);
  // Indexing every 4th position inside a match lets the next search find
  // the match's tail.
  const size_t lit = finder.GreedyParse(
      /*reindex_step=*/4, [&](size_t lit_begin, size_t pos, const LzMatch& match) {
        blocks.Add(lit_begin, pos - lit_begin, match.length, match.distance);
        return match.length;
      });
  if (lit < in.size()) {
    blocks.Add(lit, in.size() - lit, 0, 0);
  }
  blocks.Flush();
}

void EncodeLzvnBlock(std::span<const std::byte> in, bool allow_raw, std::vector<std::byte>* out) {
  const std::vector<std::byte> payload = LzvnEncode(in);
  if (allow_raw && payload.size() + kLzvnHeaderBytes >= in.size() + kRawHeaderBytes) {
    AppendRawBlock(*out, in);
    return;
  }
  AppendLE32(*out, kMagicLzvn);
  AppendLE32(*out, static_cast<uint32_t>(in.size()));
  AppendLE32(*out, static_cast<uint32_t>(payload.size()));
  out->insert(out->end(), payload.begin(), payload.end());
}

}  // namespace
}  // namespace lzfse

std::string_view LzfseBlockKindName(LzfseBlockKind kind) {
  switch (kind) {
    case LzfseBlockKind::kAuto:
      return "auto";
    case LzfseBlockKind::kV2:
      return "v2";
    case LzfseBlockKind::kV1:
      return "v1";
    case LzfseBlockKind::kLzvn:
      return "lzvn";
    case LzfseBlockKind::kRaw:
      return "raw";
  }
  return "unknown";
}

std::vector<std::byte> LzfseCompress(std::span<const std::byte> in, LzfseBlockKind kind) {
  using namespace lzfse;  // NOLINT(google-build-using-namespace): this file's own helpers
  std::vector<std::byte> out;
  out.reserve(in.size() / 2 + 64);
  if (!in.empty()) {
    switch (kind) {
      case LzfseBlockKind::kAuto:
        // No raw-block fallback: 7-Zip 26.02 fails on bvx- blocks in DMGs,
        // and a DMG writer stores chunks that do not shrink raw anyway.
        if (in.size() < kLzvnThresholdBytes) {
          EncodeLzvnBlock(in, /*allow_raw=*/false, &out);
        } else {
          EncodeFse(in, /*v1=*/false, /*allow_raw=*/false, &out);
        }
        break;
      case LzfseBlockKind::kV2:
        EncodeFse(in, /*v1=*/false, /*allow_raw=*/false, &out);
        break;
      case LzfseBlockKind::kV1:
        EncodeFse(in, /*v1=*/true, /*allow_raw=*/false, &out);
        break;
      case LzfseBlockKind::kLzvn:
        EncodeLzvnBlock(in, /*allow_raw=*/false, &out);
        break;
      case LzfseBlockKind::kRaw:
        AppendRawBlock(out, in);
        break;
    }
  }
  AppendLE32(out, kMagicEnd);
  return out;
}

}  // namespace imgfs::codec
