// SPDX-License-Identifier: MIT
// The qcow (version 1) BlockDevice: a BlockMapDevice whose lookup is the
// L1/L2 table pair (core/blockmap/two_level_table.h), with compressed
// clusters inflated through the ChunkEngine and a backing device below.
#pragma once

#include <memory>

#include "core/block_device.h"
#include "formats/common/two_level_device.h"
#include "formats/qcow/header.h"

namespace imgfs::qcow {

// The device over an image with `header`. Read-only; reads and Extents are
// thread-safe.
std::unique_ptr<BlockDevice> NewDevice(const Header& header, TwoLevelImage image);

}  // namespace imgfs::qcow
