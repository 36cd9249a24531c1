// SPDX-License-Identifier: MIT
// The cloop format driver (compressed loop images, V2.0 and V4.0, header
// first or last), read-only. See formats/cloop/README.md.
#pragma once

#include "formats/format_driver.h"

namespace imgfs::cloop {

FormatDriver Driver();

}  // namespace imgfs::cloop
