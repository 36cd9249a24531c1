// SPDX-License-Identifier: MIT
// The qcow driver: probing by magic and version, opening an image and its
// backing file. qcow names its backing file but not its format, so the
// backing image is probed; it is opened through open_backing so that the
// chain rules (depth, loops, --confine-backing, --no-backing) apply.
#include "formats/qcow/driver.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "core/util/endian.h"
#include "formats/common/qcow_aes.h"
#include "formats/qcow/device.h"
#include "formats/qcow/header.h"

namespace imgfs::qcow {
namespace {

int Probe(const ProbeInput& in) {
  return in.head.size() >= 8 && LoadBE32(in.head.data() + kMagicOffset) == kMagic &&
                 LoadBE32(in.head.data() + kVersionOffset) == kVersion
             ? 100
             : 0;
}

Result<std::unique_ptr<BlockDevice>> Open(std::unique_ptr<File> file, const OpenContext& ctx) {
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file->Size());
  std::vector<std::byte> head(static_cast<size_t>(std::min<uint64_t>(kHeaderBytes, file_size)));
  IMGFS_RETURN_IF_ERROR(file->ReadExactAt(0, head, "qcow: header"));
  IMGFS_ASSIGN_OR_RETURN(const Header h, DecodeHeader(head, file_size));
  std::unique_ptr<crypto::SectorCipher> cipher;  // null: plain, or info without a key
  if (h.encrypted()) {
    IMGFS_ASSIGN_OR_RETURN(cipher, OpenQcowAes(ctx, "qcow"));
  }
  TwoLevelImage image = TwoLevelImageFrom(std::move(file), file_size, ctx);
  if (h.has_backing()) {
    IMGFS_ASSIGN_OR_RETURN(image.backing, OpenBackingByName(ctx, *image.file, h.backing_name_offset,
                                                            h.backing_name_bytes, "", "qcow"));
  }
  return NewDevice(h, std::move(image), std::move(cipher));
}

}  // namespace

FormatDriver Driver() {
  return FormatDriver{"qcow", "QEMU copy-on-write image, version 1 (compressed clusters, backing)",
                      &Probe, &Open};
}

}  // namespace imgfs::qcow
