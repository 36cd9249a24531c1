// SPDX-License-Identifier: MIT
// Decoding of the qcow2 snapshot table (QEMU docs/interop/qcow2.txt,
// "Snapshots"). Entries are 8-byte aligned: a 40-byte fixed part, extra
// data, the id string and the name, then padding.
#include "formats/qcow2/snapshots.h"

#include <algorithm>

#include "core/util/checked.h"
#include "core/util/endian.h"
#include "core/util/hex.h"

namespace imgfs::qcow2 {
namespace {

// Fixed part of a snapshot table entry.
constexpr size_t kSnapL1OffsetOffset = 0;
constexpr size_t kSnapL1SizeOffset = 8;
constexpr size_t kSnapIdSizeOffset = 12;
constexpr size_t kSnapNameSizeOffset = 14;
constexpr size_t kSnapDateSecOffset = 16;
constexpr size_t kSnapDateNsecOffset = 20;
constexpr size_t kSnapVmClockOffset = 24;
constexpr size_t kSnapVmStateSizeOffset = 32;
constexpr size_t kSnapExtraSizeOffset = 36;
constexpr size_t kSnapFixedBytes = 40;
// Extra data fields.
constexpr size_t kExtraVmStateLargeEnd = 8;
constexpr size_t kExtraDiskSizeEnd = 16;
constexpr size_t kExtraIcountEnd = 24;

Status ReadEntry(const File& file, uint64_t at, uint64_t limit, Snapshot* s, uint64_t* next) {
  std::byte fixed[kSnapFixedBytes];
  if (!RangeWithin(at, kSnapFixedBytes, limit)) {
    return CorruptError("qcow2: snapshot entry at " + Hex(at) + " extends past the table limit");
  }
  IMGFS_RETURN_IF_ERROR(file.ReadExactAt(at, fixed, "qcow2: snapshot entry"));
  s->l1_table_offset = LoadBE64(fixed + kSnapL1OffsetOffset);
  s->l1_size = LoadBE32(fixed + kSnapL1SizeOffset);
  uint16_t id_bytes = LoadBE16(fixed + kSnapIdSizeOffset);
  uint16_t name_bytes = LoadBE16(fixed + kSnapNameSizeOffset);
  s->date_sec = LoadBE32(fixed + kSnapDateSecOffset);
  s->date_nsec = LoadBE32(fixed + kSnapDateNsecOffset);
  s->vm_clock_nsec = LoadBE64(fixed + kSnapVmClockOffset);
  s->vm_state_size = LoadBE32(fixed + kSnapVmStateSizeOffset);
  uint32_t extra_bytes = LoadBE32(fixed + kSnapExtraSizeOffset);
  if (extra_bytes > kMaxSnapshotExtraBytes) {
    return CorruptError("qcow2: snapshot entry at " + Hex(at) + " has " +
                        std::to_string(extra_bytes) + " bytes of extra data, more than " +
                        std::to_string(kMaxSnapshotExtraBytes));
  }
  // Bounded: 1024 + 2 * 65535 bytes.
  uint64_t var_bytes = uint64_t{extra_bytes} + id_bytes + name_bytes;
  if (!RangeWithin(at + kSnapFixedBytes, var_bytes, limit)) {
    return CorruptError("qcow2: snapshot entry at " + Hex(at) + " extends past the table limit");
  }
  std::vector<std::byte> var(static_cast<size_t>(var_bytes));
  IMGFS_RETURN_IF_ERROR(file.ReadExactAt(at + kSnapFixedBytes, var, "qcow2: snapshot entry"));
  const std::byte* p = var.data();
  if (extra_bytes >= kExtraVmStateLargeEnd) {
    s->vm_state_size = LoadBE64(p);
  }
  if (extra_bytes >= kExtraDiskSizeEnd) {
    s->disk_size = LoadBE64(p + 8);
  }
  if (extra_bytes >= kExtraIcountEnd) {
    s->icount = LoadBE64(p + 16);
  }
  const char* text = reinterpret_cast<const char*>(p + extra_bytes);
  s->id.assign(text, id_bytes);
  s->name.assign(text + id_bytes, name_bytes);
  uint64_t end = at + kSnapFixedBytes + var_bytes;
  *next = (end + 7) & ~uint64_t{7};
  return Status::Ok();
}

}  // namespace

Result<std::vector<Snapshot>> ReadSnapshotTable(const File& file, const Header& h,
                                                uint64_t* table_bytes) {
  std::vector<Snapshot> out;
  if (h.nb_snapshots == 0) {
    if (table_bytes != nullptr) {
      *table_bytes = 0;
    }
    return out;
  }
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file.Size());
  if (h.snapshots_offset > file_size) {
    return CorruptError("qcow2: snapshot table at " + Hex(h.snapshots_offset) +
                        " lies past end of file (size " + Hex(file_size) + ")");
  }
  uint64_t limit = file_size;
  if (file_size - h.snapshots_offset > kMaxSnapshotTableBytes) {
    limit = h.snapshots_offset + kMaxSnapshotTableBytes;
  }
  uint64_t at = h.snapshots_offset;
  out.reserve(std::min<uint32_t>(h.nb_snapshots, 1024));
  for (uint32_t i = 0; i < h.nb_snapshots; ++i) {
    Snapshot s;
    IMGFS_RETURN_IF_ERROR(ReadEntry(file, at, limit, &s, &at));
    out.push_back(std::move(s));
  }
  if (table_bytes != nullptr) {
    *table_bytes = at - h.snapshots_offset;
  }
  return out;
}

SnapshotInfo ToSnapshotInfo(const Snapshot& s, uint64_t header_size_bytes) {
  SnapshotInfo info;
  info.id = s.id;
  info.name = s.name;
  info.virtual_size = s.disk_size.value_or(header_size_bytes);
  info.vm_state_size = s.vm_state_size;
  info.date_sec = s.date_sec;
  info.date_nsec = s.date_nsec;
  info.vm_clock_nsec = s.vm_clock_nsec;
  info.icount = s.icount.value_or(UINT64_MAX);
  return info;
}

const Snapshot* FindSnapshot(const std::vector<Snapshot>& snapshots, std::string_view id_or_name) {
  for (const Snapshot& s : snapshots) {
    if (s.id == id_or_name) {
      return &s;
    }
  }
  for (const Snapshot& s : snapshots) {
    if (s.name == id_or_name) {
      return &s;
    }
  }
  return nullptr;
}

}  // namespace imgfs::qcow2
