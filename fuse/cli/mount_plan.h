// SPDX-License-Identifier: MIT
// Planning a mount before anything is opened: which files a directory
// IMAGE contributes, and the unique names the raw views get. No libfuse.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace imgfs::cli {

// Expands the IMAGE arguments: a regular file or a directory that a format
// opens by path (a .sparsebundle with its Info.plist) stands for itself;
// another directory contributes, in name order and without recursing, the
// directories and files that a format claims by path, and every regular
// file that is an image by one of two tests:
//   * its name ends in .img, .raw or .iso (any case): raw images have no
//     signature, so the name is the only hint; or
//   * probing its first bytes finds something other than the raw fallback:
//     a readable format, or a known signature imgfs refuses (so that the
//     mount fails with the reason rather than silently hiding the file).
// Files that are part of another image (a .dmgpart segment) are skipped.
// Files that cannot be opened are skipped with a warning on stderr. An
// IMAGE directory that contributes nothing is an error, as is an IMAGE that
// does not exist (kNotFound naming it).
Result<std::vector<std::string>> ExpandImageArgs(const std::vector<std::string>& args);

// Hands out names that are unique within one mount: "disk.raw", then
// "disk-2.raw", "disk-3.raw", ...
class UniqueNamer {
 public:
  // `stem` is made safe first ('/' and NUL become '_', empty becomes "image").
  std::string Take(std::string_view stem, std::string_view suffix);

 private:
  std::set<std::string, std::less<>> used_;
};

// "disk" for "/images/disk.qcow2", "disk.tar" for "disk.tar.gz".
std::string StemOf(const std::string& path);

// The stem of partition `number` of the disk shown as `disk_view_name`:
// "disk.p2" for "disk.raw", "disk-2.p1" for "disk-2.raw". Partition views
// follow the whole-disk view's unique name, so two images with the same
// stem keep their partitions apart.
std::string PartitionStem(std::string_view disk_view_name, uint32_t number);

}  // namespace imgfs::cli
