// SPDX-License-Identifier: MIT
// The parallels format driver: Parallels expandable images (.hds, both
// signatures) and .hdd bundles (DiskDescriptor.xml), read-only. See
// formats/parallels/README.md for what is supported.
#pragma once

#include "formats/format_driver.h"

namespace imgfs::parallels {

FormatDriver Driver();

}  // namespace imgfs::parallels
