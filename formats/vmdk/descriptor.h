// SPDX-License-Identifier: MIT
// The vmdk text descriptor (VMware "Virtual Disk Format 1.1", section "The
// Descriptor File"): a header of key=value lines (version, CID, parentCID,
// createType, parentFileNameHint), the extent lines
//   ACCESS SECTORS TYPE ["FILENAME" [OFFSET]]
// and the disk database (ddb.* = "value"). It is a file of its own for
// descriptor images (monolithicFlat, twoGbMaxExtent*, vmfs*) or embedded in
// the first sparse extent (monolithicSparse, streamOptimized).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace imgfs::vmdk {

// Larger descriptors are refused (kUnsupported): VMware's are under 2 KiB,
// and a 2 TiB twoGbMaxExtent disk lists about 1000 extents.
inline constexpr uint64_t kMaxDescriptorBytes = uint64_t{1} << 20;
// Each extent is one open file; more than this is hostile (8 TiB of 2 GiB
// extents).
inline constexpr size_t kMaxExtents = 4096;
// parentCID of a disk without a parent.
inline constexpr uint32_t kNoParentCid = 0xffffffff;

enum class Access : uint8_t { kReadWrite, kReadOnly, kNoAccess };
enum class ExtentType : uint8_t { kFlat, kSparse, kZero, kVmfs, kVmfsSparse, kSeSparse };

std::string_view AccessName(Access access);
std::string_view ExtentTypeName(ExtentType type);

// One extent line.
struct ExtentLine {
  Access access = Access::kReadWrite;
  uint64_t sectors = 0;
  ExtentType type = ExtentType::kFlat;
  std::string filename;         // empty for ZERO
  uint64_t offset_sectors = 0;  // FLAT and VMFS: where the extent starts in its file
};

struct Descriptor {
  uint32_t version = 1;
  uint32_t cid = 0;
  uint32_t parent_cid = kNoParentCid;
  std::string create_type;
  std::string parent_hint;  // parentFileNameHint, "" without
  std::vector<ExtentLine> extents;
  std::vector<std::pair<std::string, std::string>> ddb;  // ddb.* keys in order, unquoted
  uint64_t sectors() const;
  // The ddb value of `key` ("ddb.adapterType"), or "".
  std::string Ddb(std::string_view key) const;
};

// Parses `text` (ending at its first NUL). kCorrupt for a malformed line
// that looks like an extent or a header key, a zero-sector extent, a
// missing file name; kUnsupported for an unknown extent type or access
// (named), too many extents or too much text. Never skips an extent line,
// so the guest offsets of the extents after a bad line cannot shift.
Result<Descriptor> ParseDescriptor(std::string_view text);

// True when `head` starts like a descriptor file.
bool LooksLikeDescriptor(std::string_view head);

}  // namespace imgfs::vmdk
