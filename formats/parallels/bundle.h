// SPDX-License-Identifier: MIT
// Parallels bundles: a .hdd directory holding DiskDescriptor.xml and the
// .hds files it names (or a .pvm virtual machine directory holding one).
#pragma once

#include <memory>
#include <string>

#include "core/block_device.h"
#include "core/result.h"
#include "formats/format_driver.h"

namespace imgfs::parallels {

// True when `path` is a directory with a DiskDescriptor.xml, or a .pvm
// directory with a <name>.hdd one (cheap: does not parse it).
bool IsBundle(const std::string& path);

// Opens the bundle's current state: each storage's images from the top
// snapshot down to the root. Files go through ctx.open_aux_file; with
// --confine-backing a file outside the bundle directory is refused
// (kPermission). --no-backing keeps only the top snapshot's images.
Result<std::unique_ptr<BlockDevice>> OpenBundle(const std::string& path, const OpenContext& ctx);

}  // namespace imgfs::parallels
