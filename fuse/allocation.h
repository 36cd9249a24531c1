// SPDX-License-Identifier: MIT
// Allocation questions the kernel asks about a raw view, answered from
// BlockDevice::Extents: SEEK_DATA / SEEK_HOLE and st_blocks. Holes are
// kZero and kUnallocated extents; everything else is data.
#pragma once

#include <cstdint>
#include <optional>

#include "core/block_device.h"
#include "core/result.h"

namespace imgfs::fusefs {

// The first offset >= `offset` inside data (want_data) or a hole. Returns
// nullopt when there is none (lseek's ENXIO): no data at or past `offset`,
// or `offset` >= Size(). For holes, the virtual end of the device counts as
// a hole, as on any file. Thread-safe as BlockDevice::Extents is.
Result<std::optional<uint64_t>> SeekAllocation(const BlockDevice& dev, uint64_t offset,
                                               bool want_data);

// Bytes of the device that are data (for st_blocks). Walks the whole map.
Result<uint64_t> DataBytes(const BlockDevice& dev);

}  // namespace imgfs::fusefs
