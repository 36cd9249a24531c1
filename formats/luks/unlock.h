// SPDX-License-Identifier: MIT
// Recovering the volume (master) key of a LUKS header from a passphrase:
// every key slot is tried (key derivation, key-material decryption, AF
// merge) and the candidate checked against the header's digest.
#pragma once

#include "core/crypto/secret.h"
#include "core/io/file.h"
#include "core/result.h"
#include "formats/luks/header.h"

namespace imgfs::luks {

// kKeyRejected ("luks: no key slot accepts this passphrase") when no active
// slot yields a key that matches the digest; other errors (unsupported
// cipher, I/O, argon2 cost) are returned when no slot succeeded and that
// slot's error is not a mismatch.
Result<SecretBytes> UnlockLuks1(const Luks1Header& h, const File& header_file,
                                const SecretBytes& passphrase);
Result<SecretBytes> UnlockLuks2(const Luks2Header& h, const File& header_file,
                                const SecretBytes& passphrase);

}  // namespace imgfs::luks
