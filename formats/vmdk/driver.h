// SPDX-License-Identifier: MIT
// The vmdk driver (VMware "Virtual Disk Format 1.1"): sparse extents
// (monolithicSparse, streamOptimized) opened as files, descriptor files
// (monolithicFlat, twoGbMaxExtent*, vmfs*) whose extents are opened through
// OpenContext::open_aux_file, and delta disks whose parent is opened
// through OpenContext::open_backing. See README.md.
#pragma once

#include "formats/format_driver.h"

namespace imgfs::vmdk {

FormatDriver Driver();

}  // namespace imgfs::vmdk
