// SPDX-License-Identifier: MIT
// The parallels read path: guest offset -> storage (split disks) -> layers
// top first -> BAT entry (a 64 KiB piece of the BAT, through the shared
// Cache) -> the first layer holding the cluster, or zeros. No lock: the
// Disk is immutable, BAT pieces live in the Cache and File reads are
// positional. Check() walks every BAT the same way.
#include "formats/parallels/device.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "core/blockmap/block_map_device.h"
#include "core/blockmap/table_loader.h"
#include "core/util/hex.h"
#include "core/util/sector.h"

namespace imgfs::parallels {
namespace {

// Findings listed one by one by Check(); the rest are counted.
constexpr size_t kMaxListedFindings = 50;

const TableSpec kBatSpec{"parallels", "BAT", ByteOrder::kLittle,
                         uint64_t{kBatChunkEntries} * sizeof(uint32_t)};

const char* InUseName(uint32_t in_use) {
  return in_use == kInUseDirty ? "dirty" : in_use == kInUseClosed ? "closed" : "unset";
}

class Device final : public BlockMapDevice {
 public:
  Device(Disk disk, std::unique_ptr<const ReadAround> read_around, const File* around_file)
      : BlockMapDevice(BlockMapConfig{"parallels", disk.pool, read_around.get(), around_file}),
        disk_(std::move(disk)),
        read_around_(std::move(read_around)) {
    for (const Storage& s : disk_.storages) {
      auto& ids = cache_ids_.emplace_back();
      for (size_t i = 0; i < s.layers.size(); ++i) {
        ids.push_back(disk_.cache->NewId());
      }
    }
  }
  ~Device() override {
    for (const auto& ids : cache_ids_) {
      for (uint64_t id : ids) {
        disk_.cache->EraseDevice(id);
      }
    }
  }

  uint64_t Size() const override { return disk_.size_bytes; }
  ImageInfo Describe() const override;
  Result<CheckReport> Check() const override;

 protected:
  Result<Mapping> Map(uint64_t offset, uint64_t max_length) const override;

 private:
  Result<std::shared_ptr<const Table<uint32_t>>> LoadChunk(const Layer& layer, uint64_t cache_id,
                                                           uint64_t chunk) const;
  // The run of one expandable layer at `local` (bytes into it): kHost or
  // kUnallocated, at most `max_length` bytes.
  Result<Mapping> MapLayer(const Layer& layer, uint64_t cache_id, uint64_t local,
                           uint64_t max_length) const;
  Result<Mapping> Classify(const Layer& layer, uint64_t cluster, uint32_t entry,
                           uint64_t in_cluster) const;
  void CheckLayer(const Layer& layer, uint64_t cache_id, CheckReport* report,
                  size_t* findings) const;
  nlohmann::json LayerData(const Layer& layer) const;
  // "parallels: " and, in a bundle, the layer's file name: a single image's
  // name is already in front of every message the CLI prints.
  std::string Prefix(const Layer& layer) const {
    return disk_.bundle ? "parallels: " + layer.name + ": " : "parallels: ";
  }

  const Disk disk_;
  const std::unique_ptr<const ReadAround> read_around_;
  std::vector<std::vector<uint64_t>> cache_ids_;  // [storage][layer]; set in the constructor
};

Result<std::shared_ptr<const Table<uint32_t>>> Device::LoadChunk(const Layer& layer,
                                                                 uint64_t cache_id,
                                                                 uint64_t chunk) const {
  const uint64_t first = chunk * kBatChunkEntries;
  const uint64_t entries = std::min<uint64_t>(kBatChunkEntries, layer.header.bat_entries - first);
  return LoadTable<uint32_t>(*layer.file, *disk_.cache,
                             CacheKey{cache_id, CacheKind::kMapTable, chunk},
                             kHeaderBytes + first * sizeof(uint32_t), entries, kBatSpec);
}

Result<Mapping> Device::Classify(const Layer& layer, uint64_t cluster, uint32_t entry,
                                 uint64_t in_cluster) const {
  Mapping m;
  if (entry == 0) {
    m.kind = MapKind::kUnallocated;
    return m;
  }
  const Header& h = layer.header;
  const uint64_t host = h.EntryHostOffset(entry);
  if (host >= layer.file_size || host < h.data_offset) {
    return CorruptError(Prefix(layer) + "BAT entry " + std::to_string(cluster) + " at " +
                        Hex(kHeaderBytes + cluster * 4) + " points to " + Hex(host) +
                        (host < h.data_offset
                             ? ", before the data area at " + Hex(h.data_offset)
                             : ", past end of file (size " + Hex(layer.file_size) + ")"));
  }
  m.kind = MapKind::kHost;
  m.file = layer.file.get();
  m.host_offset = host + in_cluster;
  return m;
}

// A run ends at the BAT piece's end, at a change of kind and, for stored
// clusters, where the next cluster is not stored right after this one.
Result<Mapping> Device::MapLayer(const Layer& layer, uint64_t cache_id, uint64_t local,
                                 uint64_t max_length) const {
  const Header& h = layer.header;
  if (h.empty() || local >= h.disk_bytes()) {
    return Mapping{MapKind::kUnallocated, max_length};
  }
  const uint64_t cb = h.cluster_bytes();
  const uint64_t cluster = local / cb;
  const uint64_t chunk = cluster / kBatChunkEntries;
  IMGFS_ASSIGN_OR_RETURN(std::shared_ptr<const Table<uint32_t>> table,
                         LoadChunk(layer, cache_id, chunk));
  const uint64_t first = chunk * kBatChunkEntries;
  IMGFS_ASSIGN_OR_RETURN(Mapping m,
                         Classify(layer, cluster, table->words[cluster - first], local % cb));
  const uint64_t limit = local + std::min(max_length, h.disk_bytes() - local);
  const uint64_t table_end = (first + table->words.size()) * cb;
  uint64_t pos = (cluster + 1) * cb;
  while (pos < limit && pos < table_end) {
    const uint64_t next_cluster = pos / cb;
    IMGFS_ASSIGN_OR_RETURN(Mapping next,
                           Classify(layer, next_cluster, table->words[next_cluster - first], 0));
    if (next.kind != m.kind ||
        (m.kind == MapKind::kHost && next.host_offset != m.host_offset + (pos - local))) {
      break;
    }
    pos += cb;
  }
  m.length = std::min(pos, limit) - local;
  return m;
}

Result<Mapping> Device::Map(uint64_t offset, uint64_t max_length) const {
  const auto& storages = disk_.storages;
  const auto it =
      std::upper_bound(storages.begin(), storages.end(), offset,
                       [](uint64_t off, const Storage& s) { return off < s.start_bytes; });
  const size_t si = static_cast<size_t>(it - storages.begin()) - 1;
  const Storage& s = storages[si];
  const uint64_t local = offset - s.start_bytes;
  uint64_t length = std::min(max_length, s.end_bytes - offset);
  for (size_t li = 0; li < s.layers.size(); ++li) {
    const Layer& layer = s.layers[li];
    if (layer.plain) {
      return Mapping{MapKind::kHost, length, layer.file.get(), local};
    }
    IMGFS_ASSIGN_OR_RETURN(Mapping m, MapLayer(layer, cache_ids_[si][li], local, length));
    if (m.kind != MapKind::kUnallocated) {
      return m;
    }
    length = m.length;  // the layer below answers for this run only
  }
  return Mapping{MapKind::kUnallocated, length};
}

nlohmann::json Device::LayerData(const Layer& layer) const {
  nlohmann::json d;
  d["file"] = layer.name;
  if (!layer.guid.empty()) {
    d["guid"] = layer.guid;
  }
  if (layer.plain) {
    d["type"] = "plain";
    return d;
  }
  const Header& h = layer.header;
  d["type"] = "expanding";
  d["signature"] = h.magic();
  d["bat-offsets"] = h.cluster_offsets ? "clusters" : "sectors";
  d["cluster-size"] = h.cluster_bytes();
  d["bat-entries"] = h.bat_entries;
  d["heads"] = h.heads;
  d["cylinders"] = h.cylinders;
  d["in-use"] = InUseName(h.in_use);
  d["data-offset"] = h.data_offset;
  if (h.empty()) {
    d["empty-image"] = true;
  }
  if (h.ext_offset != 0) {
    nlohmann::json ext;
    ext["offset"] = h.ext_offset;
    ext["dirty-bitmaps"] = layer.extension.bitmaps.size();
    if (!layer.extension.unknown_features.empty()) {
      ext["unknown-features"] = layer.extension.unknown_features.size();
    }
    d["format-extension"] = ext;
  }
  return d;
}

ImageInfo Device::Describe() const {
  ImageInfo info;
  info.format = "parallels";
  info.filename = disk_.path;
  info.virtual_size = disk_.size_bytes;
  uint64_t actual = 0;
  for (const Storage& s : disk_.storages) {
    for (const Layer& l : s.layers) {
      auto allocated = l.file->AllocatedBytes();
      actual += allocated.ok() ? *allocated : 0;
      if (!l.plain && l.header.dirty()) {
        info.dirty = true;
      }
      for (const std::string& p : l.extension.problems) {
        info.notes.push_back(l.name + ": " + p);
      }
    }
  }
  info.actual_size = actual;
  const Layer& top = disk_.storages.front().layers.front();
  if (!top.plain) {
    info.cluster_size = top.header.cluster_bytes();
  }
  // qemu-img shows no format-specific data for parallels; these are the
  // header's own fields (and, for a bundle, its descriptor).
  nlohmann::json data = disk_.bundle ? disk_.bundle_data : LayerData(top);
  if (disk_.bundle) {
    nlohmann::json storages = nlohmann::json::array();
    for (const Storage& s : disk_.storages) {
      nlohmann::json layers = nlohmann::json::array();
      for (const Layer& l : s.layers) {
        layers.push_back(LayerData(l));
      }
      storages.push_back({{"start", s.start_bytes / kSectorBytes},
                          {"end", s.end_bytes / kSectorBytes},
                          {"layers", layers}});
    }
    data["storages"] = storages;
  }
  info.format_specific = nlohmann::json{{"type", "parallels"}, {"data", data}};
  info.snapshots = disk_.snapshots;
  info.notes.insert(info.notes.end(), disk_.notes.begin(), disk_.notes.end());
  return info;
}

// What qemu-img check verifies for parallels (cluster offsets inside the
// data area and the file, aligned to clusters, each used once), plus the
// in-use flag and the format extension.
void Device::CheckLayer(const Layer& layer, uint64_t cache_id, CheckReport* report,
                        size_t* findings) const {
  const Header& h = layer.header;
  auto error = [&](std::string message) {
    if (++*findings <= kMaxListedFindings) {
      report->errors.push_back(Prefix(layer) + std::move(message));
    }
  };
  if (h.dirty()) {
    report->warnings.push_back(Prefix(layer) +
                               "in-use flag set (the image was not closed cleanly)");
  }
  for (const std::string& p : layer.extension.problems) {
    report->warnings.push_back(layer.name + ": " + p);
  }
  const uint64_t cb = h.cluster_bytes();
  // One bit per cluster of the data area that lies in the file: the file
  // bounds the bitmap, whatever the BAT claims.
  const uint64_t data_clusters =
      layer.file_size > h.data_offset ? (layer.file_size - h.data_offset + cb - 1) / cb : 0;
  std::vector<bool> used(static_cast<size_t>(data_clusters));
  for (uint64_t chunk = 0; chunk * kBatChunkEntries < h.bat_entries; ++chunk) {
    auto table = LoadChunk(layer, cache_id, chunk);
    if (!table.ok()) {
      error(table.status().message());
      return;
    }
    for (size_t i = 0; i < (*table)->words.size(); ++i) {
      const uint32_t entry = (*table)->words[i];
      const uint64_t cluster = chunk * kBatChunkEntries + i;
      const uint64_t host = h.EntryHostOffset(entry);
      if (entry == 0) {
        continue;
      }
      const auto what = [&] {  // built only for an error
        return "BAT entry " + std::to_string(cluster) + " (" + Hex(host) + ")";
      };
      if (host < h.data_offset) {
        error(what() + " lies before the data area at " + Hex(h.data_offset));
      } else if (host >= layer.file_size) {
        error(what() + " lies past end of file (size " + Hex(layer.file_size) + ")");
      } else if ((host - h.data_offset) % cb != 0) {
        error(what() + " is not aligned to a cluster of the data area");
      } else if (const uint64_t k = (host - h.data_offset) / cb; used[k]) {
        error(what() + " is used twice");
      } else {
        used[k] = true;
      }
    }
  }
  for (const DirtyBitmap& b : layer.extension.bitmaps) {
    for (uint64_t l1 : b.l1) {
      if (l1 > 1 && (l1 >= layer.file_size / kSectorBytes)) {
        error("dirty bitmap cluster at sector " + std::to_string(l1) + " lies past end of file");
      }
    }
  }
  report->checked.push_back(Prefix(layer) + "BAT of " + std::to_string(h.bat_entries) + " entries");
}

Result<CheckReport> Device::Check() const {
  CheckReport report;
  size_t findings = 0;
  for (size_t si = 0; si < disk_.storages.size(); ++si) {
    const Storage& s = disk_.storages[si];
    for (size_t li = 0; li < s.layers.size(); ++li) {
      if (!s.layers[li].plain) {
        CheckLayer(s.layers[li], cache_ids_[si][li], &report, &findings);
      }
    }
  }
  if (findings > kMaxListedFindings) {
    report.errors.push_back("parallels: " + std::to_string(findings - kMaxListedFindings) +
                            " more errors not listed");
  }
  return report;
}

}  // namespace

Status ReadLayerHeader(Layer* layer) {
  IMGFS_ASSIGN_OR_RETURN(layer->file_size, layer->file->Size());
  std::vector<std::byte> head(std::min<uint64_t>(kHeaderBytes, layer->file_size));
  IMGFS_RETURN_IF_ERROR(layer->file->ReadExactAt(0, head, "parallels: header"));
  IMGFS_ASSIGN_OR_RETURN(layer->header, DecodeHeader(head, layer->file_size));
  const Header& h = layer->header;
  if (h.ext_offset != 0) {
    const uint64_t n =
        std::min({h.cluster_bytes(), kMaxExtReadBytes, layer->file_size - h.ext_offset});
    std::vector<std::byte> ext(static_cast<size_t>(n));
    IMGFS_RETURN_IF_ERROR(
        layer->file->ReadExactAt(h.ext_offset, ext, "parallels: format extension"));
    layer->extension = DecodeExtension(ext);
  }
  return Status::Ok();
}

std::unique_ptr<BlockDevice> NewDevice(Disk disk) {
  std::unique_ptr<const ReadAround> around;
  const File* around_file = nullptr;
  const Layer& top = disk.storages.front().layers.front();
  if (disk.storages.size() == 1 && disk.storages.front().layers.size() == 1 && !top.plain) {
    const uint32_t bits = static_cast<uint32_t>(std::bit_width(top.header.cluster_bytes())) - 1;
    around = ReadAround::ForFile(*top.file, std::min(bits, 16u), disk.read_around);
    around_file = top.file.get();
  }
  return std::make_unique<Device>(std::move(disk), std::move(around), around_file);
}

}  // namespace imgfs::parallels
