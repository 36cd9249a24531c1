// SPDX-License-Identifier: MIT
// The Bochs read path: guest offset -> catalog entry (a 64 KiB piece of the
// catalog, through the shared Cache) -> the stored extent's bitmap (cached
// per extent) -> its data, or a hole. No lock: the Image is immutable, the
// tables live in the Cache and File reads are positional.
#include "formats/bochs/device.h"

#include <algorithm>
#include <bit>
#include <utility>
#include <vector>

#include "core/blockmap/block_map_device.h"
#include "core/blockmap/table_loader.h"
#include "core/util/hex.h"

namespace imgfs::bochs {
namespace {

constexpr size_t kMaxListedFindings = 50;

const TableSpec kCatalogSpec{"bochs", "catalog", ByteOrder::kLittle,
                             uint64_t{kCatalogChunkEntries} * sizeof(uint32_t)};
// A bitmap is read as little-endian 64-bit words: bit s of word w is bit
// (s % 8) of byte w * 8 + s / 8, the bit of sector w * 64 + s.
const TableSpec kBitmapSpec{"bochs", "sector bitmap", ByteOrder::kLittle,
                            uint64_t{kMaxExtentBytes} / 512 / 8};

BlockMapConfig ConfigFor(const Image& image, const ReadAround* read_around) {
  BlockMapConfig c;
  c.format = "bochs";
  c.pool = image.pool;
  c.read_around = read_around;
  c.read_around_file = image.file.get();
  c.extents_window_bits = static_cast<uint32_t>(std::countr_zero(image.header.extent_bytes)) +
                          static_cast<uint32_t>(std::countr_zero(kCatalogChunkEntries));
  return c;
}

class Device final : public BlockMapDevice {
 public:
  Device(Image image, std::unique_ptr<const ReadAround> read_around)
      : BlockMapDevice(ConfigFor(image, read_around.get())),
        image_(std::move(image)),
        read_around_(std::move(read_around)),
        extent_bits_(static_cast<uint32_t>(std::countr_zero(image_.header.extent_bytes))),
        cache_id_(image_.cache->NewId()) {}
  ~Device() override { image_.cache->EraseDevice(cache_id_); }

  uint64_t Size() const override { return image_.header.disk_bytes; }
  ImageInfo Describe() const override;
  Result<CheckReport> Check() const override;

 protected:
  Result<Mapping> Map(uint64_t offset, uint64_t max_length) const override;

 private:
  Result<std::shared_ptr<const Table<uint32_t>>> LoadCatalog(uint64_t chunk) const;
  Result<uint32_t> CatalogEntry(uint64_t extent) const;
  Result<std::shared_ptr<const Table<uint64_t>>> LoadBitmap(uint64_t extent, uint32_t stored) const;

  const Image image_;
  const std::unique_ptr<const ReadAround> read_around_;
  const uint32_t extent_bits_;
  const uint64_t cache_id_;
};

Result<std::shared_ptr<const Table<uint32_t>>> Device::LoadCatalog(uint64_t chunk) const {
  const Header& h = image_.header;
  const uint64_t first = chunk * kCatalogChunkEntries;
  const uint64_t entries = std::min<uint64_t>(kCatalogChunkEntries, h.catalog_entries - first);
  return LoadTable<uint32_t>(*image_.file, *image_.cache,
                             CacheKey{cache_id_, CacheKind::kMapTable, chunk},
                             h.header_bytes + first * sizeof(uint32_t), entries, kCatalogSpec);
}

Result<uint32_t> Device::CatalogEntry(uint64_t extent) const {
  IMGFS_ASSIGN_OR_RETURN(auto table, LoadCatalog(extent / kCatalogChunkEntries));
  return table->words[extent % kCatalogChunkEntries];
}

Result<std::shared_ptr<const Table<uint64_t>>> Device::LoadBitmap(uint64_t extent,
                                                                  uint32_t stored) const {
  const Header& h = image_.header;
  const uint64_t words = (h.extent_sectors() + 63) / 64;
  auto table = LoadTable<uint64_t>(*image_.file, *image_.cache,
                                   CacheKey{cache_id_, CacheKind::kTable, extent},
                                   h.BitmapHostOffset(stored), words, kBitmapSpec);
  if (!table.ok()) {
    return table.status().Annotate("bochs: extent " + std::to_string(extent) + " (stored extent " +
                                   std::to_string(stored) + ")");
  }
  return table;
}

// A run ends at the extent's end or where the bitmap bit changes; the base
// joins host-contiguous runs of neighbouring extents.
Result<Mapping> Device::Map(uint64_t offset, uint64_t max_length) const {
  const uint64_t extent = offset >> extent_bits_;
  const uint64_t extent_start = extent << extent_bits_;
  const uint64_t limit = std::min(offset + max_length, extent_start + image_.header.extent_bytes);
  IMGFS_ASSIGN_OR_RETURN(uint32_t stored, CatalogEntry(extent));
  Mapping m;
  if (stored == kFreeExtent) {
    m.kind = MapKind::kUnallocated;
    m.length = limit - offset;
    return m;
  }
  IMGFS_ASSIGN_OR_RETURN(auto bitmap, LoadBitmap(extent, stored));
  auto bit = [&](uint64_t sector) { return (bitmap->words[sector / 64] >> (sector % 64)) & 1; };
  const uint64_t first_sector = (offset - extent_start) / 512;
  const uint64_t want = bit(first_sector);
  uint64_t end = extent_start + (first_sector + 1) * 512;
  while (end < limit && bit((end - extent_start) / 512) == want) {
    end += 512;
  }
  m.length = std::min(end, limit) - offset;
  if (want == 0) {
    m.kind = MapKind::kUnallocated;
    return m;
  }
  m.kind = MapKind::kHost;
  m.file = image_.file.get();
  m.host_offset = image_.header.DataHostOffset(stored) + (offset - extent_start);
  return m;
}

ImageInfo Device::Describe() const {
  const Header& h = image_.header;
  ImageInfo info = FileImageInfo("bochs", *image_.file, Size());
  // qemu-img shows no format-specific data for bochs; these are the
  // header's own fields.
  nlohmann::json data;
  data["version"] = h.major();
  data["subtype"] = "growing";
  data["extent-size"] = h.extent_bytes;
  data["catalog-entries"] = h.catalog_entries;
  data["bitmap-size"] = h.bitmap_bytes;
  info.format_specific = nlohmann::json{{"type", "bochs"}, {"data", data}};
  if (h.disk_bytes != h.disk_bytes_stored) {
    info.notes.push_back("bochs: disk size " + std::to_string(h.disk_bytes_stored) +
                         " rounded down to a whole sector, as qemu does");
  }
  return info;
}

// Every stored extent (bitmap and data) inside the file and used by one
// catalog entry only.
Result<CheckReport> Device::Check() const {
  const Header& h = image_.header;
  CheckReport report;
  size_t findings = 0;
  auto error = [&](std::string message) {
    if (++findings <= kMaxListedFindings) {
      report.errors.push_back(std::move(message));
    }
  };
  const uint64_t in_file = image_.file_size > h.data_offset()
                               ? (image_.file_size - h.data_offset()) / h.stride_bytes() + 1
                               : 0;
  std::vector<bool> used(static_cast<size_t>(std::min<uint64_t>(in_file, h.catalog_entries)));
  uint64_t stored_count = 0;
  for (uint64_t chunk = 0; chunk * kCatalogChunkEntries < h.catalog_entries; ++chunk) {
    IMGFS_ASSIGN_OR_RETURN(auto table, LoadCatalog(chunk));
    for (size_t i = 0; i < table->words.size(); ++i) {
      const uint32_t stored = table->words[i];
      const uint64_t extent = chunk * kCatalogChunkEntries + i;
      if (stored == kFreeExtent) {
        continue;
      }
      ++stored_count;
      const uint64_t bitmap_at = h.BitmapHostOffset(stored);
      if (bitmap_at + 512 * h.bitmap_sectors() > image_.file_size) {
        error("bochs: extent " + std::to_string(extent) + " is stored at " + Hex(bitmap_at) +
              ", past end of file (size " + Hex(image_.file_size) + ")");
      } else if (stored >= used.size() || used[stored]) {
        error("bochs: stored extent " + std::to_string(stored) +
              " is used twice (again by extent " + std::to_string(extent) + ")");
      } else {
        used[stored] = true;
      }
    }
  }
  if (findings > kMaxListedFindings) {
    report.errors.push_back("bochs: " + std::to_string(findings - kMaxListedFindings) +
                            " more errors not listed");
  }
  report.checked.push_back("bochs: catalog of " + std::to_string(h.catalog_entries) + " entries, " +
                           std::to_string(stored_count) + " extents stored");
  return report;
}

}  // namespace

std::unique_ptr<BlockDevice> NewDevice(Image image) {
  auto read_around = ReadAround::ForFile(
      *image.file,
      std::min(static_cast<uint32_t>(std::countr_zero(image.header.extent_bytes)), 16u),
      image.read_around);
  return std::make_unique<Device>(std::move(image), std::move(read_around));
}

}  // namespace imgfs::bochs
