// SPDX-License-Identifier: MIT
// The qcow2 format driver (QEMU docs/interop/qcow2.txt, versions 2 and 3),
// read-only. See formats/qcow2/README.md for what is supported.
#pragma once

#include "formats/format_driver.h"

namespace imgfs::qcow2 {

FormatDriver Driver();

}  // namespace imgfs::qcow2
