// SPDX-License-Identifier: MIT
// The qcow format driver (QEMU copy-on-write, version 1), read-only. See
// formats/qcow/README.md for what is supported.
#pragma once

#include "formats/format_driver.h"

namespace imgfs::qcow {

FormatDriver Driver();

}  // namespace imgfs::qcow
