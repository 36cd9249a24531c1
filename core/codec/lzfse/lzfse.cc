// SPDX-License-Identifier: MIT
// LZFSE stream decoder: block framing, the v1/v2 compressed block headers
// and the FSE literal and L/M/D streams. Everything read from the stream is
// bounded before use; see lzfse.h for the block kinds.
#include "core/codec/lzfse/lzfse.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/codec/lzfse/fse.h"
#include "core/codec/lzfse/lzfse_format.h"
#include "core/codec/lzfse/lzvn.h"
#include "core/util/endian.h"

namespace imgfs::codec {
namespace lzfse {
namespace {

// Room the fast copies may write past a literal run or match.
constexpr size_t kCopySlackBytes = 16;

Status Bad(const std::string& what, size_t at) {
  return CorruptError("lzfse: " + what + " at stream byte " + std::to_string(at));
}

uint32_t Field(uint64_t v, int offset, int bits) {
  return static_cast<uint32_t>((v >> offset) & ((uint64_t{1} << bits) - 1));
}

// Reads the packed frequency tables of a v2 header (fixed Huffman code of
// lzfse_format.h, least significant bit first).
bool UnpackFrequencies(std::span<const std::byte> packed, CompressedHeader* h) {
  uint32_t accum = 0;
  int accum_bits = 0;
  size_t at = 0;
  for (int i = 0; i < kFreqCount; ++i) {
    while (at < packed.size() && accum_bits + 8 <= 32) {
      accum |= std::to_integer<uint32_t>(packed[at]) << accum_bits;
      accum_bits += 8;
      ++at;
    }
    int nbits = 0;
    const uint16_t value = DecodeFreqValue(accum, &nbits);
    if (nbits > accum_bits) {
      return false;
    }
    h->FreqAt(i) = value;
    accum >>= nbits;
    accum_bits -= nbits;
  }
  return accum_bits < 8 && at == packed.size();
}

// Parses a bvx1 or bvx2 header at `block`; *header_bytes gets its size.
Status ParseHeader(std::span<const std::byte> block, size_t at, CompressedHeader* h,
                   size_t* header_bytes) {
  const std::byte* p = block.data();
  const uint32_t magic = LoadLE32(p);
  if (magic == kMagicV1) {
    if (block.size() < kV1HeaderBytes) {
      return Bad("v1 block header is truncated", at);
    }
    h->n_raw_bytes = LoadLE32(p + 4);
    h->n_literals = LoadLE32(p + 12);
    h->n_matches = LoadLE32(p + 16);
    h->n_literal_payload_bytes = LoadLE32(p + 20);
    h->n_lmd_payload_bytes = LoadLE32(p + 24);
    h->literal_bits = static_cast<int32_t>(LoadLE32(p + 28));
    for (size_t i = 0; i < 4; ++i) {
      h->literal_state[i] = LoadLE16(p + 32 + 2 * i);
    }
    h->lmd_bits = static_cast<int32_t>(LoadLE32(p + 40));
    h->l_state = LoadLE16(p + 44);
    h->m_state = LoadLE16(p + 46);
    h->d_state = LoadLE16(p + 48);
    for (int i = 0; i < kFreqCount; ++i) {
      h->FreqAt(i) = LoadLE16(p + kV1FreqOffset + 2 * static_cast<size_t>(i));
    }
    if (LoadLE32(p + 8) !=
        static_cast<uint64_t>(h->n_literal_payload_bytes) + h->n_lmd_payload_bytes) {
      return Bad("v1 block payload sizes disagree", at);
    }
    *header_bytes = kV1HeaderBytes;
    return Status::Ok();
  }
  if (block.size() < kV2FixedBytes) {
    return Bad("v2 block header is truncated", at);
  }
  h->n_raw_bytes = LoadLE32(p + 4);
  const uint64_t v0 = LoadLE64(p + 8);
  const uint64_t v1 = LoadLE64(p + 16);
  const uint64_t v2 = LoadLE64(p + 24);
  h->n_literals = Field(v0, 0, 20);
  h->n_literal_payload_bytes = Field(v0, 20, 20);
  h->n_matches = Field(v0, 40, 20);
  h->literal_bits = static_cast<int32_t>(Field(v0, 60, 3)) - 7;
  for (int i = 0; i < 4; ++i) {
    h->literal_state[static_cast<size_t>(i)] = static_cast<uint16_t>(Field(v1, 10 * i, 10));
  }
  h->n_lmd_payload_bytes = Field(v1, 40, 20);
  h->lmd_bits = static_cast<int32_t>(Field(v1, 60, 3)) - 7;
  const uint32_t size = Field(v2, 0, 32);
  h->l_state = static_cast<uint16_t>(Field(v2, 32, 10));
  h->m_state = static_cast<uint16_t>(Field(v2, 42, 10));
  h->d_state = static_cast<uint16_t>(Field(v2, 52, 10));
  if (size < kV2FixedBytes || size > block.size()) {
    return Bad("v2 block header size " + std::to_string(size) + " is out of range", at);
  }
  h->freq.fill(0);
  if (size > kV2FixedBytes &&
      !UnpackFrequencies(block.subspan(kV2FixedBytes, size - kV2FixedBytes), h)) {
    return Bad("v2 block frequency tables are malformed", at);
  }
  *header_bytes = size;
  return Status::Ok();
}

struct Tables {
  std::array<DecoderEntry, kLiteralStates> literal;
  std::array<ValueDecoderEntry, kLStates> l;
  std::array<ValueDecoderEntry, kMStates> m;
  std::array<ValueDecoderEntry, kDStates> d;
};

uint32_t ValueDecode(uint32_t* state, std::span<const ValueDecoderEntry> table, BitReader* in) {
  const ValueDecoderEntry& e = table[*state];
  const auto v = static_cast<uint32_t>(in->Pull(e.total_bits));
  *state = e.delta + (v >> e.value_bits);
  return static_cast<uint32_t>(e.base) + (v & ((uint32_t{1} << e.value_bits) - 1));
}

// Decodes one bvx1/bvx2 block starting at in[at] into out[*op, ...).
Status DecodeCompressedBlock(std::span<const std::byte> in, size_t at, std::span<std::byte> out,
                             size_t* op, std::vector<uint8_t>* literals, size_t* block_bytes) {
  CompressedHeader h;
  size_t header_bytes = 0;
  IMGFS_RETURN_IF_ERROR(ParseHeader(in.subspan(at), at, &h, &header_bytes));
  if (h.n_literals > kLiteralsPerBlock || h.n_matches > kMatchesPerBlock) {
    return Bad("block holds more literals or matches than a block may", at);
  }
  if (h.literal_bits < -7 || h.literal_bits > 0 || h.lmd_bits < -7 || h.lmd_bits > 0) {
    return Bad("block bit counts are out of range", at);
  }
  for (uint16_t s : h.literal_state) {
    if (s >= kLiteralStates) {
      return Bad("literal state is out of range", at);
    }
  }
  if (h.l_state >= kLStates || h.m_state >= kMStates || h.d_state >= kDStates) {
    return Bad("l/m/d state is out of range", at);
  }
  const size_t avail = in.size() - at - header_bytes;
  if (h.n_literal_payload_bytes > avail ||
      h.n_lmd_payload_bytes > avail - h.n_literal_payload_bytes) {
    return Bad("block payload runs past the end of the stream", at);
  }
  if (h.n_raw_bytes > out.size() - *op) {
    return Bad("block makes more bytes than the output holds", at);
  }
  Tables t;
  if (!BuildDecoderTable(kLiteralStates, h.LiteralFreq(), t.literal) ||
      !BuildValueDecoderTable(kLStates, h.LFreq(), LCode(), t.l) ||
      !BuildValueDecoderTable(kMStates, h.MFreq(), MCode(), t.m) ||
      !BuildValueDecoderTable(kDStates, h.DFreq(), DCode(), t.d)) {
    return Bad("block frequencies add up to more than the states", at);
  }

  // Literals: four interleaved states, decoded four at a time.
  const std::byte* block = in.data() + at;
  const std::byte* lit_end = block + header_bytes + h.n_literal_payload_bytes;
  BitReader lit_in;
  if (!lit_in.Init(block, lit_end, h.literal_bits)) {
    return Bad("literal stream start is malformed", at);
  }
  const uint32_t n_literals = (h.n_literals + 3) & ~3u;
  literals->resize(n_literals + kCopySlackBytes);  // slack for 16-byte copies
  std::array<uint32_t, 4> st = {h.literal_state[0], h.literal_state[1], h.literal_state[2],
                                h.literal_state[3]};
  for (uint32_t i = 0; i < n_literals; i += 4) {
    if (!lit_in.Refill()) {
      return Bad("literal stream is truncated", at);
    }
    for (size_t k = 0; k < 4; ++k) {
      const DecoderEntry& e = t.literal[st[k]];
      (*literals)[i + k] = e.symbol;
      st[k] = e.delta + static_cast<uint32_t>(lit_in.Pull(e.bits));
    }
  }
  if (lit_in.failed()) {
    return Bad("literal stream is malformed", at);
  }

  // L/M/D triples: copy L literals, then M bytes from distance D (0 = the
  // previous distance of this block).
  BitReader lmd_in;
  if (!lmd_in.Init(block, lit_end + h.n_lmd_payload_bytes, h.lmd_bits)) {
    return Bad("l/m/d stream start is malformed", at);
  }
  uint32_t ls = h.l_state;
  uint32_t ms = h.m_state;
  uint32_t ds = h.d_state;
  size_t pos = *op;
  const size_t end = pos + h.n_raw_bytes;
  size_t lit = 0;
  size_t d = 0;
  std::byte* dst = out.data();
  for (uint32_t i = 0; i < h.n_matches; ++i) {
    if (!lmd_in.Refill()) {
      return Bad("l/m/d stream is truncated", at);
    }
    const size_t l = ValueDecode(&ls, t.l, &lmd_in);
    const size_t m = ValueDecode(&ms, t.m, &lmd_in);
    const size_t new_d = ValueDecode(&ds, t.d, &lmd_in);
    if (lmd_in.failed()) {
      return Bad("l/m/d stream is malformed", at);
    }
    if (new_d != 0) {
      d = new_d;
    }
    if (l > n_literals - lit || l + m > end - pos) {
      return Bad("match " + std::to_string(i) + " runs past its block", at);
    }
    const bool slack = out.size() - pos >= l + m + kCopySlackBytes;
    if (slack) {
      // Whole 16-byte steps may overrun into bytes written later anyway.
      for (size_t k = 0; k < l; k += 16) {
        std::memcpy(dst + pos + k, literals->data() + lit + k, 16);
      }
    } else if (l != 0) {  // out may be empty, and memcpy wants real pointers
      std::memcpy(dst + pos, literals->data() + lit, l);
    }
    pos += l;
    lit += l;
    if (m == 0) {
      continue;
    }
    if (d == 0 || d > pos) {
      return Bad("match " + std::to_string(i) + " distance is out of range", at);
    }
    if (slack && d >= 16) {
      for (size_t k = 0; k < m; k += 16) {
        std::memcpy(dst + pos + k, dst + pos + k - d, 16);
      }
    } else {
      CopyMatch(dst + pos, d, m);
    }
    pos += m;
  }
  if (pos != end) {
    return Bad(
        "block makes " + std::to_string(pos - *op) + " bytes, not " + std::to_string(h.n_raw_bytes),
        at);
  }
  *op = pos;
  *block_bytes = header_bytes + h.n_literal_payload_bytes + h.n_lmd_payload_bytes;
  return Status::Ok();
}

}  // namespace
}  // namespace lzfse

Status LzfseDecompress(std::span<const std::byte> in, std::span<std::byte> out) {
  using namespace lzfse;  // NOLINT(google-build-using-namespace): this file's own helpers
  size_t ip = 0;
  size_t op = 0;
  std::vector<uint8_t> literals;
  for (;;) {
    if (in.size() - ip < 4) {
      return Bad("stream ends without an end-of-stream block", ip);
    }
    const uint32_t magic = LoadLE32(in.data() + ip);
    switch (magic) {
      case kMagicEnd:
        if (op != out.size()) {
          return CorruptError("lzfse: stream holds " + std::to_string(op) + " bytes, not " +
                              std::to_string(out.size()));
        }
        return Status::Ok();
      case kMagicRaw: {
        if (in.size() - ip < kRawHeaderBytes) {
          return Bad("raw block header is truncated", ip);
        }
        const uint32_t n = LoadLE32(in.data() + ip + 4);
        if (n > out.size() - op) {
          return Bad("raw block makes more bytes than the output holds", ip);
        }
        if (n > in.size() - ip - kRawHeaderBytes) {
          return Bad("raw block is truncated", ip);
        }
        if (n != 0) {
          std::memcpy(out.data() + op, in.data() + ip + kRawHeaderBytes, n);
        }
        op += n;
        ip += kRawHeaderBytes + n;
        break;
      }
      case kMagicLzvn: {
        if (in.size() - ip < kLzvnHeaderBytes) {
          return Bad("lzvn block header is truncated", ip);
        }
        const uint32_t n_raw = LoadLE32(in.data() + ip + 4);
        const uint32_t n_payload = LoadLE32(in.data() + ip + 8);
        if (n_raw > out.size() - op) {
          return Bad("lzvn block makes more bytes than the output holds", ip);
        }
        if (n_payload > in.size() - ip - kLzvnHeaderBytes) {
          return Bad("lzvn block is truncated", ip);
        }
        IMGFS_RETURN_IF_ERROR(
            LzvnDecode(in.subspan(ip + kLzvnHeaderBytes, n_payload), out, op, op + n_raw));
        op += n_raw;
        ip += kLzvnHeaderBytes + n_payload;
        break;
      }
      case kMagicV1:
      case kMagicV2: {
        size_t used = 0;
        IMGFS_RETURN_IF_ERROR(DecodeCompressedBlock(in, ip, out, &op, &literals, &used));
        ip += used;
        break;
      }
      default:
        return Bad("block magic is unknown", ip);
    }
  }
}

}  // namespace imgfs::codec
