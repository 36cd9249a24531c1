// SPDX-License-Identifier: MIT
// SectorCipher: disk-sector decryption as dm-crypt does it. A cipher (aes,
// twofish, serpent, cast5) in a mode (xts, cbc, ecb) with an IV generator
// (plain, plain64, essiv:<hash>, null), named the way LUKS headers name it:
// cipher "aes" and mode "xts-plain64", or LUKS2's "aes-xts-plain64".
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/crypto/secret.h"
#include "core/result.h"

namespace imgfs::crypto {

enum class CipherMode { kXts, kCbc, kEcb };
enum class IvGen { kPlain, kPlain64, kEssiv, kNull };

struct CipherSpec {
  std::string cipher;  // "aes", "twofish", "serpent", "cast5"
  CipherMode mode = CipherMode::kXts;
  IvGen ivgen = IvGen::kPlain64;
  std::string ivhash;    // essiv's hash ("sha256"), else empty
  size_t key_bytes = 0;  // the whole key (both halves for xts)

  // "aes", "xts", "plain64", "sha256" as qemu-img info names them.
  std::string ModeName() const;
  std::string IvGenName() const;
};

// Parses LUKS1's cipher name + mode ("aes", "cbc-essiv:sha256") for a key
// of `key_bytes`. kUnsupported naming the combination when imgfs cannot
// decrypt it (an unknown cipher, mode or IV generator, a key size the
// cipher does not take).
Result<CipherSpec> ParseCipher(std::string_view cipher, std::string_view mode, size_t key_bytes);
// LUKS2's single "aes-xts-plain64" string.
Result<CipherSpec> ParseCipher(std::string_view encryption, size_t key_bytes);

// Thread-safety: Decrypt is const and safe from many threads at once.
class SectorCipher {
 public:
  // REQUIRES: key.size() == spec.key_bytes.
  static Result<std::unique_ptr<SectorCipher>> Create(const CipherSpec& spec,
                                                      std::span<const std::byte> key);
  ~SectorCipher();
  SectorCipher(const SectorCipher&) = delete;
  SectorCipher& operator=(const SectorCipher&) = delete;

  // Decrypts `data` in place as one sector whose IV sector number is
  // `iv_sector`. REQUIRES: data.size() is a multiple of the block size (16;
  // 8 for cast5) and, for xts, at least 16.
  void Decrypt(uint64_t iv_sector, std::span<std::byte> data) const;
  // Decrypts `data` in place as consecutive sectors of `sector_bytes`, the
  // first with IV sector `iv_sector`, each next one `iv_step` further on.
  // REQUIRES: data.size() is a multiple of sector_bytes.
  void DecryptSectors(uint64_t iv_sector, uint64_t iv_step, size_t sector_bytes,
                      std::span<std::byte> data) const;
  // The inverse (tests and writers).
  void Encrypt(uint64_t iv_sector, std::span<std::byte> data) const;

  const CipherSpec& spec() const { return spec_; }

 private:
  struct Impl;
  explicit SectorCipher(CipherSpec spec);
  void MakeIv(uint64_t iv_sector, std::byte* iv) const;

  CipherSpec spec_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imgfs::crypto
