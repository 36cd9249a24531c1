// SPDX-License-Identifier: MIT
// The vdi format driver (VirtualBox VDI, header versions 1.1, 1.x and 0),
// read-only. See formats/vdi/README.md for what is supported.
#pragma once

#include "formats/format_driver.h"

namespace imgfs::vdi {

FormatDriver Driver();

}  // namespace imgfs::vdi
