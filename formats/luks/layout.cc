// SPDX-License-Identifier: MIT
#include "formats/luks/layout.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/util/endian.h"
#include "formats/luks/unlock.h"

namespace imgfs::luks {
namespace {

using nlohmann::json;

std::string CipherAlg(const crypto::CipherSpec& spec) {
  const size_t bits =
      (spec.mode == crypto::CipherMode::kXts ? spec.key_bytes / 2 : spec.key_bytes) * 8;
  return spec.cipher + "-" + std::to_string(bits);
}

void DescribeCipher(const crypto::CipherSpec& spec, json* data) {
  (*data)["cipher-alg"] = CipherAlg(spec);
  (*data)["cipher-mode"] = spec.ModeName();
  (*data)["ivgen-alg"] = spec.IvGenName();
  if (!spec.ivhash.empty()) {
    (*data)["ivgen-hash-alg"] = spec.ivhash;
  }
}

Result<Layout> Luks1Layout(const Luks1Header& h) {
  Layout l;
  IMGFS_ASSIGN_OR_RETURN(l.spec, crypto::ParseCipher(h.cipher_name, h.cipher_mode, h.key_bytes));
  l.payload_offset = uint64_t{h.payload_offset} * 512;
  json& d = l.data;
  d["version"] = 1;
  DescribeCipher(l.spec, &d);
  d["hash-alg"] = h.hash;
  d["payload-offset"] = l.payload_offset;
  d["master-key-iters"] = h.mk_digest_iterations;
  d["uuid"] = h.uuid;
  d["slots"] = json::array();
  for (const Luks1Slot& s : h.slots) {
    json slot = {{"active", s.active}, {"key-offset", uint64_t{s.key_offset} * 512}};
    if (s.active) {
      slot["iters"] = s.iterations;
      slot["stripes"] = s.stripes;
    }
    d["slots"].push_back(std::move(slot));
  }
  return l;
}

Result<Layout> Luks2Layout(const Luks2Header& h) {
  Layout l;
  const Luks2Segment& seg = h.segment;
  // The segment's key size is the volume key's: the one its digest's slots
  // hold.
  size_t key_size = 0;
  for (const Luks2Keyslot& k : h.keyslots) {
    key_size = std::max(key_size, k.key_size);
  }
  for (const Luks2Digest& dg : h.digests) {
    if (std::find(dg.segments.begin(), dg.segments.end(), seg.id) == dg.segments.end()) {
      continue;
    }
    for (const Luks2Keyslot& k : h.keyslots) {
      if (std::find(dg.keyslots.begin(), dg.keyslots.end(), k.id) != dg.keyslots.end()) {
        key_size = k.key_size;
      }
    }
  }
  IMGFS_ASSIGN_OR_RETURN(l.spec, crypto::ParseCipher(seg.encryption, key_size));
  l.payload_offset = seg.offset;
  l.payload_size = seg.size;
  l.sector_size = seg.sector_size;
  l.iv_tweak = seg.iv_tweak;
  l.notes = h.notes;
  json& d = l.data;
  d["version"] = 2;
  DescribeCipher(l.spec, &d);
  d["payload-offset"] = seg.offset;
  d["uuid"] = h.uuid;
  if (!h.label.empty()) {
    d["label"] = h.label;
  }
  d["sequence"] = h.seqid;
  d["header-size"] = h.hdr_size;
  d["header-copy"] = h.hdr_offset == 0 ? "primary" : "secondary";
  d["sector-size"] = seg.sector_size;
  d["segment"] = {{"id", seg.id},
                  {"offset", seg.offset},
                  {"size", seg.size ? json(*seg.size) : json("dynamic")},
                  {"iv-tweak", seg.iv_tweak},
                  {"encryption", seg.encryption},
                  {"sector-size", seg.sector_size}};
  d["keyslots"] = json::array();
  for (const Luks2Keyslot& k : h.keyslots) {
    json kdf = {{"type", k.kdf.type}};
    if (k.kdf.type == "pbkdf2") {
      kdf["hash"] = k.kdf.hash;
      kdf["iterations"] = k.kdf.iterations;
    } else {
      kdf["time"] = k.kdf.time;
      kdf["memory"] = k.kdf.memory_kib;
      kdf["cpus"] = k.kdf.cpus;
    }
    d["keyslots"].push_back({{"id", k.id},
                             {"key-size", k.key_size},
                             {"priority", k.priority},
                             {"kdf", kdf},
                             {"af-stripes", k.stripes},
                             {"af-hash", k.af_hash},
                             {"area-offset", k.area_offset},
                             {"area-size", k.area_size},
                             {"area-encryption", k.area_encryption}});
  }
  d["digests"] = json::array();
  for (const Luks2Digest& g : h.digests) {
    d["digests"].push_back({{"id", g.id},
                            {"hash", g.hash},
                            {"iterations", g.iterations},
                            {"keyslots", g.keyslots},
                            {"segments", g.segments}});
  }
  if (!h.flags.empty()) {
    d["flags"] = h.flags;
  }
  return l;
}

}  // namespace

Result<OpenedHeader> ReadHeader(const File& file, const std::string& name) {
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file.Size());
  std::vector<std::byte> head(std::min<uint64_t>(kLuks1HeaderBytes, file_size));
  IMGFS_RETURN_IF_ERROR(file.ReadExactAt(0, head, "luks: header"));
  if (head.size() < 8 || (std::memcmp(head.data(), "LUKS\xba\xbe", 6) != 0 &&
                          std::memcmp(head.data(), "SKUL\xba\xbe", 6) != 0)) {
    return CorruptError("luks: " + name + " has no LUKS header");
  }
  const uint16_t version = LoadBE16(head.data() + 6);
  OpenedHeader h;
  if (version == 1) {
    IMGFS_ASSIGN_OR_RETURN(h.v1, DecodeLuks1(head, file_size));
    IMGFS_ASSIGN_OR_RETURN(h.layout, Luks1Layout(*h.v1));
  } else if (version == 2) {
    IMGFS_ASSIGN_OR_RETURN(h.v2, ReadLuks2(file));
    IMGFS_ASSIGN_OR_RETURN(h.layout, Luks2Layout(*h.v2));
  } else {
    return UnsupportedError("luks: header version " + std::to_string(version));
  }
  return h;
}

Result<SecretBytes> Unlock(const OpenedHeader& h, const File& file, const SecretBytes& passphrase) {
  return h.v1 ? UnlockLuks1(*h.v1, file, passphrase) : UnlockLuks2(*h.v2, file, passphrase);
}

}  // namespace imgfs::luks
