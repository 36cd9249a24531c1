// SPDX-License-Identifier: MIT
// The UDSP reader (see sparseimage.h).
#include "formats/dmg/sparseimage.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "core/blockmap/block_map_device.h"
#include "core/util/checked.h"
#include "core/util/endian.h"
#include "core/util/hex.h"
#include "core/util/sector.h"

namespace imgfs::dmg {
namespace {

// The header.
constexpr size_t kSignature = 0;  // "sprs"
constexpr size_t kVersion = 4;
constexpr size_t kSectorsPerBand = 8;
constexpr size_t kSectorCount32 = 16;  // the low 32 bits of kSectorCount64
constexpr size_t kNextNode = 20;
constexpr size_t kSectorCount64 = 28;  // 0 in some images: then the 32-bit one counts
constexpr size_t kBandArray = 64;
constexpr size_t kBandSlots = (kSparseHeaderBytes - kBandArray) / 4;  // 1008
// An index node.
constexpr size_t kNodeNumber = 4;
constexpr size_t kNodeNext = 12;
constexpr size_t kNodeBandArray = 56;
constexpr size_t kNodeBandSlots = (kSparseHeaderBytes - kNodeBandArray) / 4;  // 1010

constexpr uint32_t kMagic = 0x73707273;  // "sprs"
// hdiutil uses 2048 sectors (1 MiB); larger bands than 1 GiB are hostile.
constexpr uint32_t kMaxSectorsPerBand = 1u << 21;
// 8 EiB: keeps every byte offset of the disk inside uint64_t.
constexpr uint64_t kMaxSectorCount = uint64_t{1} << 54;

// Reads `slots` big-endian band numbers at `p`, each 0 or 1..disk_bands.
Result<std::vector<uint32_t>> DecodeBandSlots(const std::byte* p, size_t slots, uint64_t disk_bands,
                                              const std::string& where) {
  std::vector<uint32_t> out;
  out.reserve(slots);
  for (size_t i = 0; i < slots; ++i) {
    const uint32_t b = LoadBE32(p + 4 * i);
    if (b > disk_bands) {
      return CorruptError("sparseimage: " + where + " band slot " + std::to_string(i) +
                          " names band " + std::to_string(b) + " of a disk with " +
                          std::to_string(disk_bands));
    }
    out.push_back(b);
  }
  while (!out.empty() && out.back() == 0) {
    out.pop_back();
  }
  return out;
}

// The first disk band that `slots` (of any number of nodes) stores twice.
std::optional<uint32_t> StoredTwice(std::vector<uint32_t> used) {
  std::erase(used, 0u);
  std::sort(used.begin(), used.end());
  if (auto dup = std::adjacent_find(used.begin(), used.end()); dup != used.end()) {
    return *dup;
  }
  return std::nullopt;
}

// Bands map to host bytes or to nothing; the shared block-map base does the
// reading (a short last band reads as zeros) and the extents.
class Device final : public BlockMapDevice {
 public:
  Device(std::unique_ptr<File> file, SparseHeader header, size_t index_nodes,
         std::vector<std::pair<uint64_t, uint64_t>> map)
      : BlockMapDevice(BlockMapConfig{"sparseimage"}),
        file_(std::move(file)),
        header_(std::move(header)),
        index_nodes_(index_nodes),
        band_bytes_(uint64_t{header_.sectors_per_band} * kSectorBytes),
        map_(std::move(map)) {}

  uint64_t Size() const override { return header_.sector_count * kSectorBytes; }
  ImageInfo Describe() const override;

 protected:
  Result<Mapping> Map(uint64_t offset, uint64_t max_length) const override {
    const uint64_t band = offset / band_bytes_;
    const uint64_t in_band = offset % band_bytes_;
    const uint64_t length = std::min(max_length, band_bytes_ - in_band);
    if (const uint64_t at = Locate(band); at != 0) {
      return Mapping{MapKind::kHost, length, file_.get(), at + in_band, 0, 0, 0};
    }
    return Mapping{MapKind::kUnallocated, length, nullptr, 0, 0, 0, 0};
  }

 private:
  // File offset of a disk band, or 0 when the band was never written.
  uint64_t Locate(uint64_t band) const {
    auto it = std::lower_bound(map_.begin(), map_.end(), std::make_pair(band, uint64_t{0}));
    return it != map_.end() && it->first == band ? it->second : 0;
  }

  std::unique_ptr<File> file_;
  const SparseHeader header_;
  const size_t index_nodes_;  // besides the header
  const uint64_t band_bytes_;
  const std::vector<std::pair<uint64_t, uint64_t>> map_;  // (disk band, file offset), sorted
};

ImageInfo Device::Describe() const {
  ImageInfo info = FileImageInfo("sparseimage", *file_, Size());
  info.cluster_size = band_bytes_;
  nlohmann::json data;
  data["variant"] = "UDSP";
  data["version"] = header_.version;
  data["sector-count"] = header_.sector_count;
  data["band-bytes"] = band_bytes_;
  data["bands-stored"] = map_.size();
  data["index-nodes"] = index_nodes_;
  info.format_specific = nlohmann::json{{"type", "sparseimage"}, {"data", data}};
  return info;
}

}  // namespace

Result<SparseHeader> DecodeSparseHeader(std::span<const std::byte> bytes) {
  if (bytes.size() < kSparseHeaderBytes) {
    return CorruptError("sparseimage: header is truncated (" + std::to_string(bytes.size()) +
                        " bytes, need 4096)");
  }
  const std::byte* p = bytes.data();
  if (LoadBE32(p + kSignature) != kMagic) {
    return CorruptError("sparseimage: header at 0x0 has no 'sprs' signature");
  }
  SparseHeader h;
  h.version = LoadBE32(p + kVersion);
  h.sectors_per_band = LoadBE32(p + kSectorsPerBand);
  if (h.sectors_per_band == 0 || h.sectors_per_band > kMaxSectorsPerBand) {
    return CorruptError("sparseimage: header at 0x8 has " + std::to_string(h.sectors_per_band) +
                        " sectors per band (1.." + std::to_string(kMaxSectorsPerBand) + ")");
  }
  const uint32_t low = LoadBE32(p + kSectorCount32);
  const uint64_t wide = LoadBE64(p + kSectorCount64);
  if (wide != 0 && static_cast<uint32_t>(wide) != low) {
    return CorruptError("sparseimage: header sector counts disagree (" + std::to_string(wide) +
                        " at 0x1c, " + std::to_string(low) + " at 0x10)");
  }
  h.sector_count = wide != 0 ? wide : low;
  if (h.sector_count > kMaxSectorCount) {
    return CorruptError("sparseimage: header at 0x1c has an absurd sector count " +
                        std::to_string(h.sector_count));
  }
  h.next_node = LoadBE64(p + kNextNode);
  const uint64_t bands = DivRoundUp(h.sector_count, h.sectors_per_band);
  IMGFS_ASSIGN_OR_RETURN(h.band_numbers,
                         DecodeBandSlots(p + kBandArray, kBandSlots, bands, "header"));
  if (auto dup = StoredTwice(h.band_numbers)) {
    return CorruptError("sparseimage: band " + std::to_string(*dup) + " is stored twice");
  }
  return h;
}

Result<SparseIndexNode> DecodeSparseIndexNode(std::span<const std::byte> bytes,
                                              uint64_t disk_bands) {
  if (bytes.size() < kSparseHeaderBytes) {
    return CorruptError("sparseimage: index node is truncated (" + std::to_string(bytes.size()) +
                        " bytes, need 4096)");
  }
  // The first word is not checked: the readers this follows disagree on it.
  const std::byte* p = bytes.data();
  SparseIndexNode node;
  node.number = LoadBE32(p + kNodeNumber);
  node.next_node = LoadBE64(p + kNodeNext);
  IMGFS_ASSIGN_OR_RETURN(node.band_numbers, DecodeBandSlots(p + kNodeBandArray, kNodeBandSlots,
                                                            disk_bands, "index node"));
  return node;
}

std::vector<std::byte> EncodeSparseHeader(const SparseHeader& h) {
  std::vector<std::byte> out(kSparseHeaderBytes);
  StoreBE32(out.data() + kSignature, kMagic);
  StoreBE32(out.data() + kVersion, h.version);
  StoreBE32(out.data() + kSectorsPerBand, h.sectors_per_band);
  StoreBE32(out.data() + 12, 1);  // unknown, always 1 in hdiutil's images
  StoreBE32(out.data() + kSectorCount32, static_cast<uint32_t>(h.sector_count));
  StoreBE64(out.data() + kNextNode, h.next_node);
  StoreBE64(out.data() + kSectorCount64, h.sector_count);
  for (size_t i = 0; i < h.band_numbers.size() && i < kBandSlots; ++i) {
    StoreBE32(out.data() + kBandArray + 4 * i, h.band_numbers[i]);
  }
  return out;
}

std::vector<std::byte> EncodeSparseIndexNode(const SparseIndexNode& node) {
  std::vector<std::byte> out(kSparseHeaderBytes);
  StoreBE32(out.data() + kSignature, kMagic);
  StoreBE32(out.data() + kNodeNumber, node.number);
  StoreBE32(out.data() + 8, 1);  // flags, as in the header
  StoreBE64(out.data() + kNodeNext, node.next_node);
  for (size_t i = 0; i < node.band_numbers.size() && i < kNodeBandSlots; ++i) {
    StoreBE32(out.data() + kNodeBandArray + 4 * i, node.band_numbers[i]);
  }
  return out;
}

int ProbeSparseImage(const ProbeInput& in) {
  return in.head.size() >= 4 && std::memcmp(in.head.data(), "sprs", 4) == 0 ? 100 : 0;
}

Result<std::unique_ptr<BlockDevice>> OpenSparseImage(std::unique_ptr<File> file, Cache* /*cache*/) {
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file->Size());
  std::vector<std::byte> node_bytes(kSparseHeaderBytes);
  if (file_size < kSparseHeaderBytes) {
    return CorruptError("sparseimage: file of " + std::to_string(file_size) +
                        " bytes is shorter than its 4096-byte header");
  }
  IMGFS_RETURN_IF_ERROR(file->ReadExactAt(0, node_bytes, "sparseimage: header"));
  IMGFS_ASSIGN_OR_RETURN(SparseHeader h, DecodeSparseHeader(node_bytes));
  const uint64_t band_bytes = uint64_t{h.sectors_per_band} * kSectorBytes;
  const uint64_t disk_bands = DivRoundUp(h.sector_count, h.sectors_per_band);

  // (disk band, file offset) of every stored band. A band must start inside
  // the file (the last one may be short) and end before the next node, so
  // the map never holds more entries than the file has bands.
  std::vector<std::pair<uint64_t, uint64_t>> map;
  std::vector<uint32_t> all_slots;
  auto add_bands = [&](const std::vector<uint32_t>& slots, uint64_t base, uint64_t next,
                       const std::string& where) -> Status {
    for (size_t i = 0; i < slots.size(); ++i) {
      if (slots[i] == 0) {
        continue;
      }
      const uint64_t at = base + i * band_bytes;  // < 2^63: base <= file size, i < 1010
      if (at >= file_size || (next != 0 && at + band_bytes > next)) {
        return CorruptError("sparseimage: " + where + " stores band " + std::to_string(slots[i]) +
                            " at " + Hex(at) +
                            (at >= file_size ? ", past the end of the file"
                                             : ", over the index node at " + Hex(next)));
      }
      map.emplace_back(slots[i] - 1, at);
    }
    all_slots.insert(all_slots.end(), slots.begin(), slots.end());
    return Status::Ok();
  };
  IMGFS_RETURN_IF_ERROR(add_bands(h.band_numbers, kSparseHeaderBytes, h.next_node, "header"));
  // Index nodes: each one past the last (so the chain ends), inside the file.
  uint64_t floor = kSparseHeaderBytes;
  size_t nodes = 0;
  for (uint64_t at = h.next_node; at != 0;) {
    if (at < floor || !RangeWithin(at, kSparseHeaderBytes, file_size)) {
      return CorruptError(
          "sparseimage: index node " + std::to_string(nodes) + " at " + Hex(at) +
          (at < floor ? " does not follow the one before it" : " lies past the end of the file"));
    }
    IMGFS_RETURN_IF_ERROR(file->ReadExactAt(at, node_bytes, "sparseimage: index node"));
    IMGFS_ASSIGN_OR_RETURN(SparseIndexNode node, DecodeSparseIndexNode(node_bytes, disk_bands));
    IMGFS_RETURN_IF_ERROR(add_bands(node.band_numbers, at + kSparseHeaderBytes, node.next_node,
                                    "index node at " + Hex(at)));
    floor = at + kSparseHeaderBytes;
    at = node.next_node;
    ++nodes;
  }
  if (auto dup = StoredTwice(std::move(all_slots))) {
    return CorruptError("sparseimage: band " + std::to_string(*dup) + " is stored twice");
  }
  std::sort(map.begin(), map.end());
  return std::unique_ptr<BlockDevice>(
      std::make_unique<Device>(std::move(file), std::move(h), nodes, std::move(map)));
}

}  // namespace imgfs::dmg
