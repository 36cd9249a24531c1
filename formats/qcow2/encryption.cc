// SPDX-License-Identifier: MIT
#include "formats/qcow2/encryption.h"

#include <string>
#include <utility>

#include "core/util/hex.h"
#include "formats/common/qcow_aes.h"
#include "formats/luks/layout.h"

namespace imgfs::qcow2 {
namespace {

// The LUKS header in the extension's clusters, as a File of its own: key
// slot offsets count from the header's start (spec).
struct LuksArea {
  std::unique_ptr<File> file;
  luks::OpenedHeader header;
};

Result<LuksArea> ReadLuks(const File& file, const Header& h) {
  const CryptoExtension& ext = *h.crypto_header;
  LuksArea a;
  a.file = NewSliceFile(&file, ext.offset, ext.length_bytes);
  const std::string where = file.name() + " (encryption header at " + Hex(ext.offset) + ")";
  auto header = luks::ReadHeader(*a.file, where);
  if (!header.ok()) {
    return header.status().Annotate("qcow2: encryption header at " + Hex(ext.offset));
  }
  if (header->v2) {
    return UnsupportedError("qcow2: the encryption header at " + Hex(ext.offset) +
                            " is LUKS2; qemu puts only LUKS1 in qcow2 images");
  }
  a.header = std::move(*header);
  return a;
}

}  // namespace

Result<std::optional<Encryption>> OpenEncryption(const File& file, const Header& h,
                                                 const OpenContext& ctx) {
  if (!h.encrypted()) {
    return std::optional<Encryption>();
  }
  Encryption e;
  if (h.crypt_method != kCryptLuks) {
    e.method = "aes";
    e.info = {{"format", "aes"}};
    IMGFS_ASSIGN_OR_RETURN(std::unique_ptr<crypto::SectorCipher> cipher, OpenQcowAes(ctx, "qcow2"));
    e.cipher = std::move(cipher);
    return std::optional<Encryption>(std::move(e));
  }
  e.method = "luks";
  e.iv_from_host = true;
  // The header is read before the key is asked for, so that a damaged one
  // is reported as such, with or without a passphrase.
  IMGFS_ASSIGN_OR_RETURN(LuksArea area, ReadLuks(file, h));
  e.info = area.header.layout.data;
  e.info.erase("version");
  e.info["format"] = "luks";
  IMGFS_ASSIGN_OR_RETURN(const SecretBytes* passphrase,
                         PassphraseFor(ctx, "qcow2: " + ctx.path + " (luks)"));
  if (passphrase != nullptr) {
    IMGFS_ASSIGN_OR_RETURN(SecretBytes key, luks::Unlock(area.header, *area.file, *passphrase));
    IMGFS_ASSIGN_OR_RETURN(e.cipher,
                           crypto::SectorCipher::Create(area.header.layout.spec, key.bytes()));
  }
  return std::optional<Encryption>(std::move(e));
}

}  // namespace imgfs::qcow2
