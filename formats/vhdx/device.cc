// SPDX-License-Identifier: MIT
// The VHDX read path: guest offset -> payload block -> BAT entry (BAT pages
// through the shared Cache) -> host bytes, zeros, or the parent; partially
// present blocks of differencing images consult their chunk's sector
// bitmap, one bit per logical sector. `info` fields and `check` too.
#include "formats/vhdx/device.h"

#include <algorithm>
#include <bit>
#include <string>
#include <vector>

#include "core/blockmap/block_map_device.h"
#include "core/blockmap/table_loader.h"
#include "core/util/checked.h"
#include "core/util/hex.h"

namespace imgfs::vhdx {
namespace {

// BAT entries per cached page (32 KiB).
constexpr uint64_t kBatPageEntries = 4096;
// A sector bitmap block is 1 MiB: 2^23 bits, one per logical sector.
constexpr uint64_t kBitmapBytes = 1 * kMiB;
constexpr uint64_t kBitmapWords = kBitmapBytes / 8;

const TableSpec kBatSpec{"vhdx", "BAT", ByteOrder::kLittle, kBatPageEntries * 8};
const TableSpec kBitmapSpec{"vhdx", "sector bitmap", ByteOrder::kLittle, kBitmapBytes};

BlockMapConfig ConfigFor(const Image& image) {
  BlockMapConfig c;
  c.format = "vhdx";
  c.pool = image.pool;
  c.read_around = image.read_around.get();
  c.read_around_file = image.view.get();
  return c;
}

const char* StateName(uint64_t state) {
  switch (state) {
    case kNotPresent:
      return "not present";
    case kUndefined:
      return "undefined";
    case kZero:
      return "zero";
    case kUnmapped:
      return "unmapped";
    case kFullyPresent:
      return "fully present";
    case kPartiallyPresent:
      return "partially present";
    default:
      return "invalid";
  }
}

class Device final : public BlockMapDevice {
 public:
  explicit Device(std::shared_ptr<const Image> image)
      : BlockMapDevice(ConfigFor(*image)),
        image_(std::move(image)),
        cache_id_(image_->cache->NewId()) {}
  ~Device() override { image_->cache->EraseDevice(cache_id_); }

  uint64_t Size() const override { return image_->metadata.virtual_bytes; }
  ImageInfo Describe() const override;
  const BlockDevice* backing() const override { return image_->parent.get(); }
  Result<CheckReport> Check() const override;

 protected:
  Result<Mapping> Map(uint64_t offset, uint64_t max_length) const override;

 private:
  Result<uint64_t> BatEntry(uint64_t index) const;
  Result<Mapping> MapPartial(uint64_t block, uint64_t offset, uint64_t limit) const;
  Result<Mapping> MapBlockRun(uint64_t block, uint64_t entry, uint64_t offset,
                              uint64_t limit) const;

  std::shared_ptr<const Image> image_;
  const uint64_t cache_id_;
};

Result<uint64_t> Device::BatEntry(uint64_t index) const {
  const uint64_t page = index / kBatPageEntries;
  const uint64_t first = page * kBatPageEntries;
  const uint64_t entries = std::min(kBatPageEntries, image_->geometry.bat_entries - first);
  IMGFS_ASSIGN_OR_RETURN(
      std::shared_ptr<const Table<uint64_t>> table,
      LoadTable<uint64_t>(*image_->view, *image_->cache, {cache_id_, CacheKind::kMapTable, page},
                          image_->regions.bat_offset_bytes + first * 8, entries, kBatSpec));
  return table->words[index - first];
}

// What a payload entry in `state` means for a read, short of host bytes.
MapKind KindOf(uint64_t state) {
  // Not present, undefined and unmapped blocks hold nothing of this image:
  // a differencing image's parent shows through, others read zeros.
  return state == kZero ? MapKind::kZero : MapKind::kUnallocated;
}

Result<Mapping> Device::Map(uint64_t offset, uint64_t max_length) const {
  const Geometry& g = image_->geometry;
  const uint64_t block = offset / g.block_bytes;
  const uint64_t limit = offset + max_length;
  IMGFS_ASSIGN_OR_RETURN(uint64_t entry, BatEntry(g.PayloadIndex(block)));
  const uint64_t state = entry & kBatStateMask;
  if (state == kPartiallyPresent && image_->metadata.has_parent) {
    return MapPartial(block, offset, std::min(limit, (block + 1) * g.block_bytes));
  }
  return MapBlockRun(block, entry, offset, limit);
}

// A run of blocks from `block` (holding `offset`) that map alike: the same
// non-host kind, or host bytes that continue each other. Stops at the end
// of the BAT page, so one Map costs at most one table load.
Result<Mapping> Device::MapBlockRun(uint64_t block, uint64_t entry, uint64_t offset,
                                    uint64_t limit) const {
  const Geometry& g = image_->geometry;
  const uint64_t state = entry & kBatStateMask;
  const bool stored = state == kFullyPresent || state == kPartiallyPresent;
  if (!stored && state != kNotPresent && state != kUndefined && state != kZero &&
      state != kUnmapped) {
    return CorruptError("vhdx: BAT entry of block " + std::to_string(block) + " has state " +
                        std::to_string(state));
  }
  const uint64_t host = (entry >> kBatOffsetShift) * kMiB;
  if (stored && host < kHeaderSectionBytes) {
    return CorruptError("vhdx: block " + std::to_string(block) + " lies at " + Hex(host) +
                        ", inside the header section");
  }
  const uint64_t page_end_index = (g.PayloadIndex(block) / kBatPageEntries + 1) * kBatPageEntries;
  uint64_t end = (block + 1) * g.block_bytes;
  for (uint64_t b = block + 1; end < limit && b < g.data_blocks; ++b) {
    const uint64_t index = g.PayloadIndex(b);
    if (index >= page_end_index) {
      break;
    }
    IMGFS_ASSIGN_OR_RETURN(uint64_t next, BatEntry(index));
    const uint64_t next_state = next & kBatStateMask;
    const bool same = stored
                          ? (next_state == kFullyPresent &&
                             (next >> kBatOffsetShift) * kMiB == host + (b - block) * g.block_bytes)
                          : next_state != kFullyPresent && next_state != kPartiallyPresent &&
                                next_state <= kUnmapped && KindOf(next_state) == KindOf(state);
    if (!same) {
      break;
    }
    end += g.block_bytes;
  }
  const uint64_t length = std::min(end, limit) - offset;
  if (stored) {
    return Mapping{MapKind::kHost,
                   length,
                   image_->view.get(),
                   host + (offset - block * g.block_bytes),
                   0,
                   0,
                   0};
  }
  return Mapping{KindOf(state), length, nullptr, 0, 0, 0, 0};
}

// A partially present block of a differencing image: runs of sectors whose
// bitmap bit says "here" (1) or "the parent" (0).
Result<Mapping> Device::MapPartial(uint64_t block, uint64_t offset, uint64_t limit) const {
  const Geometry& g = image_->geometry;
  const uint64_t chunk = block / g.chunk_ratio;
  IMGFS_ASSIGN_OR_RETURN(uint64_t payload, BatEntry(g.PayloadIndex(block)));
  IMGFS_ASSIGN_OR_RETURN(uint64_t bitmap_entry, BatEntry(g.BitmapIndex(chunk)));
  if ((bitmap_entry & kBatStateMask) != kFullyPresent) {
    return CorruptError("vhdx: block " + std::to_string(block) +
                        " is partially present but chunk " + std::to_string(chunk) +
                        " has no sector bitmap");
  }
  const uint64_t bitmap_at = (bitmap_entry >> kBatOffsetShift) * kMiB;
  const uint64_t host = (payload >> kBatOffsetShift) * kMiB;
  if (bitmap_at < kHeaderSectionBytes || host < kHeaderSectionBytes) {
    return CorruptError("vhdx: block " + std::to_string(block) +
                        " or its sector bitmap lies inside the header section");
  }
  IMGFS_ASSIGN_OR_RETURN(
      std::shared_ptr<const Table<uint64_t>> bitmap,
      LoadTable<uint64_t>(*image_->view, *image_->cache, {cache_id_, CacheKind::kTable, chunk},
                          bitmap_at, kBitmapWords, kBitmapSpec));
  const uint64_t sector_bytes = image_->metadata.logical_sector_bytes;
  const uint64_t chunk_start = chunk * g.chunk_ratio * g.block_bytes;
  auto bit = [&](uint64_t sector) { return (bitmap->words[sector / 64] >> (sector % 64)) & 1; };
  const uint64_t first = (offset - chunk_start) / sector_bytes;
  const uint64_t last = (limit - 1 - chunk_start) / sector_bytes;
  const uint64_t here = bit(first);
  const uint64_t full_word = here != 0 ? ~uint64_t{0} : 0;
  uint64_t run_end = first + 1;  // exclusive
  while (run_end <= last) {
    if (run_end % 64 == 0 && run_end + 63 <= last && bitmap->words[run_end / 64] == full_word) {
      run_end += 64;
    } else if (bit(run_end) == here) {
      ++run_end;
    } else {
      break;
    }
  }
  const uint64_t end = std::min(limit, chunk_start + run_end * sector_bytes);
  if (here == 0) {
    return Mapping{MapKind::kUnallocated, end - offset, nullptr, 0, 0, 0, 0};
  }
  return Mapping{MapKind::kHost,
                 end - offset,
                 image_->view.get(),
                 host + (offset - block * g.block_bytes),
                 0,
                 0,
                 0};
}

ImageInfo Device::Describe() const {
  const Image& im = *image_;
  const Metadata& m = im.metadata;
  ImageInfo info = FileImageInfo("vhdx", *im.file, m.virtual_bytes);
  info.cluster_size = m.block_bytes;
  info.dirty = im.log_entries_replayed > 0;
  if (m.has_parent) {
    info.backing_filename = im.parent_ref;
    info.full_backing_filename = im.full_parent_filename;
    info.backing_format = "vhdx";
  }
  nlohmann::json data;
  data["creator"] = im.creator;
  data["block-size"] = m.block_bytes;
  data["logical-sector-size"] = m.logical_sector_bytes;
  data["physical-sector-size"] = m.physical_sector_bytes;
  data["leave-blocks-allocated"] = m.leave_blocks_allocated;
  data["has-parent"] = m.has_parent;
  data["virtual-disk-id"] = GuidToString(m.page83);
  data["file-write-guid"] = GuidToString(im.header.file_write_guid);
  data["data-write-guid"] = GuidToString(im.header.data_write_guid);
  data["log-guid"] = GuidToString(im.header.log_guid);
  data["log-size"] = im.header.log_length_bytes;
  data["header-sequence-number"] = im.header.sequence_number;
  data["current-header"] = im.current_header + 1;
  data["log-entries-replayed"] = im.log_entries_replayed;
  if (m.parent) {
    nlohmann::json loc = nlohmann::json::object();
    for (const auto& [k, v] : m.parent->entries) {
      loc[k] = v;
    }
    data["parent-locator"] = loc;
  }
  info.format_specific = nlohmann::json{{"type", "vhdx"}, {"data", data}};
  if (im.log_entries_replayed > 0) {
    info.notes.push_back("the log held " + std::to_string(im.log_entries_replayed) +
                         " entries not yet written to the image; they were replayed in "
                         "memory (the file is unchanged)");
  }
  return info;
}

// One stored range of the file, for the overlap check.
struct Stored {
  uint64_t offset;
  uint64_t length;
  std::string what;
};

Result<CheckReport> Device::Check() const {
  const Image& im = *image_;
  const Geometry& g = im.geometry;
  CheckReport r;
  std::vector<Stored> stored{
      {im.header.log_offset_bytes, im.header.log_length_bytes, "log"},
      {im.regions.bat_offset_bytes, im.regions.bat_length_bytes, "BAT"},
      {im.regions.metadata_offset_bytes, im.regions.metadata_length_bytes, "metadata region"}};
  uint64_t allocated = 0;
  for (uint64_t i = 0; i < g.bat_entries; ++i) {
    IMGFS_ASSIGN_OR_RETURN(uint64_t e, BatEntry(i));
    const bool bitmap = (i + 1) % (g.chunk_ratio + 1) == 0;
    const uint64_t state = e & kBatStateMask;
    const uint64_t host = (e >> kBatOffsetShift) * kMiB;
    const std::string what = bitmap ? "sector bitmap " + std::to_string(i / (g.chunk_ratio + 1))
                                    : "block " + std::to_string(i - i / (g.chunk_ratio + 1));
    if (bitmap ? (state != kNotPresent && state != kFullyPresent)
               : (state == 4 || state == 5 ||
                  (state == kPartiallyPresent && !im.metadata.has_parent))) {
      r.errors.push_back(what + ": invalid state " + std::to_string(state) + " (" +
                         StateName(state) + ")");
      continue;
    }
    if (state != kFullyPresent && state != kPartiallyPresent) {
      continue;
    }
    const uint64_t length = bitmap ? kBitmapBytes : g.block_bytes;
    ++allocated;
    if (host < kHeaderSectionBytes || host >= im.view_size) {
      r.errors.push_back(what + " at " + Hex(host) + " lies outside the file (" +
                         Hex(im.view_size) + " bytes)");
      continue;
    }
    if (!RangeWithin(host, length, im.view_size)) {
      r.warnings.push_back(what + " at " + Hex(host) + " ends past the end of the file");
    }
    stored.push_back({host, length, what});
  }
  std::sort(stored.begin(), stored.end(),
            [](const Stored& a, const Stored& b) { return a.offset < b.offset; });
  for (size_t i = 1; i < stored.size(); ++i) {
    const Stored& a = stored[i - 1];
    if (a.length != 0 && stored[i].offset < a.offset + a.length) {
      r.errors.push_back(a.what + " at " + Hex(a.offset) + " overlaps " + stored[i].what + " at " +
                         Hex(stored[i].offset));
    }
  }
  r.checked.push_back("both headers, region table and metadata");
  r.checked.push_back(std::to_string(g.bat_entries) + " BAT entries (" + std::to_string(allocated) +
                      " stored blocks and bitmaps)");
  if (im.log_entries_replayed > 0) {
    r.warnings.push_back("log holds " + std::to_string(im.log_entries_replayed) +
                         " entries to replay (replayed in memory for reading)");
  }
  return r;
}

}  // namespace

std::unique_ptr<BlockDevice> NewDevice(std::shared_ptr<const Image> image) {
  return std::make_unique<Device>(std::move(image));
}

}  // namespace imgfs::vhdx
