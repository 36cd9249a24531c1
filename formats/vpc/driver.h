// SPDX-License-Identifier: MIT
// The vpc (VHD) format driver: fixed, dynamic and differencing Virtual Hard
// Disk images (Microsoft "Virtual Hard Disk Image Format Specification"
// 1.0), read-only. See formats/vpc/README.md for what is supported.
#pragma once

#include "formats/format_driver.h"

namespace imgfs::vpc {

FormatDriver Driver();

}  // namespace imgfs::vpc
