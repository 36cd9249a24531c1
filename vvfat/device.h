// SPDX-License-Identifier: MIT
// The vvfat BlockDevice: serves a Layout. Sectors computed at mount (MBR,
// reserved area, directories) come from memory, FAT sectors are encoded on
// the fly, and file clusters are read from the host files at read time,
// found by binary search over the layout's cluster runs. Read-only.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/block_device.h"
#include "core/result.h"
#include "vvfat/layout.h"

namespace imgfs::vvfat {

// Lays out `dir` (BuildLayout) and returns the disk. `log` receives the
// read-time notes (a host file that shrank or vanished since the mount);
// it must be callable from any thread.
Result<std::unique_ptr<BlockDevice>> OpenFatDisk(const std::string& dir, const DiskOptions& options,
                                                 std::function<void(const std::string&)> log);

// The same over a layout already built (tests).
std::unique_ptr<BlockDevice> NewFatDevice(std::unique_ptr<Layout> layout,
                                          std::function<void(const std::string&)> log);

}  // namespace imgfs::vvfat
