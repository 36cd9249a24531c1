// SPDX-License-Identifier: MIT
// UDSB (.sparsebundle), hdiutil's growable directory format: Info.plist
// (diskimage-bundle-type com.apple.diskimage.sparsebundle, band-size and
// size in bytes) and bands/<lowercase hex band number>, each a plain file
// holding up to band-size bytes of the disk; a missing band, or bytes past
// a short band's end, read as zeros. Layout per libyal/libmodi "Mac OS
// sparse bundle (.sparsebundle) format". Encrypted bundles are refused.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/block_device.h"
#include "core/result.h"

namespace imgfs::dmg {

// True when `path` is a directory with an Info.plist naming a sparse bundle
// (a cheap test for mount planning; does not validate the bundle).
bool IsSparseBundle(const std::string& path);

struct SparseBundleInfo {
  uint64_t band_bytes = 0;
  uint64_t size_bytes = 0;
  int64_t backingstore_version = 1;
};

// Parses Info.plist. kCorrupt for a missing or absurd band-size or size,
// kUnsupported for another bundle type or backing-store version.
Result<SparseBundleInfo> ParseSparseBundleInfo(std::string_view xml);

// Opens the bundle directory. Band files are opened per read, so the device
// holds no descriptors between reads.
Result<std::unique_ptr<BlockDevice>> OpenSparseBundle(const std::string& path);

}  // namespace imgfs::dmg
