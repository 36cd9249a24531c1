// SPDX-License-Identifier: MIT
// The Apple disk image drivers: `dmg` (UDIF, probed by the koly trailer in
// the file's last 512 bytes; later segments of a segmented image are its
// companions; written by `convert -O dmg` and served by `mount --as dmg`),
// `sparseimage` (UDSP, probed by its 'sprs' header) and `sparsebundle`
// (UDSB, a directory, claimed by path). See formats/dmg/README.md.
#pragma once

#include "formats/format_driver.h"

namespace imgfs::dmg {

FormatDriver Driver();
FormatDriver SparseImageDriver();
FormatDriver SparseBundleDriver();

// The `dmg` driver's writer (convert -O dmg; defined in writer.cc) and
// virtual view (mount --as dmg; defined in virtual_dmg.cc).
const FormatWriter& Writer();
const VirtualView& VirtualDmgView();

}  // namespace imgfs::dmg
