// SPDX-License-Identifier: MIT
// Encrypted qcow2 images (QEMU docs/interop/qcow2.txt, "Full disk
// encryption header pointer" and "Data encryption"): crypt_method 2 keeps a
// LUKS1 header in the clusters the encryption header extension names and
// encrypts each data cluster with the LUKS cipher, the IV being the *host*
// sector (512-byte units of the offset in the file holding the data);
// crypt_method 1 is qemu's legacy AES (formats/common/qcow_aes.h), whose IV
// is the *guest* sector. Metadata, zero, unallocated and compressed clusters
// are never encrypted (`qemu-img convert -c` refuses encrypted output, but
// qemu-io's `write -c` stores compressed clusters unencrypted, and qemu
// reads them without decrypting).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/crypto/sector_cipher.h"
#include "core/io/file.h"
#include "core/result.h"
#include "formats/format_driver.h"
#include "formats/qcow2/header.h"

namespace imgfs::qcow2 {

struct Encryption {
  // Null when the image was opened without a passphrase for `info`
  // (OpenOptions::metadata_only): data clusters then fail with kKeyRequired.
  std::shared_ptr<const crypto::SectorCipher> cipher;
  bool iv_from_host = false;  // LUKS: host sector; AES: guest sector
  const char* method = "";    // "luks" or "aes", as qemu-img names them
  nlohmann::json info;        // qemu-img info's "encrypt" object
};

// The encryption of the image with header `h` in `file`, or nullopt when it has none. LUKS: the
// header is read (kCorrupt when it is truncated or damaged, kUnsupported for LUKS2, which qemu
// never puts in a qcow2) and unlocked with ctx.options->passphrase (kKeyRejected when no key slot
// accepts it). Without a passphrase: kKeyRequired, unless metadata_only. AES images are reported
// through OpenOptions::warn.
Result<std::optional<Encryption>> OpenEncryption(const File& file, const Header& h,
                                                 const OpenContext& ctx);

}  // namespace imgfs::qcow2
