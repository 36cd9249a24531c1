// SPDX-License-Identifier: MIT
// The UDIF read path (see device.h): the composed chunk map over the
// compressed-chunk engine (core/chunk/chunk_engine.h), which does the
// caching, single-flight inflation and read-ahead. The image and the map
// are immutable and File reads are positional, so the device itself takes
// no lock.
#include "formats/dmg/device.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "core/chunk/chunk_engine.h"
#include "core/util/checked.h"
#include "core/util/hex.h"
#include "formats/dmg/codec.h"
#include "formats/dmg/describe.h"

namespace imgfs::dmg {
namespace {

// Extents reported per call, to bound memory (callers loop).
constexpr size_t kMaxExtentChunks = 4096;

Status MapTable(const UdifImage& image, uint32_t index, std::vector<MappedChunk>* out) {
  const BlkxEntry& e = image.entries[index];
  const BlkxTable& t = e.table;
  const std::string where = "dmg: blkx entry " + std::to_string(index) + " '" + e.name + "'";
  for (size_t i = 0; i < t.chunks.size(); ++i) {
    const Chunk& c = t.chunks[i];
    if (c.type == ChunkType::kComment || c.type == ChunkType::kTerminator || c.sector_count == 0) {
      continue;
    }
    MappedChunk m;
    m.type = c.type;
    m.table = index;
    m.first_sector = t.first_sector + c.sector_number;  // DecodeBlkx bounded both
    m.sector_count = c.sector_count;
    m.length = c.compressed_length;
    if (!IsZero(c.type)) {
      auto off = CheckedAdd(image.data_fork_offset, t.data_offset);
      off = off ? CheckedAdd(*off, c.compressed_offset) : off;
      if (!off || !RangeWithin(*off, c.compressed_length, image.file_size)) {
        return CorruptError(where + " chunk " + std::to_string(i) + " data at " +
                            Hex(c.compressed_offset) + " (" + std::to_string(c.compressed_length) +
                            " bytes) leaves the " +
                            (image.segments.empty() ? "file" : "segments' data forks") + " (size " +
                            Hex(image.file_size) + ")");
      }
      m.file_offset = *off;
    }
    if (c.type == ChunkType::kRaw && c.compressed_length < c.sector_count * kSectorBytes) {
      return CorruptError(where + " raw chunk " + std::to_string(i) + " stores " +
                          std::to_string(c.compressed_length) + " bytes for " +
                          std::to_string(c.sector_count) + " sectors");
    }
    if (IsCompressed(c.type) &&
        (c.sector_count > kMaxChunkSectors || c.compressed_length > kMaxCompressedBytes)) {
      return CorruptError(where + " chunk " + std::to_string(i) + " of " +
                          std::to_string(c.sector_count) + " sectors (" +
                          std::to_string(c.compressed_length) +
                          " bytes stored) exceeds the chunk cap of " +
                          std::to_string(kMaxChunkSectors) + " sectors");
    }
    out->push_back(m);
  }
  return Status::Ok();
}

std::string TableName(const UdifImage& image, uint32_t table) {
  return table == MappedChunk::kNoTable ? std::string("(gap)")
                                        : "'" + image.entries[table].name + "'";
}

// Chunk numbers are indexes into the composed map; the engine sees only
// the compressed ones.
class Device final : public BlockDevice, private ChunkSource {
 public:
  Device(std::shared_ptr<const UdifImage> image, std::vector<MappedChunk> chunks,
         uint64_t sector_count, Cache* cache, ThreadPool* pool)
      : image_(std::move(image)),
        chunks_(std::move(chunks)),
        size_(sector_count * kSectorBytes),
        cache_(cache),
        cache_id_(cache->NewId()),
        engine_(this, EngineOptions(chunks_, cache, pool, cache_id_)) {}
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  // Waits for the pool tasks that are inflating; queued ones do nothing.
  ~Device() override {
    engine_.Close();
    cache_->EraseDevice(cache_id_);
  }

  uint64_t Size() const override { return size_; }
  Status Read(uint64_t offset, std::span<std::byte> dst) const override;
  Status Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const override;
  ImageInfo Describe() const override;
  Result<CheckReport> Check() const override { return CheckUdif(*image_, chunks_, *this); }

 private:
  static ChunkEngine::Options EngineOptions(const std::vector<MappedChunk>& chunks, Cache* cache,
                                            ThreadPool* pool, uint64_t cache_id);
  size_t FindChunk(uint64_t sector) const;
  ChunkInfo Info(size_t index) const;
  Status ReadStored(size_t index, uint64_t in_chunk, std::span<std::byte> dst) const;
  // ChunkSource:
  Status Decode(const ChunkInfo& chunk, std::span<std::byte> out) const override;
  void ForEachChunkIn(uint64_t from_bytes, uint64_t to_bytes,
                      const std::function<bool(const ChunkInfo&)>& visit) const override;

  std::shared_ptr<const UdifImage> image_;
  const std::vector<MappedChunk> chunks_;  // sorted, contiguous from sector 0
  const uint64_t size_;
  Cache* const cache_;
  const uint64_t cache_id_;
  ChunkEngine engine_;  // calls Decode and ForEachChunkIn until closed
};

// Read-ahead is sized by the largest compressed chunk (none: no read-ahead).
ChunkEngine::Options Device::EngineOptions(const std::vector<MappedChunk>& chunks, Cache* cache,
                                           ThreadPool* pool, uint64_t cache_id) {
  ChunkEngine::Options options;
  options.cache = cache;
  options.pool = pool;
  options.cache_id = cache_id;
  for (const MappedChunk& c : chunks) {
    if (IsCompressed(c.type)) {
      options.max_chunk_bytes = std::max(options.max_chunk_bytes, c.sector_count * kSectorBytes);
    }
  }
  return options;
}

// The chunk holding `sector`. REQUIRES: sector < size_ / 512.
size_t Device::FindChunk(uint64_t sector) const {
  auto it = std::upper_bound(chunks_.begin(), chunks_.end(), sector,
                             [](uint64_t s, const MappedChunk& c) { return s < c.first_sector; });
  return static_cast<size_t>(it - chunks_.begin()) - 1;
}

ChunkInfo Device::Info(size_t index) const {
  const MappedChunk& c = chunks_[index];
  return ChunkInfo{.index = index,
                   .first_byte = c.first_sector * kSectorBytes,
                   .decoded_bytes = c.sector_count * kSectorBytes};
}

Status Device::Decode(const ChunkInfo& chunk, std::span<std::byte> out) const {
  const MappedChunk& c = chunks_[static_cast<size_t>(chunk.index)];
  ChunkInputBuffer in(static_cast<size_t>(c.length));
  std::span<std::byte> in_span = in.bytes();
  IMGFS_RETURN_IF_ERROR(image_->file->ReadExactAt(c.file_offset, in_span, "dmg: chunk"));
  Status s = DecompressChunk(c.type, in_span, out);
  if (!s.ok()) {
    return s.Annotate("dmg: " + std::string(ChunkTypeName(c.type)) + " chunk at sector " +
                      std::to_string(c.first_sector) + " (data at " + Hex(c.file_offset) + ")");
  }
  return Status::Ok();
}

void Device::ForEachChunkIn(uint64_t from_bytes, uint64_t to_bytes,
                            const std::function<bool(const ChunkInfo&)>& visit) const {
  if (from_bytes >= size_) {
    return;
  }
  size_t index = FindChunk(from_bytes / kSectorBytes);
  if (chunks_[index].first_sector * kSectorBytes < from_bytes) {
    ++index;
  }
  for (; index < chunks_.size(); ++index) {
    const MappedChunk& c = chunks_[index];
    if (c.first_sector * kSectorBytes >= to_bytes) {
      return;
    }
    if (IsCompressed(c.type) && !visit(Info(index))) {
      return;
    }
  }
}

// A piece of a zero-fill or raw chunk (compressed ones go to the engine).
Status Device::ReadStored(size_t index, uint64_t in_chunk, std::span<std::byte> dst) const {
  const MappedChunk& c = chunks_[index];
  if (IsZero(c.type)) {
    std::memset(dst.data(), 0, dst.size());
    return Status::Ok();
  }
  return image_->file->ReadExactAt(c.file_offset + in_chunk, dst, "dmg: raw chunk");
}

Status Device::Read(uint64_t offset, std::span<std::byte> dst) const {
  IMGFS_RETURN_IF_ERROR(CheckRange(offset, dst.size(), size_));
  if (dst.empty()) {
    return Status::Ok();
  }
  std::vector<ChunkPiece> compressed;
  size_t done = 0;
  size_t index = FindChunk(offset / kSectorBytes);
  while (done < dst.size()) {
    const MappedChunk& c = chunks_[index];
    const uint64_t in_chunk = offset + done - c.first_sector * kSectorBytes;
    const uint64_t n =
        std::min<uint64_t>(c.sector_count * kSectorBytes - in_chunk, dst.size() - done);
    std::span<std::byte> part = dst.subspan(done, static_cast<size_t>(n));
    if (IsCompressed(c.type)) {
      compressed.push_back(ChunkPiece{Info(index), in_chunk, part});
    } else {
      IMGFS_RETURN_IF_ERROR(ReadStored(index, in_chunk, part));
    }
    done += static_cast<size_t>(n);
    ++index;
  }
  return engine_.Read(offset, dst.size(), compressed);
}

Status Device::Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const {
  IMGFS_RETURN_IF_ERROR(CheckRange(offset, length, size_));
  if (length == 0) {
    return InvalidArgumentError("dmg: extent query of zero length");
  }
  const uint64_t end = offset + length;
  size_t index = FindChunk(offset / kSectorBytes);
  uint64_t pos = offset;
  const size_t first = out->size();
  for (size_t n = 0; pos < end && n < kMaxExtentChunks; ++n, ++index) {
    const MappedChunk& c = chunks_[index];
    const uint64_t chunk_end = (c.first_sector + c.sector_count) * kSectorBytes;
    const uint64_t stop = std::min(end, chunk_end);
    Extent e{pos, stop - pos, ExtentKind::kData, 0, std::nullopt, false};
    if (IsZero(c.type)) {
      e.kind = ExtentKind::kZero;
    } else if (c.type == ChunkType::kRaw) {
      // A segmented image's offsets are in no one host file: no host_offset.
      if (image_->segments.empty()) {
        e.host_offset = c.file_offset + (pos - c.first_sector * kSectorBytes);
      }
    } else {
      e.compressed = true;
    }
    out->push_back(e);
    pos = stop;
  }
  CoalesceExtents(out, first);
  return Status::Ok();
}

ImageInfo Device::Describe() const {
  ImageInfo info = FileImageInfo("dmg", *image_->file, size_);
  info.format_specific = DescribeUdif(*image_);
  return info;
}

}  // namespace

Result<std::vector<MappedChunk>> ComposeChunks(const UdifImage& image) {
  std::vector<MappedChunk> mapped;
  for (size_t i = 0; i < image.entries.size(); ++i) {
    IMGFS_RETURN_IF_ERROR(MapTable(image, static_cast<uint32_t>(i), &mapped));
  }
  std::stable_sort(mapped.begin(), mapped.end(), [](const MappedChunk& a, const MappedChunk& b) {
    return a.first_sector < b.first_sector;
  });
  // Contiguous from sector 0: gaps become ignore chunks (read as zeros);
  // an overlap makes reads ambiguous and is refused.
  std::vector<MappedChunk> out;
  out.reserve(mapped.size());
  uint64_t next = 0;
  for (const MappedChunk& m : mapped) {
    if (m.first_sector < next) {
      const MappedChunk& prev = out.back();
      return CorruptError("dmg: chunk at sector " + std::to_string(m.first_sector) + " of blkx " +
                          TableName(image, m.table) + " overlaps the chunk at sector " +
                          std::to_string(prev.first_sector) + " of blkx " +
                          TableName(image, prev.table));
    }
    if (m.first_sector > next) {
      MappedChunk gap;
      gap.type = ChunkType::kIgnore;
      gap.first_sector = next;
      gap.sector_count = m.first_sector - next;
      out.push_back(gap);
    }
    out.push_back(m);
    next = m.first_sector + m.sector_count;
  }
  if (image.koly.sector_count > next) {
    MappedChunk gap;
    gap.type = ChunkType::kIgnore;
    gap.first_sector = next;
    gap.sector_count = image.koly.sector_count - next;
    out.push_back(gap);
  }
  return out;
}

Result<std::unique_ptr<BlockDevice>> NewUdifDevice(std::shared_ptr<const UdifImage> image,
                                                   Cache* cache, ThreadPool* pool) {
  IMGFS_ASSIGN_OR_RETURN(std::vector<MappedChunk> chunks, ComposeChunks(*image));
  const uint64_t sectors =
      chunks.empty() ? 0 : chunks.back().first_sector + chunks.back().sector_count;
  return std::unique_ptr<BlockDevice>(
      std::make_unique<Device>(std::move(image), std::move(chunks), sectors, cache, pool));
}

}  // namespace imgfs::dmg
