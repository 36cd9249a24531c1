// SPDX-License-Identifier: MIT
// The qed format driver (QEMU Enhanced Disk), read-only. See
// formats/qed/README.md for what is supported.
#pragma once

#include "formats/format_driver.h"

namespace imgfs::qed {

FormatDriver Driver();

}  // namespace imgfs::qed
