// SPDX-License-Identifier: MIT
// Parent locators of a differencing VHD (spec "Dynamic Disk Header Format",
// Parent Locator Entries): where the parent image may be found, as a
// relative or absolute Windows path in UTF-16LE ("W2ru", "W2ku"), a file URL
// in UTF-8 ("MacX"), the deprecated ANSI forms ("Wi2r", "Wi2k") or a Mac OS
// alias record ("Mac ", which is listed but cannot be followed here).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/io/file.h"
#include "core/result.h"
#include "formats/vpc/header.h"

namespace imgfs::vpc {

struct LocatorPath {
  uint32_t platform_code = 0;
  uint64_t data_offset = 0;
  std::string text;  // as stored, decoded to UTF-8; empty for "Mac " aliases
};

// A locator's data is a path: Windows allows 32767 UTF-16 units.
inline constexpr uint32_t kMaxLocatorBytes = 65536;

// Reads the data of every used locator of `header`. kUnsupported over
// kMaxLocatorBytes, kCorrupt when the data lies past the end of the file.
Result<std::vector<LocatorPath>> ReadParentLocators(const File& file, uint64_t file_size,
                                                    const DynamicHeader& header);

// The names to try for the parent, best first, relative to the image's
// directory or absolute, with '/' separators: the relative locators, the
// file URL's path, the absolute ones (a Windows drive or UNC path becomes
// its file name, looked for next to the image) and last the header's
// parent name. Without duplicates; may be empty.
std::vector<std::string> ParentCandidates(const std::vector<LocatorPath>& locators,
                                          const std::string& parent_name);

}  // namespace imgfs::vpc
