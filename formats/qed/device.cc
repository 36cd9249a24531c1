// SPDX-License-Identifier: MIT
// The QED read path (docs/interop/qed_spec.rst, "Logical offset
// translation"): guest offset -> L1 -> L2 piece (through the Cache) ->
// data, zero cluster or the backing device. No lock: the Image is
// immutable, tables live in the Cache and File reads are positional.
// Check() verifies the spec's "Consistency checking" invariants.
#include "formats/qed/device.h"

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

#include "core/util/hex.h"
#include "formats/common/two_level_device.h"

namespace imgfs::qed {
namespace {

TwoLevelLayout LayoutOf(const Header& h) {
  TwoLevelLayout l;
  l.format = "qed";
  l.order = ByteOrder::kLittle;
  l.cluster_bits = h.cluster_bits;
  l.l2_entry_bits = h.l2_entry_bits;
  l.l1_offset = h.l1_offset;
  l.l1_entries = h.l1_entries;
  return l;
}

class Device final : public TwoLevelDevice {
 public:
  Device(const Header& header, TwoLevelImage image)
      : TwoLevelDevice(std::move(image), LayoutOf(header)), header_(header) {}

  uint64_t Size() const override { return header_.image_bytes; }
  ImageInfo Describe() const override;
  Result<CheckReport> Check() const override;

 private:
  // TwoLevelEntries
  Result<uint64_t> L2Offset(uint64_t l1_index, uint64_t entry) const override;
  Result<Mapping> Classify(uint64_t cluster, uint64_t entry, uint64_t in_cluster) const override;
  // Whether `offset` may hold a cluster: aligned, after the header, inside
  // the file (the spec's offset rules, as QEMU applies them).
  bool ValidClusterOffset(uint64_t offset) const {
    return offset % header_.cluster_bytes() == 0 && offset >= header_.header_bytes() &&
           offset < image().file_size;
  }
  Status MarkTables(const std::function<void(uint64_t, uint64_t, const std::string&)>& mark) const;

  const Header header_;
};

Result<uint64_t> Device::L2Offset(uint64_t l1_index, uint64_t entry) const {
  if (entry == 0) {
    return uint64_t{0};
  }
  const uint64_t file_size = image().file_size;
  if (!ValidClusterOffset(entry) || file_size - entry < header_.table_bytes()) {
    return CorruptError("qed: L1 entry " + std::to_string(l1_index) + " names an L2 table at " +
                        Hex(entry) + ", not a whole table of clusters inside the file (size " +
                        Hex(file_size) + ")");
  }
  return entry;
}

Result<Mapping> Device::Classify(uint64_t cluster, uint64_t entry, uint64_t in_cluster) const {
  Mapping m;
  if (entry == 0) {
    m.kind = MapKind::kUnallocated;
  } else if (entry == kZeroCluster) {
    m.kind = MapKind::kZero;
  } else if (!ValidClusterOffset(entry)) {
    return CorruptError("qed: cluster " + std::to_string(cluster) + " is stored at " + Hex(entry) +
                        ", not a cluster inside the file (size " + Hex(image().file_size) + ")");
  } else {
    m.kind = MapKind::kHost;
    m.file = image().file.get();
    m.host_offset = entry + in_cluster;
  }
  return m;
}

ImageInfo Device::Describe() const {
  ImageInfo info = BaseInfo(header_.cluster_bytes());
  if (header_.has_backing() && header_.backing_raw()) {
    info.backing_format = "raw";
  }
  info.dirty = header_.need_check();
  if (header_.need_check()) {
    info.notes.push_back("qed: the need-check flag is set (the image was not closed cleanly)");
  }
  if (header_.compat_features != 0 || header_.autoclear_features != 0) {
    info.notes.push_back("qed: unknown compatible features " + Hex(header_.compat_features) +
                         ", autoclear features " + Hex(header_.autoclear_features) + " ignored");
  }
  return info;
}

// Marks the clusters of the L1 table and of every L2 table it names.
Status Device::MarkTables(
    const std::function<void(uint64_t, uint64_t, const std::string&)>& mark) const {
  mark(header_.l1_offset, header_.table_clusters, "L1 table");
  for (uint64_t i = 0; i < header_.l1_entries; ++i) {
    IMGFS_ASSIGN_OR_RETURN(uint64_t entry, table().L1Entry(i));
    Result<uint64_t> l2 = L2Offset(i, entry);
    if (l2.ok() && *l2 != 0) {
      mark(*l2, header_.table_clusters, "L2 table of L1 entry " + std::to_string(i));
    }
  }
  return Status::Ok();
}

// The spec's invariants: every offset aligned and inside the file, every
// cluster referenced once; clusters after the header that nothing
// references are leaks (warnings, as qemu-img check reports them).
Result<CheckReport> Device::Check() const {
  const uint32_t cb = header_.cluster_bits;
  CheckReport report;
  std::vector<std::string> errors;
  // One bit per cluster of the file: the file bounds it.
  std::vector<bool> used(
      static_cast<size_t>((image().file_size + header_.cluster_bytes() - 1) >> cb));
  auto mark = [&](uint64_t offset, uint64_t clusters, const std::string& what) {
    for (uint64_t c = offset >> cb; c < (offset >> cb) + clusters && c < used.size(); ++c) {
      if (used[c]) {
        errors.push_back("qed: cluster at " + Hex(c << cb) + " (" + what + ") is referenced twice");
        return;
      }
      used[c] = true;
    }
  };
  IMGFS_RETURN_IF_ERROR(MarkTables(mark));
  uint64_t data = 0;
  uint64_t zero = 0;
  auto visit = [&](uint64_t cluster, uint64_t entry) {
    if (entry == 0 || (cluster << cb) >= header_.image_bytes) {
      return;
    }
    Result<Mapping> m = Classify(cluster, entry, 0);
    if (!m.ok()) {
      errors.push_back(m.status().message());
    } else if (m->kind == MapKind::kZero) {
      ++zero;
    } else {
      ++data;
      mark(m->host_offset, 1, "data of guest cluster " + std::to_string(cluster));
    }
  };
  IMGFS_RETURN_IF_ERROR(WalkForCheck(visit, &errors, &report));
  if (errors.empty()) {
    const auto header_end = std::min<size_t>(header_.header_clusters, used.size());
    const auto leaked = static_cast<uint64_t>(
        std::count(used.begin() + static_cast<ptrdiff_t>(header_end), used.end(), false));
    if (leaked != 0) {
      report.warnings.push_back("qed: " + std::to_string(leaked) +
                                " clusters are referenced by no table (leaked)");
    }
  }
  report.checked.push_back("qed: L1 table of " + std::to_string(header_.l1_entries) + " entries, " +
                           std::to_string(data) + " data and " + std::to_string(zero) +
                           " zero clusters" +
                           (header_.need_check() ? "; the need-check flag is set" : ""));
  return report;
}

}  // namespace

std::unique_ptr<BlockDevice> NewDevice(const Header& header, TwoLevelImage image) {
  return std::make_unique<Device>(header, std::move(image));
}

}  // namespace imgfs::qed
