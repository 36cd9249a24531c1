// SPDX-License-Identifier: MIT
// The QED read path (docs/interop/qed_spec.rst, "Logical offset
// translation"): guest offset -> L1 -> L2 piece (through the Cache) ->
// data, zero cluster or the backing device. No lock: the Image is
// immutable, tables live in the Cache and File reads are positional.
// Check() verifies the spec's "Consistency checking" invariants.
#include "formats/qed/device.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "core/blockmap/block_map_device.h"
#include "core/blockmap/two_level_table.h"
#include "core/util/hex.h"

namespace imgfs::qed {
namespace {

// Findings listed one by one by Check(); the rest are counted.
constexpr size_t kMaxListedFindings = 50;

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

class Device final : public BlockMapDevice, TwoLevelEntries {
 public:
  Device(Image image, std::unique_ptr<const ReadAround> read_around, uint64_t cache_id)
      : BlockMapDevice(Config(image, read_around.get())),
        image_(std::move(image)),
        read_around_(std::move(read_around)),
        cache_id_(cache_id),
        table_(LayoutOf(image_.header), image_.file.get(), image_.cache, cache_id_, this) {}
  ~Device() override { image_.cache->EraseDevice(cache_id_); }

  uint64_t Size() const override { return image_.header.image_bytes; }
  ImageInfo Describe() const override;
  const BlockDevice* backing() const override { return image_.backing.get(); }
  Result<CheckReport> Check() const override;

 protected:
  Result<Mapping> Map(uint64_t offset, uint64_t max_length) const override {
    return table_.Map(offset, max_length);
  }

 private:
  static BlockMapConfig Config(const Image& image, const ReadAround* read_around);
  // TwoLevelEntries
  Result<uint64_t> L2Offset(uint64_t l1_index, uint64_t entry) const override;
  Result<Mapping> Classify(uint64_t cluster, uint64_t entry, uint64_t in_cluster) const override;
  // Whether `offset` may hold a cluster: aligned, after the header, inside
  // the file (the spec's offset rules, as QEMU applies them).
  bool ValidClusterOffset(uint64_t offset) const {
    const Header& h = image_.header;
    return offset % h.cluster_bytes() == 0 && offset >= h.header_bytes() &&
           offset < image_.file_size;
  }

  const Image image_;
  const std::unique_ptr<const ReadAround> read_around_;
  const uint64_t cache_id_;
  const TwoLevelTable table_;
};

BlockMapConfig Device::Config(const Image& image, const ReadAround* read_around) {
  BlockMapConfig c;
  c.format = "qed";
  c.pool = image.pool;
  c.read_around = read_around;
  c.read_around_file = image.file.get();
  c.extents_window_bits =
      TwoLevelTable(LayoutOf(image.header), nullptr, nullptr, 0, nullptr).piece_coverage_bits();
  return c;
}

Result<uint64_t> Device::L2Offset(uint64_t l1_index, uint64_t entry) const {
  if (entry == 0) {
    return uint64_t{0};
  }
  if (!ValidClusterOffset(entry) || image_.file_size - entry < image_.header.table_bytes()) {
    return CorruptError("qed: L1 entry " + std::to_string(l1_index) + " names an L2 table at " +
                        Hex(entry) + ", not a whole table of clusters inside the file (size " +
                        Hex(image_.file_size) + ")");
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
                        ", not a cluster inside the file (size " + Hex(image_.file_size) + ")");
  } else {
    m.kind = MapKind::kHost;
    m.file = image_.file.get();
    m.host_offset = entry + in_cluster;
  }
  return m;
}

ImageInfo Device::Describe() const {
  const Header& h = image_.header;
  ImageInfo info;
  info.format = "qed";
  info.filename = image_.file->name();
  info.virtual_size = Size();
  auto allocated = image_.file->AllocatedBytes();
  info.actual_size = allocated.ok() ? *allocated : 0;
  info.cluster_size = h.cluster_bytes();
  info.backing_filename = image_.backing_name;
  info.full_backing_filename = image_.full_backing_name;
  if (h.has_backing() && h.backing_raw()) {
    info.backing_format = "raw";
  }
  info.dirty = h.need_check();
  if (h.need_check()) {
    info.notes.push_back("qed: the need-check flag is set (the image was not closed cleanly)");
  }
  if (h.compat_features != 0 || h.autoclear_features != 0) {
    info.notes.push_back("qed: unknown compatible features " + Hex(h.compat_features) +
                         ", autoclear features " + Hex(h.autoclear_features) + " ignored");
  }
  return info;
}

// The spec's invariants: every offset aligned and inside the file, every
// cluster referenced once; clusters after the header that nothing
// references are leaks (warnings, as qemu-img check reports them).
Result<CheckReport> Device::Check() const {
  const Header& h = image_.header;
  CheckReport report;
  std::vector<std::string> errors;
  // One bit per cluster of the file: the file bounds it.
  std::vector<bool> used(
      static_cast<size_t>((image_.file_size + h.cluster_bytes() - 1) >> h.cluster_bits));
  auto mark = [&](uint64_t offset, uint64_t clusters, const std::string& what) {
    for (uint64_t i = 0; i < clusters; ++i) {
      const uint64_t c = (offset >> h.cluster_bits) + i;
      if (c >= used.size()) {
        return;  // reported where the offset was judged
      }
      if (used[c]) {
        errors.push_back("qed: cluster at " + Hex(c << h.cluster_bits) + " (" + what +
                         ") is referenced twice");
        return;
      }
      used[c] = true;
    }
  };
  mark(h.l1_offset, h.table_clusters, "L1 table");
  for (uint64_t i = 0; i < h.l1_entries; ++i) {
    IMGFS_ASSIGN_OR_RETURN(uint64_t entry, table_.L1Entry(i));
    Result<uint64_t> l2 = L2Offset(i, entry);
    if (l2.ok() && *l2 != 0) {
      mark(*l2, h.table_clusters, "L2 table of L1 entry " + std::to_string(i));
    }
  }
  uint64_t data = 0;
  uint64_t zero = 0;
  auto visit = [&](uint64_t cluster, uint64_t entry) {
    if (entry == 0 || (cluster << h.cluster_bits) >= h.image_bytes) {
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
  IMGFS_RETURN_IF_ERROR(table_.Walk(visit, &errors));
  for (size_t i = 0; i < errors.size() && i < kMaxListedFindings; ++i) {
    report.errors.push_back(errors[i]);
  }
  if (errors.size() > kMaxListedFindings) {
    report.errors.push_back("qed: " + std::to_string(errors.size() - kMaxListedFindings) +
                            " more errors not listed");
  }
  if (errors.empty()) {
    const auto leaked = static_cast<uint64_t>(
        std::count(used.begin() + std::min<ptrdiff_t>(h.header_clusters, std::ssize(used)),
                   used.end(), false));
    if (leaked != 0) {
      report.warnings.push_back("qed: " + std::to_string(leaked) +
                                " clusters are referenced by no table (leaked)");
    }
  }
  report.checked.push_back("qed: L1 table of " + std::to_string(h.l1_entries) + " entries, " +
                           std::to_string(data) + " data and " + std::to_string(zero) +
                           " zero clusters" +
                           (h.need_check() ? "; the need-check flag is set" : ""));
  return report;
}

}  // namespace

std::unique_ptr<BlockDevice> NewDevice(Image image) {
  auto read_around =
      ReadAround::ForFile(*image.file, std::min(image.header.cluster_bits, 16u), image.read_around);
  const uint64_t cache_id = image.cache->NewId();
  return std::make_unique<Device>(std::move(image), std::move(read_around), cache_id);
}

}  // namespace imgfs::qed
