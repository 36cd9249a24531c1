// SPDX-License-Identifier: MIT
// Opening images by path: probing, --format, backing chains (depth limit,
// loop detection, --confine-backing) and auxiliary files.
#pragma once

#include <memory>
#include <string>

#include "core/block_device.h"
#include "core/cache/cache.h"
#include "formats/format_driver.h"

namespace imgfs {

// Opens the image at `path` and, unless options.follow_backing is false, its
// whole backing chain. Errors are one line and name the file.
// REQUIRES: cache outlives the returned device.
Result<std::unique_ptr<BlockDevice>> OpenImage(const std::string& path, const OpenOptions& options,
                                               Cache* cache);

// Opens an image held in `file` (tests, fuzzers). Backing files and
// auxiliary files are refused with kUnsupported.
Result<std::unique_ptr<BlockDevice>> OpenImageFile(std::unique_ptr<File> file,
                                                   const OpenOptions& options, Cache* cache);

// The probe input for `file` (head and tail bytes, size).
struct ProbeBuffers {
  std::string head;
  std::string tail;
  uint64_t file_size = 0;
  ProbeInput input() const;
};
Result<ProbeBuffers> ReadProbeBuffers(const File& file);

}  // namespace imgfs
