// SPDX-License-Identifier: MIT
// The QED BlockDevice: a BlockMapDevice whose lookup is the L1/L2 table
// pair (core/blockmap/two_level_table.h), with zero clusters and a backing
// device below.
#pragma once

#include <memory>

#include "core/block_device.h"
#include "formats/common/two_level_device.h"
#include "formats/qed/header.h"

namespace imgfs::qed {

// The device over an image with `header`. Read-only; reads and Extents are
// thread-safe.
std::unique_ptr<BlockDevice> NewDevice(const Header& header, TwoLevelImage image);

}  // namespace imgfs::qed
