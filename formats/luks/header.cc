// SPDX-License-Identifier: MIT
#include "formats/luks/header.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/crypto/kdf.h"
#include "core/util/endian.h"

namespace imgfs::luks {
namespace {

using nlohmann::json;

// A NUL-padded string field.
std::string Field(const std::byte* p, size_t n) {
  const char* c = reinterpret_cast<const char*>(p);
  return std::string(c, strnlen(c, n));
}

constexpr uint32_t kSlotActive = 0x00AC71F3;
constexpr uint32_t kSlotInactive = 0x0000DEAD;

// JSON nesting deeper than this is refused before parsing (LUKS2 metadata
// is four levels deep).
constexpr int kMaxJsonDepth = 32;
// Objects in keyslots/digests/segments: LUKS2 has 32 key slots.
constexpr size_t kMaxEntries = 64;
constexpr size_t kMaxSaltBytes = 1024;

Status JsonError(const std::string& what) { return CorruptError("luks2: JSON " + what); }

bool TooDeep(std::string_view s) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) {
        return true;
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

// LUKS2 writes 64-bit numbers as decimal strings.
Result<uint64_t> U64String(const json& v, const std::string& what) {
  if (!v.is_string()) {
    return JsonError(what + " is not a decimal string");
  }
  const std::string& s = v.get_ref<const std::string&>();
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
    return JsonError(what + " '" + s.substr(0, 32) + "' is not a decimal number");
  }
  return out;
}

Result<uint64_t> UInt(const json& v, const std::string& what, uint64_t max) {
  if (!v.is_number_unsigned() || v.get<uint64_t>() > max) {
    return JsonError(what + " is not a number in 0.." + std::to_string(max));
  }
  return v.get<uint64_t>();
}

Result<std::string> Str(const json& obj, const char* key, const std::string& what) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) {
    return JsonError(what + "." + key + " is missing or not a string");
  }
  const std::string& s = it->get_ref<const std::string&>();
  if (s.size() > 256) {
    return JsonError(what + "." + key + " is too long");
  }
  return s;
}

const json* Member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

Result<const json*> Need(const json& obj, const char* key, const std::string& what) {
  const json* m = Member(obj, key);
  if (m == nullptr) {
    return JsonError(what + "." + key + " is missing");
  }
  return m;
}

Result<std::vector<std::byte>> Base64(const json& v, const std::string& what, size_t max) {
  if (!v.is_string()) {
    return JsonError(what + " is not a base64 string");
  }
  const std::string& s = v.get_ref<const std::string&>();
  std::vector<std::byte> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    int d;
    if (c >= 'A' && c <= 'Z') {
      d = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      d = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      d = c - '0' + 52;
    } else if (c == '+') {
      d = 62;
    } else if (c == '/') {
      d = 63;
    } else if (c == '=') {
      break;
    } else {
      return JsonError(what + " is not valid base64");
    }
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::byte>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
    if (out.size() > max) {
      return JsonError(what + " is longer than " + std::to_string(max) + " bytes");
    }
  }
  return out;
}

Result<std::vector<std::string>> StringArray(const json& obj, const char* key,
                                             const std::string& what) {
  IMGFS_ASSIGN_OR_RETURN(const json* a, Need(obj, key, what));
  if (!a->is_array() || a->size() > kMaxEntries) {
    return JsonError(what + "." + key + " is not a short array");
  }
  std::vector<std::string> out;
  for (const json& e : *a) {
    if (!e.is_string() || e.get_ref<const std::string&>().size() > 64) {
      return JsonError(what + "." + key + " holds a non-string");
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<Luks2Keyslot> DecodeKeyslot(const std::string& id, const json& k) {
  const std::string what = "keyslot " + id;
  Luks2Keyslot s;
  s.id = id;
  if (!k.is_object()) {
    return JsonError(what + " is not an object");
  }
  IMGFS_ASSIGN_OR_RETURN(std::string type, Str(k, "type", what));
  if (type != "luks2") {
    return UnsupportedError("luks2: " + what + " has type '" + type +
                            "', imgfs reads only luks2 key slots");
  }
  IMGFS_ASSIGN_OR_RETURN(const json* ks, Need(k, "key_size", what));
  IMGFS_ASSIGN_OR_RETURN(uint64_t key_size, UInt(*ks, what + ".key_size", kMaxKeyBytes));
  s.key_size = static_cast<size_t>(key_size);
  if (const json* pr = Member(k, "priority")) {
    IMGFS_ASSIGN_OR_RETURN(uint64_t p, UInt(*pr, what + ".priority", 2));
    s.priority = static_cast<int>(p);
  }
  IMGFS_ASSIGN_OR_RETURN(const json* af, Need(k, "af", what));
  if (!af->is_object()) {
    return JsonError(what + ".af is not an object");
  }
  IMGFS_ASSIGN_OR_RETURN(std::string af_type, Str(*af, "type", what + ".af"));
  if (af_type != "luks1") {
    return UnsupportedError("luks2: " + what + " has af type '" + af_type + "'");
  }
  IMGFS_ASSIGN_OR_RETURN(s.af_hash, Str(*af, "hash", what + ".af"));
  IMGFS_ASSIGN_OR_RETURN(const json* stripes, Need(*af, "stripes", what + ".af"));
  IMGFS_ASSIGN_OR_RETURN(uint64_t st, UInt(*stripes, what + ".af.stripes", kMaxStripes));
  s.stripes = static_cast<uint32_t>(st);
  IMGFS_ASSIGN_OR_RETURN(const json* area, Need(k, "area", what));
  if (!area->is_object()) {
    return JsonError(what + ".area is not an object");
  }
  IMGFS_ASSIGN_OR_RETURN(std::string area_type, Str(*area, "type", what + ".area"));
  if (area_type != "raw") {
    return UnsupportedError("luks2: " + what + " has area type '" + area_type + "'");
  }
  IMGFS_ASSIGN_OR_RETURN(const json* off, Need(*area, "offset", what + ".area"));
  IMGFS_ASSIGN_OR_RETURN(s.area_offset, U64String(*off, what + ".area.offset"));
  IMGFS_ASSIGN_OR_RETURN(const json* size, Need(*area, "size", what + ".area"));
  IMGFS_ASSIGN_OR_RETURN(s.area_size, U64String(*size, what + ".area.size"));
  IMGFS_ASSIGN_OR_RETURN(s.area_encryption, Str(*area, "encryption", what + ".area"));
  IMGFS_ASSIGN_OR_RETURN(const json* aks, Need(*area, "key_size", what + ".area"));
  IMGFS_ASSIGN_OR_RETURN(uint64_t area_key, UInt(*aks, what + ".area.key_size", kMaxKeyBytes));
  s.area_key_size = static_cast<size_t>(area_key);
  if (s.key_size == 0 || s.area_key_size == 0 || s.stripes == 0) {
    return JsonError(what + " has a zero key size or stripe count");
  }
  if (uint64_t{s.key_size} * s.stripes > s.area_size) {
    return CorruptError("luks2: " + what + ": " + std::to_string(s.stripes) + " stripes of " +
                        std::to_string(s.key_size) + " bytes do not fit its " +
                        std::to_string(s.area_size) + "-byte area");
  }
  IMGFS_ASSIGN_OR_RETURN(const json* kdf, Need(k, "kdf", what));
  if (!kdf->is_object()) {
    return JsonError(what + ".kdf is not an object");
  }
  IMGFS_ASSIGN_OR_RETURN(s.kdf.type, Str(*kdf, "type", what + ".kdf"));
  IMGFS_ASSIGN_OR_RETURN(const json* salt, Need(*kdf, "salt", what + ".kdf"));
  IMGFS_ASSIGN_OR_RETURN(s.kdf.salt, Base64(*salt, what + ".kdf.salt", kMaxSaltBytes));
  if (s.kdf.type == "pbkdf2") {
    IMGFS_ASSIGN_OR_RETURN(s.kdf.hash, Str(*kdf, "hash", what + ".kdf"));
    IMGFS_ASSIGN_OR_RETURN(const json* it, Need(*kdf, "iterations", what + ".kdf"));
    IMGFS_ASSIGN_OR_RETURN(uint64_t n, UInt(*it, what + ".kdf.iterations", UINT32_MAX));
    s.kdf.iterations = static_cast<uint32_t>(n);
  } else if (s.kdf.type == "argon2i" || s.kdf.type == "argon2id") {
    IMGFS_ASSIGN_OR_RETURN(const json* t, Need(*kdf, "time", what + ".kdf"));
    IMGFS_ASSIGN_OR_RETURN(uint64_t time, UInt(*t, what + ".kdf.time", UINT32_MAX));
    IMGFS_ASSIGN_OR_RETURN(const json* m, Need(*kdf, "memory", what + ".kdf"));
    IMGFS_ASSIGN_OR_RETURN(s.kdf.memory_kib, UInt(*m, what + ".kdf.memory", UINT32_MAX));
    IMGFS_ASSIGN_OR_RETURN(const json* c, Need(*kdf, "cpus", what + ".kdf"));
    IMGFS_ASSIGN_OR_RETURN(uint64_t cpus, UInt(*c, what + ".kdf.cpus", UINT32_MAX));
    s.kdf.time = static_cast<uint32_t>(time);
    s.kdf.cpus = static_cast<uint32_t>(cpus);
  } else {
    return UnsupportedError("luks2: " + what + " uses the key derivation '" + s.kdf.type +
                            "'; imgfs knows pbkdf2, argon2i and argon2id");
  }
  return s;
}

Result<Luks2Digest> DecodeDigest(const std::string& id, const json& d) {
  const std::string what = "digest " + id;
  if (!d.is_object()) {
    return JsonError(what + " is not an object");
  }
  Luks2Digest g;
  g.id = id;
  IMGFS_ASSIGN_OR_RETURN(std::string type, Str(d, "type", what));
  if (type != "pbkdf2") {
    return UnsupportedError("luks2: " + what + " has type '" + type + "'");
  }
  IMGFS_ASSIGN_OR_RETURN(g.keyslots, StringArray(d, "keyslots", what));
  IMGFS_ASSIGN_OR_RETURN(g.segments, StringArray(d, "segments", what));
  IMGFS_ASSIGN_OR_RETURN(g.hash, Str(d, "hash", what));
  IMGFS_ASSIGN_OR_RETURN(const json* it, Need(d, "iterations", what));
  IMGFS_ASSIGN_OR_RETURN(uint64_t n, UInt(*it, what + ".iterations", UINT32_MAX));
  g.iterations = static_cast<uint32_t>(n);
  IMGFS_ASSIGN_OR_RETURN(const json* salt, Need(d, "salt", what));
  IMGFS_ASSIGN_OR_RETURN(g.salt, Base64(*salt, what + ".salt", kMaxSaltBytes));
  IMGFS_ASSIGN_OR_RETURN(const json* dg, Need(d, "digest", what));
  IMGFS_ASSIGN_OR_RETURN(g.digest, Base64(*dg, what + ".digest", 64));
  if (g.digest.empty() || g.iterations == 0) {
    return JsonError(what + " has an empty digest or zero iterations");
  }
  return g;
}

Result<Luks2Segment> DecodeSegment(const std::string& id, const json& s) {
  const std::string what = "segment " + id;
  if (!s.is_object()) {
    return JsonError(what + " is not an object");
  }
  Luks2Segment g;
  g.id = id;
  IMGFS_ASSIGN_OR_RETURN(std::string type, Str(s, "type", what));
  if (type != "crypt") {
    return UnsupportedError("luks2: " + what + " has type '" + type +
                            "' (imgfs reads only crypt segments; a linear segment means an "
                            "unfinished reencryption)");
  }
  if (const json* integrity = Member(s, "integrity"); integrity != nullptr) {
    return UnsupportedError("luks2: " + what + " uses dm-integrity, which imgfs does not read");
  }
  if (const json* f = Member(s, "flags"); f != nullptr && f->is_array() && !f->empty()) {
    return UnsupportedError("luks2: " + what + " has flags (" + f->dump().substr(0, 80) +
                            "): an unfinished reencryption");
  }
  IMGFS_ASSIGN_OR_RETURN(const json* off, Need(s, "offset", what));
  IMGFS_ASSIGN_OR_RETURN(g.offset, U64String(*off, what + ".offset"));
  IMGFS_ASSIGN_OR_RETURN(const json* size, Need(s, "size", what));
  if (size->is_string() && size->get_ref<const std::string&>() == "dynamic") {
    g.size.reset();
  } else {
    IMGFS_ASSIGN_OR_RETURN(g.size, U64String(*size, what + ".size"));
  }
  IMGFS_ASSIGN_OR_RETURN(const json* tweak, Need(s, "iv_tweak", what));
  IMGFS_ASSIGN_OR_RETURN(g.iv_tweak, U64String(*tweak, what + ".iv_tweak"));
  IMGFS_ASSIGN_OR_RETURN(g.encryption, Str(s, "encryption", what));
  IMGFS_ASSIGN_OR_RETURN(const json* ss, Need(s, "sector_size", what));
  IMGFS_ASSIGN_OR_RETURN(uint64_t sector, UInt(*ss, what + ".sector_size", 4096));
  if (sector < 512 || (sector & (sector - 1)) != 0) {
    return CorruptError("luks2: " + what + " has sector size " + std::to_string(sector) +
                        " (512, 1024, 2048 or 4096)");
  }
  g.sector_size = static_cast<uint32_t>(sector);
  if (g.offset % 512 != 0 || (g.size && *g.size % g.sector_size != 0)) {
    return CorruptError("luks2: " + what + " offset or size is not sector-aligned");
  }
  return g;
}

// Decodes one binary header at `bytes` (kLuks2BinaryHeaderBytes).
struct Binary {
  uint64_t hdr_size = 0;
  uint64_t seqid = 0;
  uint64_t hdr_offset = 0;
  std::string label, checksum_alg, uuid, subsystem;
  std::array<std::byte, 64> csum{};
};

Result<Binary> DecodeBinary(std::span<const std::byte> b, bool secondary) {
  static const char kMagic1[6] = {'L', 'U', 'K', 'S', '\xba', '\xbe'};
  static const char kMagic2[6] = {'S', 'K', 'U', 'L', '\xba', '\xbe'};
  if (std::memcmp(b.data(), secondary ? kMagic2 : kMagic1, 6) != 0) {
    return CorruptError(std::string("luks2: no ") + (secondary ? "secondary" : "primary") +
                        " header magic");
  }
  if (LoadBE16(b.data() + 6) != 2) {
    return CorruptError("luks2: header version " + std::to_string(LoadBE16(b.data() + 6)));
  }
  Binary h;
  h.hdr_size = LoadBE64(b.data() + 8);
  h.seqid = LoadBE64(b.data() + 16);
  h.label = Field(b.data() + 24, 48);
  h.checksum_alg = Field(b.data() + 72, 32);
  h.uuid = Field(b.data() + 168, 40);
  h.subsystem = Field(b.data() + 208, 48);
  h.hdr_offset = LoadBE64(b.data() + 256);
  std::memcpy(h.csum.data(), b.data() + 448, 64);
  bool size_ok = false;
  for (uint64_t s = 16384; s <= kMaxLuks2HeaderBytes; s *= 2) {
    size_ok |= h.hdr_size == s;
  }
  if (!size_ok) {
    return CorruptError("luks2: header size " + std::to_string(h.hdr_size) +
                        " is not a LUKS2 header size (16 KiB .. 4 MiB, a power of two)");
  }
  return h;
}

// Reads, checksums and decodes the copy at `offset`.
Result<Luks2Header> ReadCopy(const File& file, uint64_t offset, uint64_t file_size) {
  const bool secondary = offset != 0;
  const std::string name = secondary ? "secondary header" : "primary header";
  if (file_size < offset + kLuks2BinaryHeaderBytes) {
    return CorruptError("luks2: the file ends before the " + name);
  }
  std::vector<std::byte> bin(kLuks2BinaryHeaderBytes);
  IMGFS_RETURN_IF_ERROR(file.ReadExactAt(offset, bin, "luks2: binary header"));
  IMGFS_ASSIGN_OR_RETURN(Binary b, DecodeBinary(bin, secondary));
  if (b.hdr_offset != offset) {
    return CorruptError("luks2: the " + name + " says it lies at " + std::to_string(b.hdr_offset));
  }
  if (file_size < offset + b.hdr_size) {
    return CorruptError("luks2: the file ends inside the " + name + "'s JSON area");
  }
  const size_t cs = crypto::HashSize(b.checksum_alg);
  if (cs == 0 || cs > 64) {
    return UnsupportedError("luks2: unknown header checksum '" + b.checksum_alg + "'");
  }
  std::vector<std::byte> all(static_cast<size_t>(b.hdr_size));
  std::memcpy(all.data(), bin.data(), bin.size());
  IMGFS_RETURN_IF_ERROR(file.ReadExactAt(offset + kLuks2BinaryHeaderBytes,
                                         std::span(all).subspan(kLuks2BinaryHeaderBytes),
                                         "luks2: JSON area"));
  std::memset(all.data() + 448, 0, 64);
  std::array<std::byte, 64> sum{};
  crypto::Hash(b.checksum_alg, all, std::span(sum).first(cs));
  if (std::memcmp(sum.data(), b.csum.data(), cs) != 0) {
    return CorruptError("luks2: the " + name + "'s checksum does not match");
  }
  Luks2Header h;
  h.hdr_size = b.hdr_size;
  h.seqid = b.seqid;
  h.hdr_offset = offset;
  h.label = b.label;
  h.subsystem = b.subsystem;
  h.checksum_alg = b.checksum_alg;
  h.uuid = b.uuid;
  const char* json_begin = reinterpret_cast<const char*>(all.data() + kLuks2BinaryHeaderBytes);
  const size_t json_max = all.size() - kLuks2BinaryHeaderBytes;
  IMGFS_RETURN_IF_ERROR(
      DecodeLuks2Json(std::string_view(json_begin, strnlen(json_begin, json_max)), &h));
  return h;
}

}  // namespace

Result<Luks1Header> DecodeLuks1(std::span<const std::byte> b, uint64_t file_size) {
  if (b.size() < kLuks1HeaderBytes || std::memcmp(b.data(), "LUKS\xba\xbe", 6) != 0) {
    return CorruptError("luks: no LUKS header");
  }
  const uint16_t version = LoadBE16(b.data() + 6);
  if (version != 1) {
    return CorruptError("luks: header version " + std::to_string(version) + " in a LUKS1 header");
  }
  Luks1Header h;
  h.cipher_name = Field(b.data() + 8, 32);
  h.cipher_mode = Field(b.data() + 40, 32);
  h.hash = Field(b.data() + 72, 32);
  h.payload_offset = LoadBE32(b.data() + 104);
  h.key_bytes = LoadBE32(b.data() + 108);
  std::memcpy(h.mk_digest.data(), b.data() + 112, 20);
  std::memcpy(h.mk_digest_salt.data(), b.data() + 132, 32);
  h.mk_digest_iterations = LoadBE32(b.data() + 164);
  h.uuid = Field(b.data() + 168, 40);
  if (h.key_bytes == 0 || h.key_bytes > kMaxKeyBytes) {
    return CorruptError("luks: key size " + std::to_string(h.key_bytes) + " bytes");
  }
  if (h.mk_digest_iterations == 0) {
    return CorruptError("luks: master key digest iterations are zero");
  }
  if (crypto::HashSize(h.hash) == 0) {
    return UnsupportedError("luks: unknown hash '" + h.hash + "'");
  }
  for (int i = 0; i < kLuks1Slots; ++i) {
    const std::byte* p = b.data() + 208 + 48 * i;
    Luks1Slot& s = h.slots[static_cast<size_t>(i)];
    const uint32_t state = LoadBE32(p);
    if (state != kSlotActive && state != kSlotInactive) {
      return CorruptError("luks: key slot " + std::to_string(i) + " has state " +
                          std::to_string(state));
    }
    s.active = state == kSlotActive;
    s.iterations = LoadBE32(p + 4);
    std::memcpy(s.salt.data(), p + 8, 32);
    s.key_offset = LoadBE32(p + 40);
    s.stripes = LoadBE32(p + 44);
    if (!s.active) {
      continue;
    }
    const uint64_t material = uint64_t{h.key_bytes} * s.stripes;
    const uint64_t start = uint64_t{s.key_offset} * 512;
    if (s.stripes == 0 || s.stripes > kMaxStripes || s.iterations == 0) {
      return CorruptError("luks: key slot " + std::to_string(i) + " has " +
                          std::to_string(s.stripes) + " stripes and " +
                          std::to_string(s.iterations) + " iterations");
    }
    if (start < kLuks1HeaderBytes || start + material > file_size) {
      return CorruptError("luks: key slot " + std::to_string(i) + "'s key material at " +
                          std::to_string(start) + " lies outside the header file");
    }
  }
  return h;
}

Status DecodeLuks2Json(std::string_view text, Luks2Header* h) {
  if (TooDeep(text)) {
    return JsonError("nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return JsonError("area is not a JSON object");
  }
  IMGFS_ASSIGN_OR_RETURN(const json* config, Need(j, "config", "metadata"));
  if (!config->is_object()) {
    return JsonError("config is not an object");
  }
  IMGFS_ASSIGN_OR_RETURN(const json* js, Need(*config, "json_size", "config"));
  IMGFS_ASSIGN_OR_RETURN(uint64_t json_size, U64String(*js, "config.json_size"));
  if (json_size + kLuks2BinaryHeaderBytes != h->hdr_size) {
    return CorruptError("luks2: config.json_size " + std::to_string(json_size) +
                        " does not match the header size " + std::to_string(h->hdr_size));
  }
  IMGFS_ASSIGN_OR_RETURN(const json* kss, Need(*config, "keyslots_size", "config"));
  IMGFS_ASSIGN_OR_RETURN(h->keyslots_size, U64String(*kss, "config.keyslots_size"));
  if (const json* f = Member(*config, "flags"); f != nullptr) {
    IMGFS_ASSIGN_OR_RETURN(h->flags, StringArray(*config, "flags", "config"));
  }
  if (const json* req = Member(*config, "requirements"); req != nullptr && req->is_object()) {
    if (const json* m = Member(*req, "mandatory"); m != nullptr) {
      IMGFS_ASSIGN_OR_RETURN(std::vector<std::string> mandatory,
                             StringArray(*req, "mandatory", "config.requirements"));
      if (!mandatory.empty()) {
        std::string all;
        for (const std::string& r : mandatory) {
          all += (all.empty() ? "" : ", ") + r;
        }
        return UnsupportedError("luks2: the header requires " + all +
                                ", which imgfs does not implement (online reencryption, "
                                "hw-opal and the like)");
      }
    }
  }
  for (const char* section : {"keyslots", "digests", "segments"}) {
    IMGFS_ASSIGN_OR_RETURN(const json* obj, Need(j, section, "metadata"));
    if (!obj->is_object() || obj->size() > kMaxEntries) {
      return JsonError(std::string(section) + " is not an object of at most " +
                       std::to_string(kMaxEntries) + " entries");
    }
  }
  for (const auto& [id, k] : j["keyslots"].items()) {
    IMGFS_ASSIGN_OR_RETURN(Luks2Keyslot s, DecodeKeyslot(id.substr(0, 16), k));
    if (s.area_offset < h->hdr_size * 2 ||
        s.area_offset + s.area_size > 2 * h->hdr_size + h->keyslots_size ||
        s.area_offset + s.area_size < s.area_offset) {
      return CorruptError("luks2: keyslot " + s.id + "'s area lies outside the key slot area");
    }
    h->keyslots.push_back(std::move(s));
  }
  for (const auto& [id, d] : j["digests"].items()) {
    IMGFS_ASSIGN_OR_RETURN(Luks2Digest g, DecodeDigest(id.substr(0, 16), d));
    h->digests.push_back(std::move(g));
  }
  const json& segments = j["segments"];
  if (segments.size() != 1) {
    return UnsupportedError("luks2: " + std::to_string(segments.size()) +
                            " data segments; imgfs reads headers with exactly one (more mean an "
                            "unfinished reencryption)");
  }
  IMGFS_ASSIGN_OR_RETURN(h->segment,
                         DecodeSegment(segments.begin().key().substr(0, 16), segments.front()));
  return Status::Ok();
}

Result<Luks2Header> ReadLuks2(const File& file) {
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file.Size());
  auto primary = ReadCopy(file, 0, file_size);
  // The secondary copy follows the primary; when the primary is damaged its
  // size is not trusted and every LUKS2 header size is tried.
  Result<Luks2Header> secondary = CorruptError("luks2: no secondary header");
  if (primary.ok()) {
    secondary = ReadCopy(file, primary->hdr_size, file_size);
  } else {
    for (uint64_t s = 16384; s <= kMaxLuks2HeaderBytes && s < file_size; s *= 2) {
      secondary = ReadCopy(file, s, file_size);
      if (secondary.ok() || secondary.status().code() == StatusCode::kUnsupported) {
        break;
      }
    }
  }
  if (!primary.ok() && !secondary.ok()) {
    // Say why the primary failed: that copy is the one users mean.
    if (primary.status().code() == StatusCode::kUnsupported ||
        secondary.status().code() != StatusCode::kUnsupported) {
      return primary.status();
    }
    return secondary.status();
  }
  if (primary.ok() && secondary.ok()) {
    if (secondary->seqid > primary->seqid) {
      secondary->notes.push_back("luks2: the secondary header is newer (seqid " +
                                 std::to_string(secondary->seqid) + " > " +
                                 std::to_string(primary->seqid) + "); it was used");
      return secondary;
    }
    if (secondary->seqid < primary->seqid) {
      primary->notes.push_back("luks2: the secondary header is older than the primary");
    }
    return primary;
  }
  if (primary.ok()) {
    primary->notes.push_back("luks2: secondary header unusable: " + secondary.status().message());
    return primary;
  }
  secondary->notes.push_back("luks2: primary header unusable (" + primary.status().message() +
                             "); the secondary copy was used");
  return secondary;
}

}  // namespace imgfs::luks
