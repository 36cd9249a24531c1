// SPDX-License-Identifier: MIT
// The VHDX format driver ([MS-VHDX] "Virtual Hard Disk v2 (VHDX) File
// Format"), read-only: dynamic, fixed and differencing images, logs replayed
// in memory. See formats/vhdx/README.md for what is supported.
#pragma once

#include "formats/format_driver.h"

namespace imgfs::vhdx {

FormatDriver Driver();

}  // namespace imgfs::vhdx
