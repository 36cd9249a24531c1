// SPDX-License-Identifier: MIT
// The Apple disk image drivers, read-only: `dmg` (UDIF, probed by the koly
// trailer in the file's last 512 bytes) and `sparseimage` (UDSP, probed by
// its 'sprs' header). Sparse bundles are directories and are opened by
// path (formats/open.cc), not probed. See formats/dmg/README.md.
#pragma once

#include "formats/format_driver.h"

namespace imgfs::dmg {

FormatDriver Driver();
FormatDriver SparseImageDriver();

}  // namespace imgfs::dmg
