// SPDX-License-Identifier: MIT
// The bochs format driver (Bochs growing redolog images, header versions 1
// and 2), read-only. See formats/bochs/README.md for what is supported.
#pragma once

#include "formats/format_driver.h"

namespace imgfs::bochs {

FormatDriver Driver();

}  // namespace imgfs::bochs
