// SPDX-License-Identifier: MIT
// The luks driver: probes both LUKS versions by magic, reads the header
// (from the image, or from --header's detached file), recovers the volume
// key from the passphrase and serves the data segment through
// crypto::DecryptingDevice. Without a passphrase the image opens for `info`
// only (OpenOptions::metadata_only); otherwise that is KeyRequired.
#include "formats/luks/driver.h"

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "core/crypto/decrypting_device.h"
#include "core/crypto/sector_cipher.h"
#include "core/util/endian.h"
#include "formats/luks/header.h"
#include "formats/luks/unlock.h"
#include "formats/raw/driver.h"

namespace imgfs::luks {
namespace {

using nlohmann::json;

int Probe(const ProbeInput& in) {
  if (in.head.size() < 8) {
    return 0;
  }
  const bool magic = std::memcmp(in.head.data(), "LUKS\xba\xbe", 6) == 0;
  const uint16_t version = LoadBE16(in.head.data() + 6);
  return magic && (version == 1 || version == 2) ? 100 : 0;
}

// What the header says, ready for Describe and for the device.
struct Layout {
  crypto::CipherSpec spec;
  uint64_t payload_offset = 0;
  std::optional<uint64_t> payload_size;  // nullopt: to the end of the file
  uint32_t sector_size = 512;
  uint64_t iv_tweak = 0;  // 512-byte units
  json data;              // format-specific info
  std::vector<std::string> notes;
};

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

Result<std::unique_ptr<BlockDevice>> Open(std::unique_ptr<File> file, const OpenContext& ctx) {
  const OpenOptions* opt = ctx.options;
  // The header: in the image, or detached (--header, top image only).
  std::unique_ptr<File> detached;
  if (opt != nullptr && !opt->detached_header.empty() && ctx.depth == 0) {
    IMGFS_ASSIGN_OR_RETURN(detached, OpenPosixFile(opt->detached_header, false));
  }
  const File& hfile = detached ? *detached : *file;
  IMGFS_ASSIGN_OR_RETURN(uint64_t header_file_size, hfile.Size());
  IMGFS_ASSIGN_OR_RETURN(uint64_t data_size, file->Size());
  std::vector<std::byte> head(std::min<uint64_t>(kLuks1HeaderBytes, header_file_size));
  IMGFS_RETURN_IF_ERROR(hfile.ReadExactAt(0, head, "luks: header"));
  if (head.size() < 8 || (std::memcmp(head.data(), "LUKS\xba\xbe", 6) != 0 &&
                          std::memcmp(head.data(), "SKUL\xba\xbe", 6) != 0)) {
    return CorruptError("luks: " + (detached ? opt->detached_header : ctx.path) +
                        " has no LUKS header");
  }
  const uint16_t version = LoadBE16(head.data() + 6);
  std::optional<Luks1Header> h1;
  std::optional<Luks2Header> h2;
  Layout layout;
  if (version == 1) {
    IMGFS_ASSIGN_OR_RETURN(h1, DecodeLuks1(head, header_file_size));
    IMGFS_ASSIGN_OR_RETURN(layout, Luks1Layout(*h1));
  } else if (version == 2) {
    IMGFS_ASSIGN_OR_RETURN(h2, ReadLuks2(hfile));
    IMGFS_ASSIGN_OR_RETURN(layout, Luks2Layout(*h2));
  } else {
    return UnsupportedError("luks: header version " + std::to_string(version));
  }
  if (layout.payload_offset > data_size) {
    return CorruptError("luks: the payload offset " + std::to_string(layout.payload_offset) +
                        " lies past the end of " + ctx.path);
  }
  uint64_t size = layout.payload_size.value_or(data_size - layout.payload_offset);
  size -= size % layout.sector_size;
  if (size > data_size - layout.payload_offset) {  // payload_offset <= data_size: no wrap
    return CorruptError("luks: the data segment (" + std::to_string(size) +
                        " bytes) runs past the end of " + ctx.path);
  }

  std::unique_ptr<crypto::SectorCipher> cipher;
  const bool have_key = opt != nullptr && opt->passphrase != nullptr;
  if (!have_key && (opt == nullptr || !opt->metadata_only)) {
    return KeyRequiredError("luks: " + ctx.path + " is encrypted; give its passphrase");
  }
  if (have_key) {
    IMGFS_ASSIGN_OR_RETURN(SecretBytes key, h1 ? UnlockLuks1(*h1, hfile, *opt->passphrase)
                                               : UnlockLuks2(*h2, hfile, *opt->passphrase));
    IMGFS_ASSIGN_OR_RETURN(cipher, crypto::SectorCipher::Create(layout.spec, key.bytes()));
  }

  crypto::DecryptingDeviceOptions dopt;
  dopt.payload_offset = layout.payload_offset;
  dopt.size = size;
  dopt.sector_size = layout.sector_size;
  // dm-crypt counts IVs in 512-byte sectors unless iv_large_sectors is set,
  // and cryptsetup sets that flag for plain and BitLocker mappings only,
  // never for LUKS2: a 4096-byte sector n has IV 8n (+ iv_tweak).
  dopt.iv_offset = layout.iv_tweak;
  dopt.iv_sectors_per_sector = layout.sector_size / 512;
  dopt.pool = opt != nullptr ? opt->pool : nullptr;
  const bool locked = cipher == nullptr;
  dopt.describe = [data = layout.data, notes = layout.notes, locked](ImageInfo* info) {
    info->format = "luks";
    info->encryption = "luks";
    info->format_specific = {{"type", "luks"}, {"data", data}};
    for (const std::string& n : notes) {
      info->notes.push_back(n);
    }
    if (locked) {
      info->notes.push_back("luks: opened without a passphrase; only the header was read");
    }
  };
  auto inner = raw::NewRawDevice(std::move(file), data_size);
  return std::unique_ptr<BlockDevice>(
      new crypto::DecryptingDevice(std::move(inner), std::move(cipher), std::move(dopt)));
}

}  // namespace

FormatDriver Driver() {
  return FormatDriver{"luks", "LUKS1 and LUKS2 encrypted volumes (cryptsetup, qemu-img)", &Probe,
                      &Open};
}

}  // namespace imgfs::luks
