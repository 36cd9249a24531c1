// SPDX-License-Identifier: MIT
// The qcow (version 1) BlockDevice: a BlockMapDevice whose lookup is the
// L1/L2 table pair (core/blockmap/two_level_table.h), with compressed
// clusters inflated through the ChunkEngine and a backing device below.
#pragma once

#include <memory>

#include "core/block_device.h"
#include "core/crypto/sector_cipher.h"
#include "formats/common/two_level_device.h"
#include "formats/qcow/header.h"

namespace imgfs::qcow {

// The device over an image with `header`. `cipher` decrypts the data
// clusters of an AES-encrypted image (formats/common/qcow_aes.h; null:
// not encrypted, or opened without a passphrase for `info`, when reading
// them is kKeyRequired). Compressed clusters are never encrypted (qemu
// writes none into encrypted images and reads any as plain). Read-only;
// reads and Extents are thread-safe.
std::unique_ptr<BlockDevice> NewDevice(const Header& header, TwoLevelImage image,
                                       std::unique_ptr<crypto::SectorCipher> cipher);

}  // namespace imgfs::qcow
