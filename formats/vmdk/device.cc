// SPDX-License-Identifier: MIT
// The vmdk read path (see device.h): Map finds the extent holding a guest
// offset and, in a sparse extent, its grain table entry; the block-map base
// does the rest. Grain tables are loaded through the shared Cache, so the
// device keeps no lock.
#include "formats/vmdk/device.h"

#include <algorithm>
#include <bit>
#include <functional>

#include "core/blockmap/block_map_device.h"
#include "core/blockmap/table_loader.h"
#include "core/chunk/chunk_engine.h"
#include "core/codec/codec.h"
#include "core/util/checked.h"
#include "core/util/endian.h"
#include "core/util/hex.h"
#include "core/util/sector.h"
#include "formats/vmdk/describe.h"
#include "formats/vmdk/sesparse.h"

namespace imgfs::vmdk {
namespace {

// Grain table entries that are not sector numbers.
constexpr uint32_t kGteUnallocated = 0;
constexpr uint32_t kGteZeroed = 1;  // with kFlagZeroGrain
// The locator of a compressed grain: extent index (< kMaxExtents) in the
// top 16 bits, then the sectors from its start to the next grain stored
// after it (0: not known; at most kMaxSpanSectors), then its host sector
// (a 32-bit grain table entry).
constexpr unsigned kLocatorExtentShift = 48;
constexpr unsigned kLocatorSpanShift = 32;
constexpr uint64_t kMaxSpanSectors = 0xffff;
static_assert(kMaxExtents <= (size_t{1} << (64 - kLocatorExtentShift)));
// Deflate may grow data a little; anything far beyond that is hostile.
uint64_t MaxStoredGrainBytes(uint64_t grain_bytes) { return grain_bytes + grain_bytes / 8 + 4096; }

TableSpec GrainTableSpec(const char* what) {
  return TableSpec{"vmdk", what, ByteOrder::kLittle, uint64_t{kMaxGtesPerGt} * 4};
}

TableSpec SeSparseTableSpec(const char* what, uint64_t max_entries) {
  return TableSpec{"vmdk", what, ByteOrder::kLittle, max_entries * 8};
}

// Where a guest offset falls in a sparse extent: its grain, the offset in
// that grain, its grain directory slot, and how many bytes from it (at
// most max_length) stay in that slot's table.
struct GrainSpot {
  uint64_t grain;
  uint64_t in_grain;
  uint64_t gd_index;
  uint64_t limit;
};
GrainSpot Locate(const Extent& e, uint64_t offset, uint64_t max_length) {
  const uint64_t rel = offset - e.first_byte;
  const uint64_t grain_bytes = e.header.grain_bytes();
  const uint64_t grain = rel / grain_bytes;
  const uint64_t gd_index = grain / e.header.gtes_per_gt;
  const uint64_t table_end = (gd_index + 1) * e.header.gtes_per_gt * grain_bytes;
  return GrainSpot{grain, rel % grain_bytes, gd_index, std::min(max_length, table_end - rel)};
}

// Read-around (core/io/read_around.h) for a disk of one uncompressed sparse
// extent, as monolithicSparse is: the first small read of a grain asks the
// host for the 64 KiB around it. Null otherwise.
std::unique_ptr<const ReadAround> ReadAroundFor(const Image& image) {
  if (image.extents.size() != 1 || !image.extents[0].sparse() ||
      image.extents[0].header.compressed()) {
    return nullptr;
  }
  const uint64_t grain = image.extents[0].header.grain_bytes();
  const uint32_t bits = grain == 0 ? 16u : static_cast<uint32_t>(std::bit_width(grain) - 1);
  return ReadAround::ForFile(*image.extents[0].file, std::min(bits, 16u), image.read_around);
}

BlockMapConfig ConfigFor(const Image& image, const ReadAround* read_around) {
  BlockMapConfig c{"vmdk", image.pool};
  c.read_around = read_around;
  c.read_around_file = read_around != nullptr ? image.extents[0].file.get() : nullptr;
  return c;
}

class Device final : public BlockMapDevice, private ChunkSource {
 public:
  explicit Device(std::shared_ptr<const Image> image) : Device(image, ReadAroundFor(*image)) {}
  Device(std::shared_ptr<const Image> image, std::unique_ptr<const ReadAround> read_around)
      : BlockMapDevice(ConfigFor(*image, read_around.get())),
        read_around_(std::move(read_around)),
        image_(std::move(image)),
        size_(image_->size_bytes()),
        cache_id_(image_->cache->NewId()),
        engine_(this, EngineOptions(*image_, cache_id_)) {}
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  ~Device() override {
    engine_.Close();
    image_->cache->EraseDevice(cache_id_);
  }

  uint64_t Size() const override { return size_; }
  ImageInfo Describe() const override { return DescribeImage(*image_); }
  Result<CheckReport> Check() const override { return CheckImage(*image_); }
  const BlockDevice* backing() const override { return image_->backing.get(); }

 protected:
  Result<Mapping> Map(uint64_t offset, uint64_t max_length) const override;
  Status ReadCompressed(const Mapping& m, uint64_t offset, std::span<std::byte> dst) const override;

 private:
  static ChunkEngine::Options EngineOptions(const Image& image, uint64_t cache_id);
  size_t FindExtent(uint64_t offset) const;
  Result<Mapping> MapSparse(size_t index, uint64_t offset, uint64_t max_length) const;
  Result<std::shared_ptr<const Table<uint32_t>>> GrainTable(size_t index, uint64_t gd_index) const;
  Result<Mapping> MapSeSparse(size_t index, uint64_t offset, uint64_t max_length) const;
  Result<Mapping> SeSparseGrain(const Extent& e, uint64_t entry, uint64_t grain) const;
  ChunkInfo Chunk(const Mapping& m) const;
  // ChunkSource:
  Status Decode(const ChunkInfo& chunk, std::span<std::byte> out) const override;
  void ForEachChunkIn(uint64_t from_bytes, uint64_t to_bytes,
                      const std::function<bool(const ChunkInfo&)>& visit) const override;

  std::unique_ptr<const ReadAround> read_around_;  // the config points at it
  std::shared_ptr<const Image> image_;
  const uint64_t size_;
  const uint64_t cache_id_;
  ChunkEngine engine_;  // calls Decode and ForEachChunkIn until closed
};

ChunkEngine::Options Device::EngineOptions(const Image& image, uint64_t cache_id) {
  ChunkEngine::Options options;
  options.cache = image.cache;
  options.pool = image.pool;
  options.cache_id = cache_id;
  for (const Extent& e : image.extents) {
    if (e.file != nullptr && e.header.compressed()) {
      options.max_chunk_bytes = std::max(options.max_chunk_bytes, e.header.grain_bytes());
    }
  }
  return options;
}

size_t Device::FindExtent(uint64_t offset) const {
  const auto& ex = image_->extents;
  auto it = std::upper_bound(ex.begin(), ex.end(), offset,
                             [](uint64_t o, const Extent& e) { return o < e.first_byte; });
  return static_cast<size_t>(it - ex.begin()) - 1;
}

Result<Mapping> Device::Map(uint64_t offset, uint64_t max_length) const {
  const size_t index = FindExtent(offset);
  const Extent& e = image_->extents[index];
  const uint64_t rel = offset - e.first_byte;
  const uint64_t length = std::min(max_length, e.bytes - rel);
  if (e.line.type == ExtentType::kZero) {
    return Mapping{.kind = MapKind::kZero, .length = length};
  }
  if (e.sparse()) {
    return e.header.sesparse ? MapSeSparse(index, offset, length)
                             : MapSparse(index, offset, length);
  }
  return Mapping{.kind = MapKind::kHost,
                 .length = length,
                 .file = e.file.get(),
                 .host_offset = e.flat_offset_bytes + rel};
}

Result<std::shared_ptr<const Table<uint32_t>>> Device::GrainTable(size_t index,
                                                                  uint64_t gd_index) const {
  const Extent& e = image_->extents[index];
  const uint64_t at = uint64_t{e.gd[gd_index]} * kSectorBytes;
  auto table = LoadTable<uint32_t>(
      *e.file, *image_->cache,
      CacheKey{cache_id_, CacheKind::kMapTable, (uint64_t{index} << 40) | gd_index}, at,
      e.header.gtes_per_gt, GrainTableSpec("grain table"));
  if (!table.ok()) {
    return table.status().Annotate("vmdk: extent '" + e.line.filename + "'");
  }
  return table;
}

// One grain table's worth at most: runs of unallocated or zeroed grains,
// or of grains stored back to back, are answered at once.
Result<Mapping> Device::MapSparse(size_t index, uint64_t offset, uint64_t max_length) const {
  const Extent& e = image_->extents[index];
  const SparseHeader& h = e.header;
  const uint64_t grain_bytes = h.grain_bytes();
  const auto [grain, in_grain, gd_index, limit] = Locate(e, offset, max_length);
  if (gd_index >= e.gd.size() || e.gd[gd_index] == 0) {
    return Mapping{.kind = MapKind::kUnallocated, .length = limit};
  }
  IMGFS_ASSIGN_OR_RETURN(auto table, GrainTable(index, gd_index));
  const std::vector<uint32_t>& gt = table->words;
  auto classify = [&](uint32_t entry) {
    if (entry == kGteUnallocated) {
      return MapKind::kUnallocated;
    }
    if (entry == kGteZeroed && h.zero_grain()) {
      return MapKind::kZero;
    }
    return h.compressed() ? MapKind::kCompressed : MapKind::kHost;
  };
  size_t slot = static_cast<size_t>(grain % h.gtes_per_gt);
  const uint32_t first = gt[slot];
  Mapping m{.kind = classify(first), .length = std::min(limit, grain_bytes - in_grain)};
  if (m.kind == MapKind::kCompressed) {
    m.file = e.file.get();
    m.host_offset = uint64_t{first} * kSectorBytes;
    // Writers store grains one after the other: the next entry, when it
    // lies further on, bounds this grain (marker, data and padding), so
    // Decode reads it in one go and read-ahead prefetches no more.
    const uint32_t next = slot + 1 < gt.size() ? gt[slot + 1] : 0;
    const uint64_t cap = MaxStoredGrainBytes(grain_bytes) + kGrainMarkerBytes;
    m.stored_bytes = next > first && classify(next) == MapKind::kCompressed
                         ? std::min(cap, uint64_t{next - first} * kSectorBytes)
                         : cap;
    m.unit_offset = offset - in_grain;
    m.driver_data = index;
    return m;
  }
  if (m.kind == MapKind::kHost) {
    m.file = e.file.get();
    m.host_offset = uint64_t{first} * kSectorBytes + in_grain;
  }
  for (uint32_t prev = first; m.length < limit && ++slot < gt.size(); prev = gt[slot]) {
    const uint32_t next = gt[slot];
    const bool same =
        classify(next) == m.kind &&
        (m.kind != MapKind::kHost || uint64_t{next} == uint64_t{prev} + h.grain_sectors);
    if (!same) {
      break;
    }
    m.length = std::min(limit, m.length + grain_bytes);
  }
  return m;
}

// One grain of a seSparse extent, from its table entry: its kind and, when
// allocated, where it is stored (length and offsets for the whole grain).
Result<Mapping> Device::SeSparseGrain(const Extent& e, uint64_t entry, uint64_t grain) const {
  auto g = DecodeSeSparseGte(entry);
  if (!g.ok()) {
    return g.status().Annotate("vmdk: extent '" + e.line.filename + "' grain " +
                               std::to_string(grain));
  }
  const uint64_t grain_bytes = e.header.grain_bytes();
  switch (g->kind) {
    case SeGrainKind::kUnallocated:
      return Mapping{.kind = MapKind::kUnallocated, .length = grain_bytes};
    case SeGrainKind::kUnmapped:  // as QEMU reads it: zeros, not the parent's data
    case SeGrainKind::kZero:
      return Mapping{.kind = MapKind::kZero, .length = grain_bytes};
    case SeGrainKind::kAllocated:
      break;
  }
  const auto rel = CheckedMul(g->cluster, grain_bytes);
  const auto at = rel ? CheckedAdd(e.header.grains_sector * kSectorBytes, *rel) : std::nullopt;
  if (!at || *at >= e.file_bytes) {
    return CorruptError("vmdk: extent '" + e.line.filename + "' grain " + std::to_string(grain) +
                        " is stored as cluster " + std::to_string(g->cluster) +
                        ", past the end of the file (size " + Hex(e.file_bytes) + ")");
  }
  return Mapping{
      .kind = MapKind::kHost, .length = grain_bytes, .file = e.file.get(), .host_offset = *at};
}

// As MapSparse, over 64-bit entries: one grain table's worth at most; a
// damaged directory or table entry fails the read that meets it.
Result<Mapping> Device::MapSeSparse(size_t index, uint64_t offset, uint64_t max_length) const {
  const Extent& e = image_->extents[index];
  const SparseHeader& h = e.header;
  const uint64_t grain_bytes = h.grain_bytes();
  const auto [grain, in_grain, gd_index, limit] = Locate(e, offset, max_length);
  if (gd_index >= e.se_gd.size()) {
    return Mapping{.kind = MapKind::kUnallocated, .length = limit};
  }
  auto gt_index = DecodeSeSparseGde(e.se_gd[gd_index]);
  if (!gt_index.ok()) {
    return gt_index.status().Annotate("vmdk: extent '" + e.line.filename + "'");
  }
  if (!*gt_index) {
    return Mapping{.kind = MapKind::kUnallocated, .length = limit};
  }
  // gts_sector < 2^54 and the index < 2^32: no overflow.
  const uint64_t gt_at =
      h.gts_sector * kSectorBytes + **gt_index * kSeSparseGtSectors * kSectorBytes;
  auto table = LoadTable<uint64_t>(
      *e.file, *image_->cache,
      CacheKey{cache_id_, CacheKind::kMapTable, (uint64_t{index} << 40) | **gt_index}, gt_at,
      h.gtes_per_gt, SeSparseTableSpec("seSparse grain table", kSeSparseGtesPerGt));
  if (!table.ok()) {
    return table.status().Annotate("vmdk: extent '" + e.line.filename + "'");
  }
  const std::vector<uint64_t>& gt = (*table)->words;
  size_t slot = static_cast<size_t>(grain % h.gtes_per_gt);
  IMGFS_ASSIGN_OR_RETURN(Mapping m, SeSparseGrain(e, gt[slot], grain));
  m.length = std::min(limit, grain_bytes - in_grain);
  m.host_offset += m.kind == MapKind::kHost ? in_grain : 0;
  uint64_t next_host = m.kind == MapKind::kHost ? m.host_offset - in_grain + grain_bytes : 0;
  while (m.length < limit && ++slot < gt.size()) {
    auto next = SeSparseGrain(e, gt[slot], grain + (slot - grain % h.gtes_per_gt));
    if (!next.ok() || next->kind != m.kind ||
        (m.kind == MapKind::kHost && next->host_offset != next_host)) {
      break;  // a bad entry is reported by the Map call that starts at it
    }
    next_host += grain_bytes;
    m.length = std::min(limit, m.length + grain_bytes);
  }
  return m;
}

ChunkInfo Device::Chunk(const Mapping& m) const {
  const Extent& e = image_->extents[m.driver_data];
  const uint64_t end = std::min(m.unit_offset + e.header.grain_bytes(), e.first_byte + e.bytes);
  const uint64_t span = std::min(kMaxSpanSectors, m.stored_bytes / kSectorBytes);
  return ChunkInfo{.index = m.unit_offset / kSectorBytes,
                   .first_byte = m.unit_offset,
                   .decoded_bytes = end - m.unit_offset,
                   .locator = (m.driver_data << kLocatorExtentShift) | (span << kLocatorSpanShift) |
                              (m.host_offset / kSectorBytes)};
}

Status Device::ReadCompressed(const Mapping& m, uint64_t offset, std::span<std::byte> dst) const {
  const ChunkPiece piece{Chunk(m), offset - m.unit_offset, dst};
  return engine_.Read(offset, dst.size(), std::span(&piece, 1));
}

// One read of the grain's marker and data (up to the span Chunk found,
// else the grain cap), and a second only when the marker says the data
// runs further.
Status Device::Decode(const ChunkInfo& chunk, std::span<std::byte> out) const {
  const auto index = static_cast<size_t>(chunk.locator >> kLocatorExtentShift);
  const Extent& e = image_->extents[index];
  const uint64_t at = (chunk.locator & 0xffffffff) * kSectorBytes;
  const uint64_t span = ((chunk.locator >> kLocatorSpanShift) & kMaxSpanSectors) * kSectorBytes;
  // Built only for an error: Decode is on the read path.
  const auto where = [&] {
    return "vmdk: compressed grain at guest " + Hex(chunk.first_byte) + " (stored at " + Hex(at) +
           " of '" + e.line.filename + "')";
  };
  const uint64_t file_size = e.file_bytes;  // read-only: as when opened
  const uint64_t marker_bytes = e.header.markers() ? kGrainMarkerBytes : 0;
  if (at >= file_size || file_size - at < marker_bytes) {
    return CorruptError(where() + ": grain lies past the end of the file");
  }
  const uint64_t cap = MaxStoredGrainBytes(e.header.grain_bytes());
  const uint64_t room = std::min(marker_bytes + cap, file_size - at);
  const uint64_t first_read = span >= marker_bytes + 1 ? std::min(room, span) : room;
  ChunkInputBuffer buffer(static_cast<size_t>(room));
  std::span<std::byte> all = buffer.bytes();
  IMGFS_RETURN_IF_ERROR(e.file->ReadExactAt(at, all.first(static_cast<size_t>(first_read)),
                                            "vmdk: compressed grain"));
  uint64_t stored = room - marker_bytes;  // no marker: the stream's own end stops the codec
  if (marker_bytes != 0) {
    const uint64_t lba = LoadLE64(all.data());
    stored = LoadLE32(all.data() + 8);
    if (lba * kSectorBytes != chunk.first_byte - e.first_byte) {
      return CorruptError(where() + ": marker names guest sector " + std::to_string(lba));
    }
    if (stored == 0 || stored > cap || stored > room - marker_bytes) {
      return CorruptError(where() + ": marker says " + std::to_string(stored) +
                          " stored bytes, beyond the grain cap or the file");
    }
    if (marker_bytes + stored > first_read) {  // the span was short: read the rest
      IMGFS_RETURN_IF_ERROR(
          e.file->ReadExactAt(at + first_read,
                              all.subspan(static_cast<size_t>(first_read),
                                          static_cast<size_t>(marker_bytes + stored - first_read)),
                              "vmdk: compressed grain"));
    }
  } else {
    stored = first_read;
  }
  std::span<const std::byte> in =
      all.subspan(static_cast<size_t>(marker_bytes), static_cast<size_t>(stored));
  // A disk whose size is not a whole number of grains ends in a partial
  // grain; writers store it whole or cut, so only its prefix is asked for.
  Status s = out.size() == e.header.grain_bytes()
                 ? codec::Decompress(codec::Codec::kZlib, in, out)
                 : codec::DecompressPrefix(codec::Codec::kZlib, in, out);
  if (!s.ok()) {
    return s.Annotate(where());
  }
  return Status::Ok();
}

void Device::ForEachChunkIn(uint64_t from_bytes, uint64_t to_bytes,
                            const std::function<bool(const ChunkInfo&)>& visit) const {
  to_bytes = std::min(to_bytes, size_);
  for (uint64_t at = from_bytes; at < to_bytes;) {
    auto m = Map(at, to_bytes - at);
    if (!m.ok()) {
      return;
    }
    if (m->kind == MapKind::kCompressed) {
      if (m->unit_offset == at && !visit(Chunk(*m))) {
        return;
      }
      at = Chunk(*m).first_byte + Chunk(*m).decoded_bytes;
      continue;
    }
    at += m->length;
  }
}

}  // namespace

uint64_t Image::size_bytes() const {
  return extents.empty() ? 0 : extents.back().first_byte + extents.back().bytes;
}

namespace {

// The seSparse part of LoadSparseExtent: `head` holds the file's first
// bytes (up to 2048).
Status LoadSeSparseExtent(Extent* e, std::span<const std::byte> head) {
  const std::string name = "vmdk: extent '" + e->line.filename + "'";
  auto decoded = DecodeSeSparseHeader(head);
  if (!decoded.ok()) {
    return decoded.status().Annotate(name);
  }
  const SeSparseHeader& h = *decoded;
  const uint64_t volatile_at = h.volatile_sector * kSectorBytes;
  if (!RangeWithin(volatile_at, kSeSparseHeaderBytes, e->file_bytes)) {
    return CorruptError(name + ": seSparse volatile header at " + Hex(volatile_at) +
                        " lies past the end of the file (size " + Hex(e->file_bytes) + ")");
  }
  std::byte vol[kSeSparseHeaderBytes];
  IMGFS_RETURN_IF_ERROR(e->file->ReadExactAt(volatile_at, vol, "vmdk: seSparse volatile header"));
  if (Status s = CheckSeSparseVolatileHeader(vol); !s.ok()) {
    return s.Annotate(name);
  }
  e->header = AsSparseHeader(h);
  const uint64_t entries = std::min<uint64_t>(
      h.gd_entries_needed(), DivRoundUp(e->bytes / kSectorBytes, e->header.gt_coverage_sectors()));
  if (entries == 0) {
    return Status::Ok();
  }
  auto gd = ReadTable<uint64_t>(*e->file, h.gd_sector * kSectorBytes, entries,
                                SeSparseTableSpec("seSparse grain directory", kMaxGdEntries));
  if (!gd.ok()) {
    return gd.status().Annotate(name);
  }
  e->se_gd = std::move(*gd);
  return Status::Ok();
}

}  // namespace

Status LoadSparseExtent(Extent* e) {
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, e->file->Size());
  e->file_bytes = file_size;
  std::byte head[kCowdHeaderBytes] = {};
  const auto head_bytes = static_cast<size_t>(std::min<uint64_t>(file_size, kCowdHeaderBytes));
  IMGFS_RETURN_IF_ERROR(
      e->file->ReadExactAt(0, std::span(head, head_bytes), "vmdk: sparse header"));
  // A SESPARSE line's file is read as seSparse whatever it starts with, so
  // a damaged magic is reported as such; other lines go by the magic.
  if (e->line.type == ExtentType::kSeSparse || IsSeSparseMagic(std::span(head, head_bytes))) {
    return LoadSeSparseExtent(e, std::span(head, head_bytes));
  }
  if (file_size < kSparseHeaderBytes) {
    return CorruptError("vmdk: extent '" + e->line.filename + "' of " + std::to_string(file_size) +
                        " bytes is shorter than a sparse header");
  }
  if (LoadLE32(head) == kCowdMagic) {
    if (file_size < kCowdHeaderBytes) {
      return CorruptError("vmdk: extent '" + e->line.filename + "' is shorter than a COWD header");
    }
    IMGFS_ASSIGN_OR_RETURN(e->header, DecodeCowdHeader(head));
  } else {
    IMGFS_ASSIGN_OR_RETURN(e->header, DecodeSparseHeader(std::span(head, kSparseHeaderBytes)));
  }
  if (e->header.gd_sector == kGdAtEnd) {
    // streamOptimized written front to back: the footer (a header copy
    // with the real directory offset) sits before the end-of-stream marker.
    if (!e->header.markers() || file_size < 3 * kSparseHeaderBytes) {
      return CorruptError("vmdk: extent '" + e->line.filename +
                          "' has its grain directory at the end but no footer");
    }
    IMGFS_RETURN_IF_ERROR(e->file->ReadExactAt(
        file_size - 2 * kSparseHeaderBytes, std::span(head, kSparseHeaderBytes), "vmdk: footer"));
    auto footer = DecodeSparseHeader(std::span(head, kSparseHeaderBytes));
    if (!footer.ok()) {
      return footer.status().Annotate("vmdk: extent '" + e->line.filename + "' footer");
    }
    if (footer->gd_sector == kGdAtEnd) {
      return CorruptError("vmdk: extent '" + e->line.filename +
                          "' footer has its grain directory at the end too");
    }
    e->header = *footer;
  }
  const SparseHeader& h = e->header;
  const uint64_t entries = std::min<uint64_t>(
      h.gd_entries(), DivRoundUp(e->bytes / kSectorBytes, h.gt_coverage_sectors()));
  if (entries == 0) {
    return Status::Ok();
  }
  const uint64_t gd_sector = h.gd_sector != 0 ? h.gd_sector : h.rgd_sector;
  if (gd_sector == 0 || gd_sector > kMaxCapacitySectors) {
    return CorruptError("vmdk: extent '" + e->line.filename + "' has no grain directory");
  }
  auto gd = ReadTable<uint32_t>(
      *e->file, gd_sector * kSectorBytes, entries,
      TableSpec{"vmdk", "grain directory", ByteOrder::kLittle, kMaxGdEntries * 4});
  if (!gd.ok()) {
    return gd.status().Annotate("vmdk: extent '" + e->line.filename + "'");
  }
  e->gd = std::move(*gd);
  return Status::Ok();
}

std::unique_ptr<BlockDevice> NewDevice(std::shared_ptr<const Image> image) {
  return std::make_unique<Device>(std::move(image));
}

}  // namespace imgfs::vmdk
