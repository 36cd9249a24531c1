// SPDX-License-Identifier: MIT
// The 512-byte sector, defined once: the unit of DMG and qcow2 sector
// counts, of MBR LBAs and of st_blocks. Formats with another block size
// (GPT and APM on 4K disks) carry their own.
#pragma once

#include <cstdint>

namespace imgfs {

inline constexpr uint64_t kSectorBytes = 512;

}  // namespace imgfs
