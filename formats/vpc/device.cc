// SPDX-License-Identifier: MIT
// The VHD device: the block map of fixed, dynamic and differencing disks
// and what `info` shows (see device.h).
#include "formats/vpc/device.h"

#include <algorithm>
#include <utility>

#include "core/blockmap/block_map_device.h"
#include "core/blockmap/table_loader.h"
#include "core/util/hex.h"
#include "core/util/sector.h"
#include "core/util/utf8.h"

namespace imgfs::vpc {
namespace {

// A block's bitmap: one bit per sector, most significant bit first, which
// is also the order of big-endian 32-bit words.
constexpr TableSpec kBitmapSpec{"vpc", "sector bitmap", ByteOrder::kBig,
                                uint64_t{1} << 20};  // 2^31-byte blocks need 512 KiB

const char* TypeName(DiskType t) {
  switch (t) {
    case DiskType::kFixed:
      return "fixed";
    case DiskType::kDynamic:
      return "dynamic";
    case DiskType::kDifferencing:
      return "differencing";
  }
  return "unknown";
}

class Device final : public BlockMapDevice {
 public:
  explicit Device(std::unique_ptr<Image> image)
      : BlockMapDevice(BlockMapConfig{"vpc", image->pool, nullptr, nullptr, 0}),
        image_(std::move(image)) {}

  uint64_t Size() const override { return image_->size.bytes; }
  const BlockDevice* backing() const override { return image_->parent.get(); }
  ImageInfo Describe() const override;
  Result<CheckReport> Check() const override { return CheckImage(*image_); }

 protected:
  Result<Mapping> Map(uint64_t offset, uint64_t max_length) const override;

 private:
  // The part of [in_block, in_block + length) of block `block` whose first
  // sector has the same bitmap bit as the one at in_block.
  Result<Mapping> MapByBitmap(uint64_t block, uint32_t entry, uint64_t in_block,
                              uint64_t length) const;

  std::unique_ptr<Image> image_;
};

Result<Mapping> Device::Map(uint64_t offset, uint64_t max_length) const {
  const Image& im = *image_;
  if (im.type == DiskType::kFixed) {
    return Mapping{MapKind::kHost, max_length, im.file.get(), offset, 0, 0, 0};
  }
  const uint32_t block_bytes = im.header.block_bytes;
  const uint64_t block = offset / block_bytes;
  const uint64_t in_block = offset % block_bytes;
  const uint64_t length = std::min(max_length, block_bytes - in_block);
  const uint32_t entry = block < im.bat.size() ? im.bat[block] : kUnallocatedBlock;
  if (entry == kUnallocatedBlock) {
    // A dynamic disk's unwritten block reads as zeros and `qemu-img map`
    // calls it present and zero; a differencing disk's is its parent's.
    const MapKind kind = im.type == DiskType::kDynamic ? MapKind::kZero : MapKind::kUnallocated;
    return Mapping{kind, length, nullptr, 0, 0, 0, 0};
  }
  const uint64_t data = BlockDataOffset(entry, block_bytes);
  if (data + block_bytes > im.file_size) {
    return CorruptError("vpc: block " + std::to_string(block) + " at " +
                        Hex(uint64_t{entry} * 512) + " (BAT entry " + std::to_string(block) +
                        ") extends past the end of the file (size " + Hex(im.file_size) + ")");
  }
  if (im.type == DiskType::kDynamic) {
    return Mapping{MapKind::kHost, length, im.file.get(), data + in_block, 0, 0, 0};
  }
  return MapByBitmap(block, entry, in_block, length);
}

Result<Mapping> Device::MapByBitmap(uint64_t block, uint32_t entry, uint64_t in_block,
                                    uint64_t length) const {
  const Image& im = *image_;
  const uint64_t words = BitmapBytes(im.header.block_bytes) / 4;
  IMGFS_ASSIGN_OR_RETURN(
      auto bitmap,
      LoadTable<uint32_t>(*im.file, *im.cache, CacheKey{im.cache_id, CacheKind::kMapTable, block},
                          uint64_t{entry} * 512, words, kBitmapSpec));
  auto bit = [&](uint64_t sector) {
    return (bitmap->words[sector / 32] >> (31 - sector % 32)) & 1;
  };
  const uint64_t end = in_block + length;
  const uint64_t first = in_block / kSectorBytes;
  const uint32_t own = bit(first);
  uint64_t s = first + 1;
  while (s * kSectorBytes < end && bit(s) == own) {
    ++s;
  }
  const uint64_t run = std::min(s * kSectorBytes, end) - in_block;
  if (own == 0) {
    return Mapping{MapKind::kUnallocated, run, nullptr, 0, 0, 0, 0};
  }
  return Mapping{MapKind::kHost,
                 run,
                 im.file.get(),
                 BlockDataOffset(entry, im.header.block_bytes) + in_block,
                 0,
                 0,
                 0};
}

nlohmann::json LocatorsJson(const std::vector<LocatorPath>& locators) {
  nlohmann::json out = nlohmann::json::array();
  for (const LocatorPath& l : locators) {
    out.push_back({{"platform", FourCcText(l.platform_code)},
                   {"offset", l.data_offset},
                   {"path", Utf8Safe(l.text)}});
  }
  return out;
}

ImageInfo Device::Describe() const {
  const Image& im = *image_;
  const Footer& f = im.footer;
  ImageInfo info = FileImageInfo("vpc", *im.file, Size());
  nlohmann::json data;
  data["subformat"] = TypeName(im.type);
  data["creator-app"] = FourCcText(f.creator_app);
  data["creator-version"] = Hex(f.creator_version);
  data["creator-os"] = FourCcText(f.creator_os);
  data["current-size"] = f.current_size;
  data["original-size"] = f.original_size;
  data["geometry"] = {
      {"cylinders", f.cylinders}, {"heads", f.heads}, {"sectors-per-track", f.sectors_per_track}};
  data["size-rule"] = im.size.from_geometry ? "chs" : "current-size";
  data["size-rule-reason"] = im.size.reason;
  data["unique-id"] = UniqueIdText(f.unique_id);
  data["saved-state"] = f.saved_state != 0;
  data["footer"] = im.footer_source == FooterSource::kTail ? "end of file" : "copy at offset 0";
  if (im.type != DiskType::kFixed) {
    // QEMU shows the block size as the cluster size of growable disks.
    info.cluster_size = im.header.block_bytes;
    data["block-size"] = im.header.block_bytes;
    data["bat-offset"] = im.header.table_offset;
    data["max-table-entries"] = im.header.max_table_entries;
    data["blocks-allocated"] = std::count_if(im.bat.begin(), im.bat.end(),
                                             [](uint32_t e) { return e != kUnallocatedBlock; });
  }
  if (im.type == DiskType::kDifferencing) {
    info.backing_filename = Utf8Safe(im.parent_ref);
    info.full_backing_filename = Utf8Safe(im.full_parent_path);
    data["parent-unique-id"] = UniqueIdText(im.header.parent_unique_id);
    data["parent-name"] = im.header.parent_name;
    data["parent-locators"] = LocatorsJson(im.locators);
  }
  if (im.footer_source == FooterSource::kHead) {
    info.notes.push_back("vpc: " + im.tail_problem + "; read the footer copy at offset 0");
  }
  if (!f.checksum_ok) {
    info.notes.push_back("vpc: footer checksum does not match (QEMU reads such images too)");
  }
  info.format_specific = nlohmann::json{{"type", "vpc"}, {"data", data}};
  return info;
}

}  // namespace

std::unique_ptr<BlockDevice> NewDevice(std::unique_ptr<Image> image) {
  return std::make_unique<Device>(std::move(image));
}

}  // namespace imgfs::vpc
