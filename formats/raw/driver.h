// SPDX-License-Identifier: MIT
#pragma once

#include "formats/format_driver.h"

namespace imgfs::raw {

// Raw images: the file is the disk. Any size, holes reported from the host
// file's SEEK_DATA/SEEK_HOLE.
FormatDriver Driver();

// A raw view of `file` (also used for qcow2 external data files).
std::unique_ptr<BlockDevice> NewRawDevice(std::unique_ptr<File> file, uint64_t size_bytes);

}  // namespace imgfs::raw
