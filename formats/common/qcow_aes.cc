// SPDX-License-Identifier: MIT
#include "formats/common/qcow_aes.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

namespace imgfs {

Result<std::unique_ptr<crypto::SectorCipher>> QcowAesCipher(const SecretBytes& passphrase) {
  constexpr size_t kKeyBytes = 16;
  IMGFS_ASSIGN_OR_RETURN(SecretBytes key, SecretBytes::Allocate(kKeyBytes));
  const std::span<const std::byte> pass = passphrase.bytes();
  // qemu reads the secret as a C string: it ends at the first NUL.
  const auto nul = std::find(pass.begin(), pass.end(), std::byte{0});
  const auto used = std::min<size_t>(kKeyBytes, static_cast<size_t>(nul - pass.begin()));
  std::copy_n(pass.begin(), used, key.bytes().begin());
  IMGFS_ASSIGN_OR_RETURN(crypto::CipherSpec spec,
                         crypto::ParseCipher("aes", "cbc-plain64", kKeyBytes));
  return crypto::SectorCipher::Create(spec, key.bytes());
}

Result<std::unique_ptr<crypto::SectorCipher>> OpenQcowAes(const OpenContext& ctx,
                                                          const std::string& format) {
  IMGFS_ASSIGN_OR_RETURN(const SecretBytes* passphrase,
                         PassphraseFor(ctx, format + ": " + ctx.path + " (aes)"));
  if (ctx.options->warn) {  // PassphraseFor succeeded: options are set
    ctx.options->warn(format + ": " + ctx.path +
                      " uses qemu's legacy AES encryption, which is weak (the passphrase is the "
                      "key, predictable IVs); read it once and re-encrypt with LUKS");
  }
  if (passphrase == nullptr) {
    return std::unique_ptr<crypto::SectorCipher>();
  }
  return QcowAesCipher(*passphrase);
}

}  // namespace imgfs
