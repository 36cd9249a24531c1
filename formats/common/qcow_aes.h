// SPDX-License-Identifier: MIT
// The legacy AES encryption of qcow (version 1) and qcow2 (crypt_method 1),
// which qemu-img still reads: AES-128 in CBC mode over 512-byte sectors,
// IVs "plain64" of the guest (virtual disk) sector, and a key that is the
// passphrase itself, up to its first NUL byte, cut or zero-padded to 16
// bytes: no salt, no key derivation, no check. QEMU docs/interop/qcow2.txt
// "Data encryption" describes it (its "256 bit keys" is wrong: qemu-img's
// images decrypt with the 16-byte key only, and the tests prove that).
#pragma once

#include <memory>

#include "core/crypto/secret.h"
#include "core/crypto/sector_cipher.h"
#include "core/result.h"
#include "formats/format_driver.h"

namespace imgfs {

// The scheme's sector (and IV unit).
inline constexpr uint32_t kQcowAesSectorBytes = 512;

// The cipher for `passphrase`. Any passphrase gives a cipher (the scheme
// cannot tell a wrong one: it decrypts to garbage).
Result<std::unique_ptr<crypto::SectorCipher>> QcowAesCipher(const SecretBytes& passphrase);

// The cipher of an AES-encrypted image opened with `ctx` (`format`, "qcow"
// or "qcow2", prefixes messages): kKeyRequired without a passphrase, null
// for metadata_only, and one warning line through OpenOptions::warn that
// the scheme is weak.
Result<std::unique_ptr<crypto::SectorCipher>> OpenQcowAes(const OpenContext& ctx,
                                                          const std::string& format);

}  // namespace imgfs
