// SPDX-License-Identifier: MIT
// What `info` and `check` say about a vmdk disk: qemu-img's format-specific
// fields (cid, parent-cid, create-type, extents) and a walk of every grain
// table.
#pragma once

#include <string>

#include "core/block_device.h"
#include "formats/vmdk/device.h"

namespace imgfs::vmdk {

// qemu-img info's fields for `image`.
ImageInfo DescribeImage(const Image& image);

// "parentCID ... does not match ..." when the parent is a vmdk whose CID
// differs; "" otherwise.
std::string CidMismatch(const Image& image);

// Checks the CID link and every sparse extent's grain directory and grain
// tables: entries past the end of the file, grains stored twice. An error
// status only when a table cannot be read at all.
Result<CheckReport> CheckImage(const Image& image);

}  // namespace imgfs::vmdk
