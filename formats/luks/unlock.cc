// SPDX-License-Identifier: MIT
#include "formats/luks/unlock.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/crypto/kdf.h"
#include "core/crypto/sector_cipher.h"

namespace imgfs::luks {
namespace {

Status Rejected() { return KeyRejectedError("luks: no key slot accepts this passphrase"); }

// Constant-time comparison of a candidate digest.
bool SameBytes(std::span<const std::byte> a, std::span<const std::byte> b) {
  if (a.size() != b.size()) {
    return false;
  }
  std::byte diff{0};
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= a[i] ^ b[i];
  }
  return diff == std::byte{0};
}

// Reads `stripes` * `key_bytes` of key material at `offset`, decrypts it
// with `slot_key` (512-byte sectors, IVs from 0) and merges the stripes.
Result<SecretBytes> OpenSlotMaterial(const File& file, uint64_t offset,
                                     const crypto::CipherSpec& spec, const SecretBytes& slot_key,
                                     const std::string& af_hash, size_t key_bytes,
                                     uint32_t stripes) {
  const size_t material = key_bytes * stripes;
  const size_t padded = (material + 511) / 512 * 512;
  IMGFS_ASSIGN_OR_RETURN(SecretBytes buf, SecretBytes::Allocate(padded));
  IMGFS_RETURN_IF_ERROR(file.ReadExactAt(offset, buf.bytes(), "luks: key material"));
  IMGFS_ASSIGN_OR_RETURN(auto cipher, crypto::SectorCipher::Create(spec, slot_key.bytes()));
  for (size_t s = 0; s < padded / 512; ++s) {
    cipher->Decrypt(s, buf.bytes().subspan(s * 512, 512));
  }
  return crypto::AfMerge(af_hash, buf.bytes().first(material), key_bytes, stripes);
}

}  // namespace

Result<SecretBytes> UnlockLuks1(const Luks1Header& h, const File& file,
                                const SecretBytes& passphrase) {
  IMGFS_ASSIGN_OR_RETURN(crypto::CipherSpec spec,
                         crypto::ParseCipher(h.cipher_name, h.cipher_mode, h.key_bytes));
  for (const Luks1Slot& s : h.slots) {
    if (!s.active) {
      continue;
    }
    IMGFS_ASSIGN_OR_RETURN(SecretBytes slot_key, crypto::Pbkdf2(h.hash, passphrase.bytes(), s.salt,
                                                                s.iterations, h.key_bytes));
    IMGFS_ASSIGN_OR_RETURN(SecretBytes candidate,
                           OpenSlotMaterial(file, uint64_t{s.key_offset} * 512, spec, slot_key,
                                            h.hash, h.key_bytes, s.stripes));
    IMGFS_ASSIGN_OR_RETURN(SecretBytes digest,
                           crypto::Pbkdf2(h.hash, candidate.bytes(), h.mk_digest_salt,
                                          h.mk_digest_iterations, h.mk_digest.size()));
    if (SameBytes(digest.bytes(), h.mk_digest)) {
      return candidate;
    }
  }
  return Rejected();
}

Result<SecretBytes> UnlockLuks2(const Luks2Header& h, const File& file,
                                const SecretBytes& passphrase) {
  // The digest that covers the data segment, and the key slots it names.
  const Luks2Digest* digest = nullptr;
  for (const Luks2Digest& d : h.digests) {
    if (std::find(d.segments.begin(), d.segments.end(), h.segment.id) != d.segments.end()) {
      digest = &d;
      break;
    }
  }
  if (digest == nullptr) {
    return CorruptError("luks2: no digest covers segment " + h.segment.id);
  }
  std::vector<const Luks2Keyslot*> slots;
  for (const Luks2Keyslot& k : h.keyslots) {
    if (std::find(digest->keyslots.begin(), digest->keyslots.end(), k.id) !=
        digest->keyslots.end()) {
      slots.push_back(&k);
    }
  }
  // cryptsetup's order: high priority first; priority 0 (ignore) last.
  std::stable_sort(slots.begin(), slots.end(), [](const Luks2Keyslot* a, const Luks2Keyslot* b) {
    return a->priority > b->priority;
  });
  Status first_error = Status::Ok();
  for (const Luks2Keyslot* k : slots) {
    Result<SecretBytes> slot_key = CorruptError("unreachable");
    if (k->kdf.type == "pbkdf2") {
      slot_key = crypto::Pbkdf2(k->kdf.hash, passphrase.bytes(), k->kdf.salt, k->kdf.iterations,
                                k->area_key_size);
    } else {
      slot_key = crypto::Argon2(
          k->kdf.type == "argon2i" ? crypto::Argon2Type::kArgon2i : crypto::Argon2Type::kArgon2id,
          passphrase.bytes(), k->kdf.salt, k->kdf.time, k->kdf.memory_kib, k->kdf.cpus,
          k->area_key_size);
    }
    if (!slot_key.ok()) {
      if (first_error.ok()) {
        first_error = Status(slot_key.status().code(),
                             "luks2: keyslot " + k->id + ": " + slot_key.status().message());
      }
      continue;
    }
    auto spec = crypto::ParseCipher(k->area_encryption, k->area_key_size);
    if (!spec.ok()) {
      if (first_error.ok()) {
        first_error = spec.status();
      }
      continue;
    }
    auto candidate = OpenSlotMaterial(file, k->area_offset, *spec, *slot_key, k->af_hash,
                                      k->key_size, k->stripes);
    if (!candidate.ok()) {
      if (first_error.ok()) {
        first_error = candidate.status();
      }
      continue;
    }
    IMGFS_ASSIGN_OR_RETURN(SecretBytes check,
                           crypto::Pbkdf2(digest->hash, candidate->bytes(), digest->salt,
                                          digest->iterations, digest->digest.size()));
    if (SameBytes(check.bytes(), digest->digest)) {
      return std::move(*candidate);
    }
  }
  if (!first_error.ok()) {
    return first_error;
  }
  return Rejected();
}

}  // namespace imgfs::luks
