// SPDX-License-Identifier: MIT
// A read-only BlockDevice whose bytes are a UDIF image (.dmg) of another
// device, computed on the fly for `imgfs mount --as dmg`. At construction
// the source's allocation map is walked once and the layout planned as the
// writer plans it (formats/dmg/layout.h): raw chunks for data, zero-fill
// chunks for holes, one blkx per partition-map structure, partition and gap.
// The plist and koly are built then and served from memory; reads of the
// data fork become reads of the source.
//
// Checksums: a CRC-32 of the data fork or of a blkx needs every byte of the
// source, which a mount must not read up front, so the served image carries
// checksum type 0 ("none") in every blkx and in the koly. qemu-img, dmg2img
// and 7-Zip accept that; hdiutil verify has nothing to verify.
#pragma once

#include <cstdint>
#include <memory>

#include "core/block_device.h"
#include "core/result.h"

namespace imgfs::dmg {

struct VirtualDmgOptions {
  uint64_t chunk_sectors = 2048;  // raw chunk size, as hdiutil's UDRO/UDZO
};

// Plans the view of `source` (owned by the result). Errors come from
// reading the source's allocation map or partition table.
Result<std::unique_ptr<BlockDevice>> NewVirtualDmg(std::unique_ptr<BlockDevice> source,
                                                   const VirtualDmgOptions& options = {});

}  // namespace imgfs::dmg
