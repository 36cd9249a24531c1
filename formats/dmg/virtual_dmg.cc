// SPDX-License-Identifier: MIT
// File layout of the view: [data fork: every raw chunk's sectors, in disk
// order][XML plist][koly]. Koly and mish fields follow writer.cc except the
// checksums (type 0, see virtual_dmg.h).
#include "formats/dmg/virtual_dmg.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/util/checked.h"
#include "core/util/hex.h"
#include "formats/dmg/driver.h"
#include "formats/dmg/layout.h"
#include "formats/dmg/plist_writer.h"
#include "formats/dmg/udif.h"
#include "formats/dmg/writer.h"

namespace imgfs::dmg {
namespace {

// A stretch of the data fork that is a stretch of the source.
struct Segment {
  uint64_t fork_offset = 0;
  uint64_t source_offset = 0;
  uint64_t length = 0;
};

class VirtualDmgDevice final : public BlockDevice {
 public:
  VirtualDmgDevice(std::unique_ptr<BlockDevice> source, std::vector<Segment> segments,
                   uint64_t fork_bytes, std::vector<std::byte> trailer, std::string note)
      : source_(std::move(source)),
        segments_(std::move(segments)),
        fork_bytes_(fork_bytes),
        trailer_(std::move(trailer)),
        note_(std::move(note)) {}

  uint64_t Size() const override { return fork_bytes_ + trailer_.size(); }

  Status Read(uint64_t offset, std::span<std::byte> dst) const override {
    IMGFS_RETURN_IF_ERROR(CheckRange(offset, dst.size(), Size()));
    while (!dst.empty()) {
      size_t n = 0;
      if (offset >= fork_bytes_) {
        n = dst.size();
        std::memcpy(dst.data(), trailer_.data() + (offset - fork_bytes_), n);
      } else {
        // The last segment whose fork_offset <= offset; segments cover the
        // data fork without gaps.
        auto it =
            std::upper_bound(segments_.begin(), segments_.end(), offset,
                             [](uint64_t off, const Segment& s) { return off < s.fork_offset; });
        const Segment& seg = *(it - 1);
        uint64_t within = offset - seg.fork_offset;
        n = static_cast<size_t>(std::min<uint64_t>(dst.size(), seg.length - within));
        Status s = ReadOrZero(source_.get(), seg.source_offset + within, dst.first(n));
        if (!s.ok()) {
          return s.Annotate("dmg view: cannot read source at " + Hex(seg.source_offset + within));
        }
      }
      offset += n;
      dst = dst.subspan(n);
    }
    return Status::Ok();
  }

  Status Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const override {
    IMGFS_RETURN_IF_ERROR(CheckRange(offset, length, Size()));
    out->push_back({offset, length, ExtentKind::kData, 0, std::nullopt, false});
    return Status::Ok();
  }

  ImageInfo Describe() const override {
    ImageInfo info;
    info.format = "dmg";
    info.virtual_size = Size();
    info.notes.push_back(note_);
    return info;
  }

 private:
  std::unique_ptr<BlockDevice> source_;
  std::vector<Segment> segments_;  // sorted by fork_offset, contiguous
  uint64_t fork_bytes_;
  std::vector<std::byte> trailer_;  // plist then koly
  std::string note_;
};

// Builds the chunk table of one region, extending the data fork.
class Planner {
 public:
  explicit Planner(uint64_t chunk_sectors) : chunk_sectors_(chunk_sectors) {}

  Status AddRegion(const BlockDevice& dev, const BlkxRegion& region) {
    BlkxTable t;
    t.first_sector = region.first_sector;
    t.sector_count = region.sector_count;
    t.buffers_needed = BuffersNeeded(std::nullopt, chunk_sectors_);  // raw chunks only
    t.block_descriptors = region.descriptor;
    IMGFS_RETURN_IF_ERROR(
        ForEachPiece(dev, region, chunk_sectors_, false, [&](const SectorRun& piece) {
          const uint64_t rel = piece.first_sector - region.first_sector;
          if (piece.data) {
            const uint64_t bytes = piece.sector_count * kSectorBytes;
            t.chunks.push_back({ChunkType::kRaw, 0, rel, piece.sector_count, fork_bytes_, bytes});
            AddSegment(piece.first_sector * kSectorBytes, bytes);
            return Status::Ok();
          }
          AppendZeroChunks(region, chunk_sectors_, rel, piece.sector_count, fork_bytes_, &t.chunks);
          return Status::Ok();
        }));
    t.chunks.push_back({ChunkType::kTerminator, 0, region.sector_count, 0, 0, 0});
    mish_.push_back(EncodeBlkx(t));
    return Status::Ok();
  }

  uint64_t fork_bytes() const { return fork_bytes_; }
  std::vector<Segment> TakeSegments() { return std::move(segments_); }
  const std::vector<std::vector<std::byte>>& mish() const { return mish_; }

 private:
  void AddSegment(uint64_t source_offset, uint64_t length) {
    if (!segments_.empty()) {
      Segment& last = segments_.back();
      if (last.source_offset + last.length == source_offset &&
          last.fork_offset + last.length == fork_bytes_) {
        last.length += length;
        fork_bytes_ += length;
        return;
      }
    }
    segments_.push_back({fork_bytes_, source_offset, length});
    fork_bytes_ += length;
  }

  const uint64_t chunk_sectors_;
  uint64_t fork_bytes_ = 0;
  std::vector<Segment> segments_;
  std::vector<std::vector<std::byte>> mish_;
};

}  // namespace

Result<std::unique_ptr<BlockDevice>> NewVirtualDmg(std::unique_ptr<BlockDevice> source,
                                                   const VirtualDmgOptions& options) {
  if (options.chunk_sectors == 0 || options.chunk_sectors > kMaxChunkSectors) {
    return InvalidArgumentError("dmg view: chunk size must be 1 to " +
                                std::to_string(kMaxChunkSectors) + " sectors");
  }
  IMGFS_ASSIGN_OR_RETURN(DiskLayout layout, PlanDeviceLayout(*source));
  Planner planner(options.chunk_sectors);
  for (const BlkxRegion& region : layout.regions) {
    IMGFS_RETURN_IF_ERROR(planner.AddRegion(*source, region));
  }
  std::vector<PlistBlkx> entries;
  for (size_t i = 0; i < layout.regions.size(); ++i) {
    entries.push_back({layout.regions[i].name, layout.regions[i].id, 0x0050, planner.mish()[i]});
  }
  std::string plist = EmitUdifPlist(entries);
  // As in writer.cc, an empty data fork becomes one unreferenced zero
  // sector (for dmg2img); it is served from the trailer buffer.
  const uint64_t pad = planner.fork_bytes() == 0 ? kSectorBytes : 0;
  Koly koly;
  koly.flags = 1;  // flattened, as writer.cc
  koly.data_fork_length = planner.fork_bytes() + pad;
  koly.segment_number = 0;  // segment fields as writer.cc
  koly.segment_count = 0;
  koly.xml_offset = koly.data_fork_length;
  koly.xml_length = plist.size();
  koly.image_variant = layout.image_variant;
  koly.sector_count = layout.sector_count;
  std::vector<std::byte> trailer(pad + plist.size() + kKolyBytes);
  std::memcpy(trailer.data() + pad, plist.data(), plist.size());
  auto encoded = EncodeKoly(koly);
  std::memcpy(trailer.data() + pad + plist.size(), encoded.data(), encoded.size());
  std::string note =
      "UDIF view computed on the fly: raw chunks for data, zero-fill and ignore chunks for "
      "holes, " +
      std::to_string(layout.regions.size()) + " blkx, no checksums";
  if (layout.sector_count * kSectorBytes != layout.size_bytes) {
    note += "; the last sector is padded with zeros";
  }
  const uint64_t fork = planner.fork_bytes();
  return std::unique_ptr<BlockDevice>(std::make_unique<VirtualDmgDevice>(
      std::move(source), planner.TakeSegments(), fork, std::move(trailer), std::move(note)));
}

namespace {

Result<std::unique_ptr<BlockDevice>> MakeView(std::unique_ptr<BlockDevice> source) {
  return NewVirtualDmg(std::move(source));
}

constexpr VirtualView kView = {
    "a UDIF image (raw chunks for data, zero-fill\n"
    "and ignore chunks for holes, one blkx per\n"
    "partition; no checksums)\n",
    &MakeView,
};

}  // namespace

const VirtualView& VirtualDmgView() { return kView; }

}  // namespace imgfs::dmg
