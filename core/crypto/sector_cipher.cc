// SPDX-License-Identifier: MIT
#include "core/crypto/sector_cipher.h"

#include <nettle/cbc.h>
#include <nettle/nettle-meta.h>
#include <nettle/xts.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <utility>

#include "core/crypto/hash_table.h"
#include "core/crypto/kdf.h"

namespace imgfs::crypto {

namespace {

const uint8_t* U8(const std::byte* p) { return reinterpret_cast<const uint8_t*>(p); }
uint8_t* U8(std::byte* p) { return reinterpret_cast<uint8_t*>(p); }

struct NamedHash {
  std::string_view name;
  const nettle_hash* hash;
};
struct NamedCipher {
  std::string_view name;
  const nettle_cipher* cipher;
};

}  // namespace

const nettle_hash* FindHash(std::string_view name) {
  static const NamedHash kHashes[] = {
      {"sha1", &nettle_sha1},     {"sha224", &nettle_sha224}, {"sha256", &nettle_sha256},
      {"sha384", &nettle_sha384}, {"sha512", &nettle_sha512}, {"ripemd160", &nettle_ripemd160},
  };
  for (const NamedHash& h : kHashes) {
    if (h.name == name) {
      return h.hash;
    }
  }
  return nullptr;
}

const nettle_cipher* FindCipher(std::string_view name, size_t key_bytes) {
  static const NamedCipher kCiphers[] = {
      {"aes", &nettle_aes128},         {"aes", &nettle_aes192},
      {"aes", &nettle_aes256},         {"twofish", &nettle_twofish128},
      {"twofish", &nettle_twofish192}, {"twofish", &nettle_twofish256},
      {"serpent", &nettle_serpent128}, {"serpent", &nettle_serpent192},
      {"serpent", &nettle_serpent256}, {"cast5", &nettle_cast128},
  };
  for (const NamedCipher& c : kCiphers) {
    if (c.name == name && c.cipher->key_size == key_bytes) {
      return c.cipher;
    }
  }
  return nullptr;
}

std::string CipherSpec::ModeName() const {
  switch (mode) {
    case CipherMode::kXts:
      return "xts";
    case CipherMode::kCbc:
      return "cbc";
    case CipherMode::kEcb:
      return "ecb";
  }
  return "?";
}

std::string CipherSpec::IvGenName() const {
  switch (ivgen) {
    case IvGen::kPlain:
      return "plain";
    case IvGen::kPlain64:
      return "plain64";
    case IvGen::kEssiv:
      return "essiv";
    case IvGen::kNull:
      return "null";
  }
  return "?";
}

Result<CipherSpec> ParseCipher(std::string_view cipher, std::string_view mode, size_t key_bytes) {
  const std::string what = "cipher " + std::string(cipher) + "-" + std::string(mode) + " with a " +
                           std::to_string(key_bytes * 8) + "-bit key";
  CipherSpec spec;
  spec.cipher = std::string(cipher);
  spec.key_bytes = key_bytes;
  const size_t dash = mode.find('-');
  const std::string_view chain = mode.substr(0, dash);
  const std::string_view iv = dash == std::string_view::npos ? "" : mode.substr(dash + 1);
  if (chain == "xts") {
    spec.mode = CipherMode::kXts;
  } else if (chain == "cbc") {
    spec.mode = CipherMode::kCbc;
  } else if (chain == "ecb") {
    spec.mode = CipherMode::kEcb;
  } else {
    return UnsupportedError("unsupported " + what + ": imgfs knows the modes xts, cbc and ecb");
  }
  if (iv == "plain") {
    spec.ivgen = IvGen::kPlain;
  } else if (iv == "plain64") {
    spec.ivgen = IvGen::kPlain64;
  } else if (iv == "null" || (iv.empty() && spec.mode == CipherMode::kEcb)) {
    spec.ivgen = IvGen::kNull;
  } else if (iv.starts_with("essiv:")) {
    spec.ivgen = IvGen::kEssiv;
    spec.ivhash = std::string(iv.substr(6));
    if (HashSize(spec.ivhash) == 0) {
      return UnsupportedError("unsupported " + what + ": unknown essiv hash");
    }
  } else {
    return UnsupportedError("unsupported " + what +
                            ": imgfs knows the IV generators plain, plain64, essiv:<hash> and "
                            "null");
  }
  // ecb uses no IV; qemu-img still writes an IV generator ("ecb-plain64").
  const size_t cipher_key = spec.mode == CipherMode::kXts ? key_bytes / 2 : key_bytes;
  const nettle_cipher* c = FindCipher(cipher, cipher_key);
  if (c == nullptr || (spec.mode == CipherMode::kXts && key_bytes % 2 != 0)) {
    return UnsupportedError("unsupported " + what);
  }
  if (spec.mode == CipherMode::kXts && c->block_size != 16) {
    return UnsupportedError("unsupported " + what + ": xts needs a 128-bit block cipher");
  }
  if (spec.ivgen == IvGen::kEssiv && FindCipher(cipher, HashSize(spec.ivhash)) == nullptr) {
    return UnsupportedError("unsupported " + what + ": " + spec.cipher + " takes no " +
                            std::to_string(HashSize(spec.ivhash) * 8) + "-bit essiv key");
  }
  return spec;
}

Result<CipherSpec> ParseCipher(std::string_view encryption, size_t key_bytes) {
  const size_t dash = encryption.find('-');
  if (dash == std::string_view::npos) {
    return UnsupportedError("unsupported encryption '" + std::string(encryption) + "'");
  }
  return ParseCipher(encryption.substr(0, dash), encryption.substr(dash + 1), key_bytes);
}

// Key schedules live in one SecretBytes: [decrypt | encrypt | tweak-encrypt
// (xts) or essiv-encrypt].
struct SectorCipher::Impl {
  const nettle_cipher* cipher = nullptr;
  const nettle_cipher* iv_cipher = nullptr;  // xts tweak or essiv
  SecretBytes contexts;
  void* dec() const { return const_cast<std::byte*>(contexts.bytes().data()); }
  void* enc() const {
    return const_cast<std::byte*>(contexts.bytes().data()) + cipher->context_size;
  }
  void* ivc() const {
    return const_cast<std::byte*>(contexts.bytes().data()) + 2 * cipher->context_size;
  }
};

SectorCipher::SectorCipher(CipherSpec spec) : spec_(std::move(spec)), impl_(new Impl) {}
SectorCipher::~SectorCipher() = default;

Result<std::unique_ptr<SectorCipher>> SectorCipher::Create(const CipherSpec& spec,
                                                           std::span<const std::byte> key) {
  if (key.size() != spec.key_bytes) {
    return InvalidArgumentError("cipher: key of " + std::to_string(key.size()) + " bytes for a " +
                                std::to_string(spec.key_bytes) + "-byte cipher");
  }
  std::unique_ptr<SectorCipher> sc(new SectorCipher(spec));
  Impl& im = *sc->impl_;
  const bool xts = spec.mode == CipherMode::kXts;
  const size_t ck = xts ? key.size() / 2 : key.size();
  im.cipher = FindCipher(spec.cipher, ck);
  if (im.cipher == nullptr) {
    return UnsupportedError("cipher: " + spec.cipher + " with a " + std::to_string(ck * 8) +
                            "-bit key");
  }
  if (xts) {
    im.iv_cipher = im.cipher;
  } else if (spec.ivgen == IvGen::kEssiv) {
    im.iv_cipher = FindCipher(spec.cipher, HashSize(spec.ivhash));
    if (im.iv_cipher == nullptr) {
      return UnsupportedError("cipher: no essiv cipher for " + spec.cipher);
    }
  }
  const size_t iv_ctx = im.iv_cipher != nullptr ? im.iv_cipher->context_size : 0;
  IMGFS_ASSIGN_OR_RETURN(im.contexts, SecretBytes::Allocate(2 * im.cipher->context_size + iv_ctx));
  im.cipher->set_decrypt_key(im.dec(), U8(key.data()));
  im.cipher->set_encrypt_key(im.enc(), U8(key.data()));
  if (xts) {
    im.cipher->set_encrypt_key(im.ivc(), U8(key.data() + ck));
  } else if (spec.ivgen == IvGen::kEssiv) {
    IMGFS_ASSIGN_OR_RETURN(SecretBytes salt, SecretBytes::Allocate(HashSize(spec.ivhash)));
    Hash(spec.ivhash, key, salt.bytes());
    im.iv_cipher->set_encrypt_key(im.ivc(), U8(salt.bytes().data()));
  }
  return sc;
}

void SectorCipher::MakeIv(uint64_t iv_sector, std::byte* iv) const {
  const size_t bs = impl_->cipher->block_size;
  std::memset(iv, 0, bs);
  uint64_t n = spec_.ivgen == IvGen::kPlain ? (iv_sector & 0xffffffffu) : iv_sector;
  if (spec_.ivgen == IvGen::kNull) {
    return;
  }
  for (size_t i = 0; i < 8 && i < bs; ++i) {
    iv[i] = static_cast<std::byte>(n >> (8 * i));
  }
  if (spec_.ivgen == IvGen::kEssiv) {
    impl_->iv_cipher->encrypt(impl_->ivc(), bs, U8(iv), U8(iv));
  }
}

namespace {

// XTS decryption of whole 16-byte blocks, batched: the tweaks of up to
// kBatch blocks are computed first (T0 = E_K2(iv), then T(j+1) = T(j)·α in
// GF(2^128), little-endian, reduction 0x87), XORed in, the blocks decrypted
// by one call of the cipher (so an AES-NI implementation sees many
// independent blocks, not one per call as in nettle's xts_decrypt_message),
// and XORed again. Same result as nettle's for lengths that are a multiple
// of 16 (no ciphertext stealing).
void XtsDecryptBlocks(const nettle_cipher& cipher, const void* dec, const void* tweak_ctx,
                      const uint8_t* iv, std::span<std::byte> data) {
  constexpr size_t kBatch = 64;
  uint64_t t[2];
  uint8_t first[16];
  cipher.encrypt(tweak_ctx, 16, first, iv);
  std::memcpy(t, first, 16);
  alignas(16) uint64_t tweaks[kBatch * 2];
  for (size_t done = 0; done < data.size();) {
    const size_t n = std::min(kBatch, (data.size() - done) / 16);
    for (size_t j = 0; j < n; ++j) {
      tweaks[2 * j] = t[0];
      tweaks[2 * j + 1] = t[1];
      const uint64_t carry = t[1] >> 63;
      t[1] = (t[1] << 1) | (t[0] >> 63);
      t[0] = (t[0] << 1) ^ (carry * 0x87);
    }
    std::byte* p = data.data() + done;
    const size_t bytes = n * 16;
    for (size_t k = 0; k < bytes / 8; ++k) {
      uint64_t w;
      std::memcpy(&w, p + 8 * k, 8);
      w ^= tweaks[k];
      std::memcpy(p + 8 * k, &w, 8);
    }
    cipher.decrypt(dec, bytes, U8(p), U8(p));
    for (size_t k = 0; k < bytes / 8; ++k) {
      uint64_t w;
      std::memcpy(&w, p + 8 * k, 8);
      w ^= tweaks[k];
      std::memcpy(p + 8 * k, &w, 8);
    }
    done += bytes;
  }
  explicit_bzero(tweaks, sizeof tweaks);
  explicit_bzero(t, sizeof t);
  explicit_bzero(first, sizeof first);
}

}  // namespace

void SectorCipher::Decrypt(uint64_t iv_sector, std::span<std::byte> data) const {
  const Impl& im = *impl_;
  std::array<std::byte, 16> iv{};
  switch (spec_.mode) {
    case CipherMode::kXts:
      MakeIv(iv_sector, iv.data());
      if (data.size() % 16 == 0 && std::endian::native == std::endian::little) {
        XtsDecryptBlocks(*im.cipher, im.dec(), im.ivc(), U8(iv.data()), data);
      } else {
        xts_decrypt_message(im.dec(), im.ivc(), im.cipher->decrypt, im.cipher->encrypt,
                            U8(iv.data()), data.size(), U8(data.data()), U8(data.data()));
      }
      break;
    case CipherMode::kCbc:
      MakeIv(iv_sector, iv.data());
      cbc_decrypt(im.dec(), im.cipher->decrypt, im.cipher->block_size, U8(iv.data()), data.size(),
                  U8(data.data()), U8(data.data()));
      break;
    case CipherMode::kEcb:
      im.cipher->decrypt(im.dec(), data.size(), U8(data.data()), U8(data.data()));
      break;
  }
}

void SectorCipher::DecryptSectors(uint64_t iv_sector, uint64_t iv_step, size_t sector_bytes,
                                  std::span<std::byte> data) const {
  for (size_t at = 0; at < data.size(); at += sector_bytes, iv_sector += iv_step) {
    Decrypt(iv_sector, data.subspan(at, sector_bytes));
  }
}

void SectorCipher::Encrypt(uint64_t iv_sector, std::span<std::byte> data) const {
  const Impl& im = *impl_;
  std::array<std::byte, 16> iv{};
  switch (spec_.mode) {
    case CipherMode::kXts:
      MakeIv(iv_sector, iv.data());
      xts_encrypt_message(im.enc(), im.ivc(), im.cipher->encrypt, U8(iv.data()), data.size(),
                          U8(data.data()), U8(data.data()));
      break;
    case CipherMode::kCbc:
      MakeIv(iv_sector, iv.data());
      cbc_encrypt(im.enc(), im.cipher->encrypt, im.cipher->block_size, U8(iv.data()), data.size(),
                  U8(data.data()), U8(data.data()));
      break;
    case CipherMode::kEcb:
      im.cipher->encrypt(im.enc(), data.size(), U8(data.data()), U8(data.data()));
      break;
  }
}

}  // namespace imgfs::crypto
