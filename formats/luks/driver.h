// SPDX-License-Identifier: MIT
// The luks format driver: LUKS1 and LUKS2 images (cryptsetup, qemu-img),
// decrypted in user space, read-only. See formats/luks/README.md.
#pragma once

#include "formats/format_driver.h"

namespace imgfs::luks {

FormatDriver Driver();

}  // namespace imgfs::luks
