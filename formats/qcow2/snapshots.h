// SPDX-License-Identifier: MIT
// The qcow2 internal snapshot table (QEMU docs/interop/qcow2.txt,
// "Snapshots"): variable-length entries, each with an L1 table of its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/block_device.h"
#include "core/io/file.h"
#include "core/result.h"
#include "formats/qcow2/header.h"

namespace imgfs::qcow2 {

// QEMU's QCOW_MAX_SNAPSHOT_EXTRA_DATA: extra data beyond this is corrupt.
inline constexpr uint32_t kMaxSnapshotExtraBytes = 1024;
// QEMU's QCOW_MAX_SNAPSHOTS_SIZE: the whole table stays below 64 MiB.
inline constexpr uint64_t kMaxSnapshotTableBytes = uint64_t{1024} * kMaxSnapshots;

struct Snapshot {
  uint64_t l1_table_offset = 0;
  uint32_t l1_size = 0;
  std::string id;
  std::string name;
  uint32_t date_sec = 0;
  uint32_t date_nsec = 0;
  uint64_t vm_clock_nsec = 0;
  uint64_t vm_state_size = 0;
  std::optional<uint64_t> disk_size;  // extra data; else the header's size
  std::optional<uint64_t> icount;     // extra data (v3)
};

// Reads the table of h.nb_snapshots entries at h.snapshots_offset.
// kCorrupt when an entry is truncated, oversized or the table leaves the
// file. Returns the bytes the table occupies in *table_bytes when non-null.
Result<std::vector<Snapshot>> ReadSnapshotTable(const File& file, const Header& h,
                                                uint64_t* table_bytes = nullptr);

// The public description of a snapshot for Describe().
SnapshotInfo ToSnapshotInfo(const Snapshot& s, uint64_t header_size_bytes);

// The snapshot whose id, or else name, is `id_or_name`; nullptr if none.
const Snapshot* FindSnapshot(const std::vector<Snapshot>& snapshots, std::string_view id_or_name);

}  // namespace imgfs::qcow2
