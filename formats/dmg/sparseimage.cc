// SPDX-License-Identifier: MIT
// The UDSP reader (see sparseimage.h).
#include "formats/dmg/sparseimage.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/util/checked.h"
#include "core/util/endian.h"
#include "core/util/hex.h"

namespace imgfs::dmg {
namespace {

constexpr size_t kSignature = 0;  // "sprs"
constexpr size_t kVersion = 4;
constexpr size_t kSectorsPerBand = 8;
constexpr size_t kSectorCount = 16;  // 32-bit in every image seen
constexpr size_t kBandArray = 64;
constexpr size_t kBandSlots = (kSparseHeaderBytes - kBandArray) / 4;
constexpr uint32_t kMagic = 0x73707273;  // "sprs"
constexpr uint64_t kSector = 512;
// hdiutil uses 2048 sectors (1 MiB); larger bands than 1 GiB are hostile.
constexpr uint32_t kMaxSectorsPerBand = 1u << 21;

class Device final : public BlockDevice {
 public:
  Device(std::unique_ptr<File> file, SparseHeader header,
         std::vector<std::pair<uint64_t, uint64_t>> map)
      : file_(std::move(file)),
        header_(std::move(header)),
        band_bytes_(uint64_t{header_.sectors_per_band} * kSector),
        map_(std::move(map)) {}

  uint64_t Size() const override { return header_.sector_count * kSector; }

  Status Read(uint64_t offset, std::span<std::byte> dst) const override {
    IMGFS_RETURN_IF_ERROR(CheckRange(offset, dst.size(), Size()));
    size_t done = 0;
    while (done < dst.size()) {
      const uint64_t pos = offset + done;
      const uint64_t band = pos / band_bytes_;
      const uint64_t in_band = pos % band_bytes_;
      const auto n =
          static_cast<size_t>(std::min<uint64_t>(band_bytes_ - in_band, dst.size() - done));
      std::span<std::byte> part = dst.subspan(done, n);
      const uint64_t at = Locate(band);
      if (at == 0) {
        std::memset(part.data(), 0, n);
      } else {
        // The last band of a file may be stored short: the rest reads as zeros.
        size_t got = 0;
        while (got < n) {
          IMGFS_ASSIGN_OR_RETURN(size_t r, file_->ReadAt(at + in_band + got, part.subspan(got)));
          if (r == 0) {
            std::memset(part.data() + got, 0, n - got);
            break;
          }
          got += r;
        }
      }
      done += n;
    }
    return Status::Ok();
  }

  Status Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const override {
    IMGFS_RETURN_IF_ERROR(CheckRange(offset, length, Size()));
    const uint64_t end = offset + length;
    const size_t first = out->size();
    // At most 4096 bands per call (callers loop), to bound memory.
    uint64_t pos = offset;
    for (int n = 0; pos < end && n < 4096; ++n) {
      const uint64_t band = pos / band_bytes_;
      const uint64_t stop = std::min(end, (band + 1) * band_bytes_);
      Extent e{pos, stop - pos, ExtentKind::kUnallocated, 0, std::nullopt, false};
      if (const uint64_t at = Locate(band); at != 0) {
        e.kind = ExtentKind::kData;
        e.host_offset = at + (pos - band * band_bytes_);
      }
      out->push_back(e);
      pos = stop;
    }
    CoalesceExtents(out, first);
    return Status::Ok();
  }

  ImageInfo Describe() const override {
    ImageInfo info;
    info.format = "sparseimage";
    info.filename = file_->name();
    info.virtual_size = Size();
    auto allocated = file_->AllocatedBytes();
    info.actual_size = allocated.ok() ? *allocated : 0;
    info.cluster_size = band_bytes_;
    size_t stored = 0;
    for (uint32_t b : header_.band_numbers) {
      stored += b != 0;
    }
    nlohmann::json data;
    data["variant"] = "UDSP";
    data["version"] = header_.version;
    data["sector-count"] = header_.sector_count;
    data["band-bytes"] = band_bytes_;
    data["bands-stored"] = stored;
    info.format_specific = nlohmann::json{{"type", "sparseimage"}, {"data", data}};
    return info;
  }

 private:
  std::unique_ptr<File> file_;
  const SparseHeader header_;
  const uint64_t band_bytes_;
  // File offset of a disk band, or 0 when the band was never written.
  uint64_t Locate(uint64_t band) const {
    auto it = std::lower_bound(map_.begin(), map_.end(), std::make_pair(band, uint64_t{0}));
    return it != map_.end() && it->first == band ? it->second : 0;
  }

  const std::vector<std::pair<uint64_t, uint64_t>> map_;  // (disk band, file offset), sorted
};

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
  h.sector_count = LoadBE32(p + kSectorCount);
  const uint64_t bands = DivRoundUp(h.sector_count, h.sectors_per_band);
  std::vector<uint32_t> used;
  for (size_t i = 0; i < kBandSlots; ++i) {
    const uint32_t b = LoadBE32(p + kBandArray + 4 * i);
    h.band_numbers.push_back(b);
    if (b == 0) {
      continue;
    }
    if (b > bands) {
      return CorruptError("sparseimage: band slot " + std::to_string(i) + " names band " +
                          std::to_string(b) + " of a disk with " + std::to_string(bands));
    }
    used.push_back(b);
  }
  std::sort(used.begin(), used.end());
  if (auto dup = std::adjacent_find(used.begin(), used.end()); dup != used.end()) {
    return CorruptError("sparseimage: band " + std::to_string(*dup) + " is stored twice");
  }
  while (!h.band_numbers.empty() && h.band_numbers.back() == 0) {
    h.band_numbers.pop_back();
  }
  return h;
}

std::vector<std::byte> EncodeSparseHeader(const SparseHeader& h) {
  std::vector<std::byte> out(kSparseHeaderBytes);
  StoreBE32(out.data() + kSignature, kMagic);
  StoreBE32(out.data() + kVersion, h.version);
  StoreBE32(out.data() + kSectorsPerBand, h.sectors_per_band);
  StoreBE32(out.data() + 12, 1);  // unknown, always 1 in hdiutil's images
  StoreBE32(out.data() + kSectorCount, static_cast<uint32_t>(h.sector_count));
  for (size_t i = 0; i < h.band_numbers.size() && i < kBandSlots; ++i) {
    StoreBE32(out.data() + kBandArray + 4 * i, h.band_numbers[i]);
  }
  return out;
}

int ProbeSparseImage(const ProbeInput& in) {
  return in.head.size() >= 4 && std::memcmp(in.head.data(), "sprs", 4) == 0 ? 100 : 0;
}

Result<std::unique_ptr<BlockDevice>> OpenSparseImage(std::unique_ptr<File> file, Cache* /*cache*/) {
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file->Size());
  std::vector<std::byte> head(kSparseHeaderBytes);
  if (file_size < kSparseHeaderBytes) {
    return CorruptError("sparseimage: file of " + std::to_string(file_size) +
                        " bytes is shorter than its 4096-byte header");
  }
  IMGFS_RETURN_IF_ERROR(file->ReadExactAt(0, head, "sparseimage: header"));
  IMGFS_ASSIGN_OR_RETURN(SparseHeader h, DecodeSparseHeader(head));
  const uint64_t band_bytes = uint64_t{h.sectors_per_band} * kSector;
  const uint64_t stored_slots = DivRoundUp(file_size - kSparseHeaderBytes, band_bytes);
  if (stored_slots > kBandSlots) {
    return UnsupportedError("sparseimage: file stores " + std::to_string(stored_slots) +
                            " bands but the header maps at most " + std::to_string(kBandSlots) +
                            " (continuation headers are not supported)");
  }
  // Stored bands only (at most 1008), sorted by disk band.
  std::vector<std::pair<uint64_t, uint64_t>> map;
  for (size_t i = 0; i < h.band_numbers.size(); ++i) {
    if (h.band_numbers[i] != 0) {
      map.emplace_back(h.band_numbers[i] - 1, kSparseHeaderBytes + i * band_bytes);
    }
  }
  std::sort(map.begin(), map.end());
  return std::unique_ptr<BlockDevice>(
      std::make_unique<Device>(std::move(file), std::move(h), std::move(map)));
}

}  // namespace imgfs::dmg
