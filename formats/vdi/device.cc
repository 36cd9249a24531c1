// SPDX-License-Identifier: MIT
// The VDI read path: guest offset -> block map entry (a 64 KiB piece of the
// map, through the shared Cache) -> stored block, zeros or the parent. No
// lock: the Image is immutable, map pieces live in the Cache and File reads
// are positional. Check() walks the whole map the same way.
#include "formats/vdi/device.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "core/blockmap/block_map_device.h"
#include "core/blockmap/table_loader.h"
#include "core/util/hex.h"

namespace imgfs::vdi {
namespace {

// Findings listed one by one by Check(); the rest are counted.
constexpr size_t kMaxListedFindings = 50;

const TableSpec kMapSpec{"vdi", "block map", ByteOrder::kLittle,
                         uint64_t{kMapChunkEntries} * sizeof(uint32_t)};

BlockMapConfig ConfigFor(const Image& image, const ReadAround* read_around) {
  BlockMapConfig c;
  c.format = "vdi";
  c.pool = image.pool;
  c.read_around = read_around;
  c.read_around_file = image.file.get();
  // One Extents call stays inside one piece of the map.
  c.extents_window_bits = static_cast<uint32_t>(std::countr_zero(image.header.block_bytes)) +
                          static_cast<uint32_t>(std::countr_zero(kMapChunkEntries));
  return c;
}

class Device final : public BlockMapDevice {
 public:
  Device(Image image, std::unique_ptr<const ReadAround> read_around)
      : BlockMapDevice(ConfigFor(image, read_around.get())),
        image_(std::move(image)),
        read_around_(std::move(read_around)),
        block_bits_(static_cast<uint32_t>(std::countr_zero(image_.header.block_bytes))),
        cache_id_(image_.cache->NewId()) {}
  ~Device() override { image_.cache->EraseDevice(cache_id_); }

  uint64_t Size() const override { return image_.header.disk_bytes; }
  ImageInfo Describe() const override;
  const BlockDevice* backing() const override { return image_.parent.get(); }
  Result<CheckReport> Check() const override;

 protected:
  Result<Mapping> Map(uint64_t offset, uint64_t max_length) const override;

 private:
  // The map piece holding entry `chunk * kMapChunkEntries` onwards.
  Result<std::shared_ptr<const Table<uint32_t>>> LoadChunk(uint64_t chunk) const;
  // What block `block` with map entry `entry` maps to, for a run starting
  // `in_block` bytes into it. kCorrupt when the stored block lies past the
  // end of the file.
  Result<Mapping> Classify(uint64_t block, uint32_t entry, uint64_t in_block) const;

  const Image image_;
  const std::unique_ptr<const ReadAround> read_around_;
  const uint32_t block_bits_;
  const uint64_t cache_id_;
};

Result<std::shared_ptr<const Table<uint32_t>>> Device::LoadChunk(uint64_t chunk) const {
  const Header& h = image_.header;
  const uint64_t first = chunk * kMapChunkEntries;
  const uint64_t entries = std::min<uint64_t>(kMapChunkEntries, h.blocks_in_image - first);
  return LoadTable<uint32_t>(*image_.file, *image_.cache,
                             CacheKey{cache_id_, CacheKind::kMapTable, chunk},
                             h.map_offset + first * sizeof(uint32_t), entries, kMapSpec);
}

Result<Mapping> Device::Classify(uint64_t block, uint32_t entry, uint64_t in_block) const {
  Mapping m;
  if (entry == kBlockZero) {
    m.kind = MapKind::kZero;
  } else if (entry == kBlockFree) {
    // A base image has nothing below it: never-written blocks are zeros (as
    // qemu reports them). In a differencing image they are the parent's.
    m.kind = image_.header.has_parent() ? MapKind::kUnallocated : MapKind::kZero;
  } else {
    const uint64_t host = image_.header.BlockHostOffset(entry);
    if (host >= image_.file_size) {
      return CorruptError("vdi: block " + std::to_string(block) + " is stored block " +
                          std::to_string(entry) + " at " + Hex(host) + ", past end of file (size " +
                          Hex(image_.file_size) + ")");
    }
    m.kind = MapKind::kHost;
    m.file = image_.file.get();
    m.host_offset = host + in_block;
  }
  return m;
}

// A run ends at the map piece's end, at a change of kind and, for stored
// blocks, where the next block is not stored right after this one.
Result<Mapping> Device::Map(uint64_t offset, uint64_t max_length) const {
  const uint64_t block = offset >> block_bits_;
  const uint64_t chunk = block / kMapChunkEntries;
  IMGFS_ASSIGN_OR_RETURN(std::shared_ptr<const Table<uint32_t>> table, LoadChunk(chunk));
  const uint64_t first_block = chunk * kMapChunkEntries;
  const uint64_t block_mask = (uint64_t{1} << block_bits_) - 1;
  IMGFS_ASSIGN_OR_RETURN(Mapping m,
                         Classify(block, table->words[block - first_block], offset & block_mask));
  const uint64_t limit = offset + max_length;
  const uint64_t table_end = (first_block + table->words.size()) << block_bits_;
  uint64_t pos = (block + 1) << block_bits_;
  while (pos < limit && pos < table_end) {
    const uint64_t next_block = pos >> block_bits_;
    IMGFS_ASSIGN_OR_RETURN(Mapping next,
                           Classify(next_block, table->words[next_block - first_block], 0));
    if (next.kind != m.kind ||
        (m.kind == MapKind::kHost && next.host_offset != m.host_offset + (pos - offset))) {
      break;
    }
    pos += uint64_t{1} << block_bits_;
  }
  m.length = std::min(pos, limit) - offset;
  return m;
}

ImageInfo Device::Describe() const {
  const Header& h = image_.header;
  ImageInfo info = FileImageInfo("vdi", *image_.file, Size());
  info.cluster_size = h.block_bytes;
  if (!image_.parent_name.empty()) {
    info.backing_filename = image_.parent_name;
    info.full_backing_filename = image_.parent_full_name;
    info.backing_format = "vdi";
  }
  // qemu-img shows no format-specific data for vdi; these are VirtualBox's
  // own header fields, so that a differencing image's parent can be told.
  nlohmann::json data;
  data["image-type"] = ImageTypeName(h.type);
  data["version"] = std::to_string(h.major()) + "." + std::to_string(h.minor());
  data["uuid"] = FormatUuid(h.uuid);
  data["modification-uuid"] = FormatUuid(h.modification_uuid);
  if (h.has_parent()) {
    data["parent-uuid"] = FormatUuid(h.parent_uuid);
    data["parent-modification-uuid"] = FormatUuid(h.parent_modification_uuid);
  }
  data["blocks"] = h.blocks_in_image;
  data["blocks-allocated"] = h.blocks_allocated;
  if (h.block_extra_bytes != 0) {
    data["block-extra"] = h.block_extra_bytes;
  }
  if (!h.comment.empty()) {
    data["comment"] = h.comment;
  }
  info.format_specific = nlohmann::json{{"type", "vdi"}, {"data", data}};
  info.notes = image_.notes;
  if (h.disk_bytes != h.disk_bytes_stored) {
    info.notes.push_back("vdi: disk size " + std::to_string(h.disk_bytes_stored) +
                         " rounded up to a whole sector, as qemu does");
  }
  return info;
}

// What qemu-img check verifies for vdi, plus stored blocks past the end of
// the file: every stored block index below blocks_allocated and used once,
// and blocks_allocated equal to the number of stored blocks.
Result<CheckReport> Device::Check() const {
  const Header& h = image_.header;
  CheckReport report;
  size_t findings = 0;
  auto error = [&](std::string message) {
    if (++findings <= kMaxListedFindings) {
      report.errors.push_back(std::move(message));
    }
  };
  // Stored blocks that fit in the file; one bit each. The file bounds the
  // bitmap, whatever the header claims.
  const uint64_t in_file =
      image_.file_size > h.data_offset
          ? (image_.file_size - h.data_offset + h.block_stride() - 1) / h.block_stride()
          : 0;
  std::vector<bool> used(static_cast<size_t>(std::min<uint64_t>(h.blocks_allocated, in_file)));
  uint64_t stored = 0;
  for (uint64_t chunk = 0; chunk * kMapChunkEntries < h.blocks_in_image; ++chunk) {
    IMGFS_ASSIGN_OR_RETURN(std::shared_ptr<const Table<uint32_t>> table, LoadChunk(chunk));
    for (size_t i = 0; i < table->words.size(); ++i) {
      const uint32_t entry = table->words[i];
      const uint64_t block = chunk * kMapChunkEntries + i;
      if (entry == kBlockFree || entry == kBlockZero) {
        continue;
      }
      ++stored;
      if (entry >= h.blocks_allocated) {
        error("vdi: block " + std::to_string(block) + " is stored block " + std::to_string(entry) +
              ", beyond the " + std::to_string(h.blocks_allocated) + " allocated");
      } else if (entry >= used.size()) {
        error("vdi: block " + std::to_string(block) + " is stored at " +
              Hex(h.BlockHostOffset(entry)) + ", past end of file (size " + Hex(image_.file_size) +
              ")");
      } else if (used[entry]) {
        error("vdi: stored block " + std::to_string(entry) + " is used twice (again by block " +
              std::to_string(block) + ")");
      } else {
        used[entry] = true;
      }
    }
  }
  if (stored != h.blocks_allocated) {
    error("vdi: header says " + std::to_string(h.blocks_allocated) +
          " blocks are allocated, the block map stores " + std::to_string(stored));
  }
  if (findings > kMaxListedFindings) {
    report.errors.push_back("vdi: " + std::to_string(findings - kMaxListedFindings) +
                            " more errors not listed");
  }
  report.checked.push_back("vdi: block map of " + std::to_string(h.blocks_in_image) + " entries");
  return report;
}

}  // namespace

std::unique_ptr<BlockDevice> NewDevice(Image image) {
  auto read_around = ReadAround::ForFile(
      *image.file, std::min(static_cast<uint32_t>(std::countr_zero(image.header.block_bytes)), 16u),
      image.read_around);
  return std::make_unique<Device>(std::move(image), std::move(read_around));
}

}  // namespace imgfs::vdi
