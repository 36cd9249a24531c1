// SPDX-License-Identifier: MIT
// DiskDescriptor.xml, the description of a Parallels bundle (a .hdd
// directory), after qemu's docs/interop/prl-xml.txt:
//
//   <Parallels_disk_image Version="1.0">
//     <Disk_Parameters><Disk_size>sectors</Disk_size>...</Disk_Parameters>
//     <StorageData>
//       <Storage><Start>s</Start><End>e</End><Blocksize>n</Blocksize>
//         <Image><GUID>{...}</GUID><Type>Compressed|Plain</Type>
//                <File>name.hds</File></Image> ...
//       </Storage> ...        (several: a split disk, each its sectors)
//     </StorageData>
//     <Snapshots><TopGUID>{...}</TopGUID>
//       <Shot><GUID>{...}</GUID><ParentGUID>{...}</ParentGUID></Shot> ...
//     </Snapshots>
//   </Parallels_disk_image>
//
// The current state is the top snapshot (TopGUID, else the predefined
// {5fbaabe3-6958-40ff-92a7-860e329aab41}); it reads through its parents to
// the root, whose ParentGUID is all zeros. Each storage holds one image per
// snapshot.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace imgfs::parallels {

inline constexpr char kDescriptorName[] = "DiskDescriptor.xml";
inline constexpr char kPredefinedTopGuid[] = "{5fbaabe3-6958-40ff-92a7-860e329aab41}";
inline constexpr char kNullGuid[] = "{00000000-0000-0000-0000-000000000000}";

// Caps, each far past real bundles: storages of a split disk (2 GiB each,
// so 4096 is 8 TiB), images per storage and snapshots.
inline constexpr size_t kMaxStorages = 4096;
inline constexpr size_t kMaxImagesPerStorage = 1024;
inline constexpr size_t kMaxShots = 1024;

struct ImageEntry {
  std::string guid;  // lowercase, braced
  bool plain = false;
  std::string file;
};

struct StorageEntry {
  uint64_t start_sectors = 0;
  uint64_t end_sectors = 0;
  uint64_t block_sectors = 0;
  std::vector<ImageEntry> images;
};

struct Shot {
  std::string guid;
  std::string parent;  // kNullGuid for the root
};

struct Descriptor {
  uint64_t disk_sectors = 0;
  std::vector<StorageEntry> storages;  // sorted by start, contiguous
  std::vector<Shot> shots;             // in document order
  std::string top_guid;
  // GUIDs from the top snapshot to the root: the layers of each storage.
  std::vector<std::string> chain;
};

// Parses and validates a descriptor. kCorrupt for malformed XML, missing
// or non-numeric fields, storages that overlap, leave gaps or do not cover
// the disk, a snapshot chain that loops or names an unknown parent, or a
// storage lacking an image of the chain; kUnsupported for Padding other
// than 0, an unknown image type, a plain image above the root or a cap
// exceeded. One-line messages naming the element.
Result<Descriptor> ParseDescriptor(std::string_view xml);

// "{ABC...}" or "abc..." as "{abc...}".
std::string NormalizeGuid(std::string_view guid);

}  // namespace imgfs::parallels
