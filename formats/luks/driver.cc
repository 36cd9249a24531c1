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
#include "formats/luks/layout.h"
#include "formats/raw/driver.h"

namespace imgfs::luks {
namespace {

int Probe(const ProbeInput& in) {
  if (in.head.size() < 8) {
    return 0;
  }
  const bool magic = std::memcmp(in.head.data(), "LUKS\xba\xbe", 6) == 0;
  const uint16_t version = LoadBE16(in.head.data() + 6);
  return magic && (version == 1 || version == 2) ? 100 : 0;
}

Result<std::unique_ptr<BlockDevice>> Open(std::unique_ptr<File> file, const OpenContext& ctx) {
  const OpenOptions* opt = ctx.options;
  // The header: in the image, or detached (--header, top image only).
  std::unique_ptr<File> detached;
  if (opt != nullptr && !opt->detached_header.empty() && ctx.depth == 0) {
    IMGFS_ASSIGN_OR_RETURN(detached, OpenPosixFile(opt->detached_header, false));
  }
  const File& hfile = detached ? *detached : *file;
  IMGFS_ASSIGN_OR_RETURN(uint64_t data_size, file->Size());
  IMGFS_ASSIGN_OR_RETURN(OpenedHeader header,
                         ReadHeader(hfile, detached ? opt->detached_header : ctx.path));
  const Layout& layout = header.layout;
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
  IMGFS_ASSIGN_OR_RETURN(const SecretBytes* passphrase, PassphraseFor(ctx, "luks: " + ctx.path));
  if (passphrase != nullptr) {
    IMGFS_ASSIGN_OR_RETURN(SecretBytes key, Unlock(header, hfile, *passphrase));
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
