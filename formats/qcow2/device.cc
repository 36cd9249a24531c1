// SPDX-License-Identifier: MIT
// The qcow2 read path: guest offset -> L1 -> L2 (through the shared Cache)
// -> data, zero, compressed or backing. No lock on the read path: the Image
// is immutable, tables and decompressed clusters live in the Cache, and
// File reads are positional.
#include "formats/qcow2/device.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>

#include "core/util/checked.h"
#include "core/util/hex.h"
#include "formats/qcow2/bitmaps.h"
#include "formats/qcow2/decompress.h"

namespace imgfs::qcow2 {
namespace {

// A run of guest bytes with one mapping: contiguous host bytes for kData,
// part of one cluster for kCompressed.
struct Run {
  UnitKind kind = UnitKind::kUnallocated;
  uint64_t length = 0;
  uint64_t host_offset = 0;       // kData: host byte of the run's first byte
  uint64_t compressed_bytes = 0;  // kCompressed: extent of the stream
};

// A large read is cut into pieces that run in parallel on the pool: each
// compressed cluster is one piece (it inflates straight into the caller's
// buffer), host runs are cut every kHostPieceBytes so that several host
// reads are in flight, and small neighbours are merged up to that size.
// Reads smaller than kParallelMinBytes (random 4 KiB reads) stay on the
// calling thread and pay nothing for this.
constexpr size_t kParallelMinBytes = size_t{128} << 10;
constexpr uint64_t kHostPieceBytes = uint64_t{256} << 10;
constexpr uint64_t kMinPieceBytes = uint64_t{64} << 10;

// Sequential read-ahead: reads of at least kReadAheadMinBytes that start
// within kSequentialSlackBytes of where the previous one ended (FUSE workers
// may answer a stream slightly out of order) ask the host to read the next
// kReadAheadBytes of the image file in the background. The data lands in the
// host page cache, never in our Cache, so a streaming pass cannot evict
// metadata; the window is topped up once a quarter of it has been consumed.
constexpr uint64_t kReadAheadMinBytes = uint64_t{64} << 10;
constexpr uint64_t kReadAheadBytes = uint64_t{8} << 20;
constexpr uint64_t kSequentialSlackBytes = uint64_t{4} << 20;
// Compressed streams closer than this are prefetched as one host range.
constexpr uint64_t kPrefetchGapBytes = uint64_t{4} << 10;

// Guest bytes [offset, offset + length) read as one unit of parallel work.
struct Piece {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Appends a piece, merging it into the previous one while that is small.
void AddPiece(std::vector<Piece>* pieces, uint64_t offset, uint64_t length) {
  if (!pieces->empty()) {
    Piece& last = pieces->back();
    if (last.length < kMinPieceBytes && last.length + length <= kHostPieceBytes) {
      last.length += length;
      return;
    }
  }
  pieces->push_back(Piece{offset, length});
}

// A host byte range to prefetch.
struct HostRange {
  const File* file = nullptr;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Adds [offset, offset + length) of `file` to `ranges`, extending the last
// range when the new one follows it closely.
void AddHostRange(std::vector<HostRange>* ranges, const File* file, uint64_t offset,
                  uint64_t length) {
  if (!ranges->empty()) {
    HostRange& last = ranges->back();
    uint64_t last_end = last.offset + last.length;
    if (last.file == file && offset >= last.offset && offset <= last_end + kPrefetchGapBytes) {
      last.length = std::max(last_end, offset + length) - last.offset;
      return;
    }
  }
  ranges->push_back(HostRange{file, offset, length});
}

// A decompressed cluster as the Cache holds it: the whole cluster, or only
// its first `valid` bytes after a prefix inflate. Never value-initialised.
struct DecompressedCluster {
  std::unique_ptr<std::byte[]> bytes;
  size_t valid = 0;
};

// Small reads of zlib clusters inflate only the prefix they need when that
// is at most this fraction of the cluster (1/kPrefixInflateDivisor): zlib
// stops early but runs at half libdeflate's speed, so half a cluster is the
// break-even (docs/BENCHMARKS.md, "Prefix inflate"). Reads that continue
// where a recent one ended are streams and inflate whole clusters at once,
// so that a small-block sequential reader never inflates a cluster twice.
constexpr size_t kPrefixInflateDivisor = 2;
constexpr size_t kRecentEnds = 4;

// Reads host bytes; bytes past the end of the file read as zeros, as in
// QEMU (external data files may end inside the last cluster).
Status ReadHost(const File& file, uint64_t offset, std::span<std::byte> dst) {
  size_t done = 0;
  while (done < dst.size()) {
    IMGFS_ASSIGN_OR_RETURN(size_t n, file.ReadAt(offset + done, dst.subspan(done)));
    if (n == 0) {
      std::memset(dst.data() + done, 0, dst.size() - done);
      break;
    }
    done += n;
  }
  return Status::Ok();
}

class Device final : public BlockDevice {
 public:
  Device(std::shared_ptr<const Image> image, std::vector<uint64_t> l1, uint64_t size_bytes,
         std::optional<size_t> snapshot)
      : image_(std::move(image)),
        l1_(std::move(l1)),
        size_(size_bytes),
        snapshot_(snapshot),
        cache_id_(image_->cache->NewId()) {}
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  ~Device() override { image_->cache->EraseDevice(cache_id_); }

  uint64_t Size() const override { return size_; }
  Status Read(uint64_t offset, std::span<std::byte> dst) const override;
  Status Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const override;
  ImageInfo Describe() const override;
  const BlockDevice* backing() const override { return image_->backing.get(); }
  Result<std::unique_ptr<BlockDevice>> OpenSnapshot(std::string_view id_or_name) const override;
  Result<CheckReport> Check() const override;

 private:
  Result<Run> Lookup(uint64_t offset, uint64_t max_length) const;
  Result<Run> ExtendRun(const L2Table& l2, uint64_t l2_offset, uint64_t offset, uint64_t limit,
                        Run run) const;
  Status ReadCompressed(const Run& run, uint64_t offset, std::span<std::byte> dst) const;
  Status DecompressInto(const Run& run, std::span<std::byte> out) const;
  bool ContinuesRecentRead(uint64_t offset, uint64_t end) const;
  Status BackingExtents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const;
  Status ReadSerial(uint64_t offset, std::span<std::byte> dst) const;
  Status ReadParallel(uint64_t offset, std::span<std::byte> dst) const;
  void ReadAhead(uint64_t offset, uint64_t length) const;
  void PrefetchHost(uint64_t offset, uint64_t length) const;

  std::shared_ptr<const Image> image_;
  const std::vector<uint64_t> l1_;
  const uint64_t size_;
  const std::optional<size_t> snapshot_;
  const uint64_t cache_id_;
  // Read-ahead state. Racing readers may both prefetch a range, which is
  // harmless, so plain atomics suffice.
  mutable std::atomic<uint64_t> seq_end_{0};      // end of the last large read
  mutable std::atomic<uint64_t> ahead_until_{0};  // prefetch issued up to here
  // Where the last few partial-cluster compressed reads ended (see
  // kPrefixInflateDivisor); racy by design, it only picks a strategy.
  mutable std::array<std::atomic<uint64_t>, kRecentEnds> recent_ends_{};
  mutable std::atomic<size_t> recent_next_{0};
};

Result<Run> Device::Lookup(uint64_t offset, uint64_t max_length) const {
  const Geometry& g = image_->geometry;
  uint64_t l1_index = offset >> g.l2_coverage_bits();
  uint64_t table_end = (l1_index + 1) << g.l2_coverage_bits();
  uint64_t limit = std::min(offset + max_length, table_end);
  if (l1_index >= l1_.size() || (l1_[l1_index] & kL1OffsetMask) == 0) {
    return Run{UnitKind::kUnallocated, limit - offset, 0, 0};
  }
  uint64_t l2_offset = l1_[l1_index] & kL1OffsetMask;
  IMGFS_ASSIGN_OR_RETURN(std::shared_ptr<const L2Table> l2,
                         LoadL2(*image_->file, g, image_->cache, cache_id_, l2_offset));
  uint64_t unit_mask = (uint64_t{1} << g.unit_bits()) - 1;
  uint64_t units_per_table = uint64_t{1} << (g.l2_coverage_bits() - g.unit_bits());
  uint64_t unit = (offset >> g.unit_bits()) & (units_per_table - 1);
  IMGFS_ASSIGN_OR_RETURN(Unit first, DecodeUnit(g, *l2, l2_offset, unit));
  Run run{first.kind, 0, first.host_offset, first.compressed_bytes};
  if (first.kind == UnitKind::kCompressed) {
    uint64_t cluster_end = ((offset >> g.cluster_bits) + 1) << g.cluster_bits;
    run.length = std::min(cluster_end, limit) - offset;
    return run;
  }
  if (first.kind == UnitKind::kData) {
    run.host_offset += offset & unit_mask;
  }
  return ExtendRun(*l2, l2_offset, offset, limit, run);
}

// Grows `run` (which starts at `offset`) over following units of the same
// kind, and for data over host-contiguous units, up to `limit`.
Result<Run> Device::ExtendRun(const L2Table& l2, uint64_t l2_offset, uint64_t offset,
                              uint64_t limit, Run run) const {
  const Geometry& g = image_->geometry;
  uint64_t units_per_table = uint64_t{1} << (g.l2_coverage_bits() - g.unit_bits());
  uint64_t pos = ((offset >> g.unit_bits()) + 1) << g.unit_bits();
  while (pos < limit) {
    uint64_t unit = (pos >> g.unit_bits()) & (units_per_table - 1);
    IMGFS_ASSIGN_OR_RETURN(Unit next, DecodeUnit(g, l2, l2_offset, unit));
    if (next.kind != run.kind ||
        (run.kind == UnitKind::kData && next.host_offset != run.host_offset + (pos - offset))) {
      break;
    }
    pos += uint64_t{1} << g.unit_bits();
  }
  run.length = std::min(pos, limit) - offset;
  return run;
}

// Reads the compressed stream of `run` and inflates it into `out`: the
// whole cluster, or (zlib only) a prefix of it.
Status Device::DecompressInto(const Run& run, std::span<std::byte> out) const {
  const File& file = *image_->file;
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file.Size());
  if (run.host_offset >= file_size) {
    return CorruptError("qcow2: compressed cluster at " + Hex(run.host_offset) +
                        " lies past end of file (size " + Hex(file_size) + ")");
  }
  // The last stream of a file may end inside its final sector; QEMU reads
  // the missing padding as zeros. Not value-initialised: ReadHost fills it.
  const auto in_bytes = static_cast<size_t>(run.compressed_bytes);
  auto in = std::make_unique_for_overwrite<std::byte[]>(in_bytes);
  std::span<std::byte> in_span(in.get(), in_bytes);
  IMGFS_RETURN_IF_ERROR(ReadHost(file, run.host_offset, in_span));
  const bool whole = out.size() == image_->geometry.cluster_size();
  Status s = whole ? DecompressCluster(image_->header.compression_type, in_span, out)
                   : InflatePrefix(in_span, out);
  if (!s.ok()) {
    return s.Annotate("qcow2: compressed cluster at " + Hex(run.host_offset));
  }
  return Status::Ok();
}

// Records that a partial-cluster read ended at `end` and says whether the
// read starting at `offset` continues one of the last kRecentEnds of them.
bool Device::ContinuesRecentRead(uint64_t offset, uint64_t end) const {
  bool continues = false;
  for (const std::atomic<uint64_t>& e : recent_ends_) {
    continues = continues || (offset != 0 && e.load(std::memory_order_relaxed) == offset);
  }
  size_t slot = recent_next_.fetch_add(1, std::memory_order_relaxed) % kRecentEnds;
  recent_ends_[slot].store(end, std::memory_order_relaxed);
  return continues;
}

Status Device::ReadCompressed(const Run& run, uint64_t offset, std::span<std::byte> dst) const {
  CacheKey key{cache_id_, CacheKind::kDecompressed, run.host_offset};
  const auto cluster_bytes = static_cast<size_t>(image_->geometry.cluster_size());
  const auto in_cluster = static_cast<size_t>(offset & (cluster_bytes - 1));
  const size_t need = in_cluster + dst.size();
  const bool whole_read = in_cluster == 0 && dst.size() == cluster_bytes;
  // Only partial-cluster reads can inflate a prefix, so only they pay for
  // the stream check (whole-cluster pieces are the streaming hot path).
  const bool stream = !whole_read && ContinuesRecentRead(offset, offset + dst.size());
  std::shared_ptr<const DecompressedCluster> cluster = image_->cache->Get<DecompressedCluster>(key);
  if (!cluster || cluster->valid < need) {
    if (!cluster && whole_read) {
      // A whole-cluster read (sequential streaming): inflate straight into
      // the caller's buffer. Nothing is cached, as a streaming reader does
      // not come back, and no cluster buffer is allocated, zeroed and copied.
      return DecompressInto(run, dst);
    }
    // A cached prefix that is too short is replaced by the whole cluster.
    const bool prefix = !cluster && !stream &&
                        image_->header.compression_type == CompressionType::kZlib &&
                        need <= cluster_bytes / kPrefixInflateDivisor;
    const size_t make = prefix ? need : cluster_bytes;
    auto fresh = std::make_shared<DecompressedCluster>();
    fresh->bytes = std::make_unique_for_overwrite<std::byte[]>(make);
    fresh->valid = make;
    IMGFS_RETURN_IF_ERROR(DecompressInto(run, std::span(fresh->bytes.get(), make)));
    cluster = fresh;
    image_->cache->Insert(key, cluster, make);
  }
  std::memcpy(dst.data(), cluster->bytes.get() + in_cluster, dst.size());
  return Status::Ok();
}

Status Device::Read(uint64_t offset, std::span<std::byte> dst) const {
  IMGFS_RETURN_IF_ERROR(CheckRange(offset, dst.size(), size_));
  if (dst.size() >= kReadAheadMinBytes) {
    ReadAhead(offset, dst.size());
  }
  if (image_->pool != nullptr && dst.size() >= kParallelMinBytes) {
    return ReadParallel(offset, dst);
  }
  return ReadSerial(offset, dst);
}

// Maps the request into pieces on the calling thread (the L2 tables are
// cached, so this is cheap), then reads the pieces on the pool; the calling
// thread takes pieces too. Returns the first piece's error in guest order.
Status Device::ReadParallel(uint64_t offset, std::span<std::byte> dst) const {
  std::vector<Piece> pieces;
  const uint64_t end = offset + dst.size();
  uint64_t pos = offset;
  while (pos < end) {
    IMGFS_ASSIGN_OR_RETURN(Run run, Lookup(pos, end - pos));
    uint64_t cut = run.kind == UnitKind::kCompressed ? run.length : kHostPieceBytes;
    for (uint64_t done = 0; done < run.length; done += cut) {
      AddPiece(&pieces, pos + done, std::min(cut, run.length - done));
    }
    pos += run.length;
  }
  if (pieces.size() == 1) {
    return ReadSerial(offset, dst);
  }
  std::vector<Status> results(pieces.size());
  image_->pool->ParallelFor(pieces.size(), [&](size_t i) {
    const Piece& p = pieces[i];
    results[i] = ReadSerial(p.offset, dst.subspan(static_cast<size_t>(p.offset - offset),
                                                  static_cast<size_t>(p.length)));
  });
  for (Status& s : results) {
    if (!s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

void Device::ReadAhead(uint64_t offset, uint64_t length) const {
  const uint64_t end = offset + length;
  const uint64_t previous_end = seq_end_.exchange(end, std::memory_order_relaxed);
  const uint64_t gap = offset > previous_end ? offset - previous_end : previous_end - offset;
  if (gap > kSequentialSlackBytes) {
    return;  // not a stream (yet)
  }
  const uint64_t window_end = std::min(size_, end + kReadAheadBytes);
  uint64_t from = ahead_until_.load(std::memory_order_relaxed);
  if (from < end || from > window_end) {
    from = end;  // behind the reader, or the reader started over
  }
  if (window_end <= from || window_end - from < kReadAheadBytes / 4) {
    return;
  }
  ahead_until_.store(window_end, std::memory_order_relaxed);
  PrefetchHost(from, window_end - from);
}

// Asks the host to start reading the image bytes behind guest range
// [offset, offset + length). Unallocated ranges are left to the backing
// device, which sees the same stream and reads ahead itself. Best effort:
// a mapping error stops the prefetch silently (the read will report it).
void Device::PrefetchHost(uint64_t offset, uint64_t length) const {
  std::vector<HostRange> ranges;
  const uint64_t end = offset + length;
  uint64_t pos = offset;
  while (pos < end) {
    Result<Run> run = Lookup(pos, end - pos);
    if (!run.ok()) {
      break;
    }
    if (run->kind == UnitKind::kData) {
      AddHostRange(&ranges, image_->data_file.get(), run->host_offset, run->length);
    } else if (run->kind == UnitKind::kCompressed) {
      AddHostRange(&ranges, image_->file.get(), run->host_offset, run->compressed_bytes);
    }
    pos += run->length;
  }
  for (const HostRange& r : ranges) {
    r.file->Prefetch(r.offset, r.length);
  }
}

Status Device::ReadSerial(uint64_t offset, std::span<std::byte> dst) const {
  size_t done = 0;
  while (done < dst.size()) {
    uint64_t pos = offset + done;
    IMGFS_ASSIGN_OR_RETURN(Run run, Lookup(pos, dst.size() - done));
    std::span<std::byte> chunk = dst.subspan(done, static_cast<size_t>(run.length));
    switch (run.kind) {
      case UnitKind::kData:
        if (image_->read_around != nullptr) {
          image_->read_around->BeforeRead(*image_->data_file, run.host_offset, chunk.size());
        }
        IMGFS_RETURN_IF_ERROR(ReadHost(*image_->data_file, run.host_offset, chunk));
        break;
      case UnitKind::kZero:
        std::memset(chunk.data(), 0, chunk.size());
        break;
      case UnitKind::kUnallocated:
        IMGFS_RETURN_IF_ERROR(ReadOrZero(image_->backing.get(), pos, chunk));
        break;
      case UnitKind::kCompressed:
        IMGFS_RETURN_IF_ERROR(ReadCompressed(run, pos, chunk));
        break;
    }
    done += chunk.size();
  }
  return Status::Ok();
}

// Unallocated here: what the backing chain holds, one level deeper
// (qemu-img map semantics); past the backing's end, unallocated at depth 0.
Status Device::BackingExtents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const {
  const BlockDevice* backing = image_->backing.get();
  uint64_t end = offset + length;
  uint64_t pos = offset;
  if (backing != nullptr && pos < backing->Size()) {
    uint64_t backing_end = std::min(end, backing->Size());
    std::vector<Extent> sub;
    while (pos < backing_end) {
      sub.clear();
      IMGFS_RETURN_IF_ERROR(backing->Extents(pos, backing_end - pos, &sub));
      for (Extent e : sub) {
        e.depth += 1;
        if (e.offset + e.length > backing_end || e.offset != pos || e.length == 0) {
          return InternalError("qcow2: backing device returned a bad extent at " + Hex(pos));
        }
        pos += e.length;
        out->push_back(e);
      }
      if (sub.empty()) {
        return InternalError("qcow2: backing extents at " + Hex(pos) + " made no progress");
      }
    }
  }
  if (pos < end) {
    out->push_back(Extent{pos, end - pos, ExtentKind::kUnallocated, 0, std::nullopt, false});
  }
  return Status::Ok();
}

Status Device::Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const {
  IMGFS_RETURN_IF_ERROR(CheckRange(offset, length, size_));
  if (length == 0) {
    return InvalidArgumentError("qcow2: extent query of zero length");
  }
  // At most one L2 table's worth per call; callers loop.
  uint32_t coverage = image_->geometry.l2_coverage_bits();
  uint64_t limit = std::min(offset + length, ((offset >> coverage) + 1) << coverage);
  uint64_t pos = offset;
  while (pos < limit) {
    IMGFS_ASSIGN_OR_RETURN(Run run, Lookup(pos, limit - pos));
    switch (run.kind) {
      case UnitKind::kData:
        out->push_back(Extent{pos, run.length, ExtentKind::kData, 0, run.host_offset, false});
        break;
      case UnitKind::kCompressed:
        out->push_back(Extent{pos, run.length, ExtentKind::kData, 0, std::nullopt, true});
        break;
      case UnitKind::kZero:
        out->push_back(Extent{pos, run.length, ExtentKind::kZero, 0, std::nullopt, false});
        break;
      case UnitKind::kUnallocated:
        IMGFS_RETURN_IF_ERROR(BackingExtents(pos, run.length, out));
        break;
    }
    pos += run.length;
  }
  return Status::Ok();
}

nlohmann::json FormatSpecific(const Header& h) {
  nlohmann::json data;
  data["compat"] = h.version >= 3 ? "1.1" : "0.10";
  data["compression-type"] = h.compression_type == CompressionType::kZstd ? "zstd" : "zlib";
  if (h.version >= 3) {
    data["lazy-refcounts"] = (h.compatible_features & kCompatLazyRefcounts) != 0;
  }
  data["refcount-bits"] = uint64_t{1} << h.refcount_order;
  if (h.has_data_file()) {
    data["data-file"] = h.data_file;
    data["data-file-raw"] = h.data_file_raw();
  }
  if (h.version >= 3) {
    data["corrupt"] = h.corrupt();
    data["extended-l2"] = h.extended_l2();
  }
  // Not in qemu-img, which ignores such bits silently: named from the
  // image's feature name table so a newer writer's features are visible.
  if (auto names = UnknownFeatureNames(h, 1); !names.empty()) {
    data["unknown-compatible-features"] = names;
  }
  if (auto names = UnknownFeatureNames(h, 2); !names.empty()) {
    data["unknown-autoclear-features"] = names;
  }
  return nlohmann::json{{"type", "qcow2"}, {"data", data}};
}

// The persistent bitmaps as `qemu-img info` lists them (only while the
// extension is marked consistent, as qemu does).
void AddBitmaps(const File& file, const Header& h, ImageInfo* info) {
  if (!h.bitmaps_consistent()) {
    return;
  }
  auto dir = ReadBitmapDirectory(file, h);
  if (!dir.ok()) {
    info->notes.push_back("cannot read bitmaps: " + dir.status().message());
    return;
  }
  nlohmann::json list = nlohmann::json::array();
  for (const BitmapEntry& e : *dir) {
    nlohmann::json flags = nlohmann::json::array();
    if (e.flags & kBitmapInUse) {
      flags.push_back("in-use");
    }
    if (e.flags & kBitmapAuto) {
      flags.push_back("auto");
    }
    nlohmann::json one{{"name", e.name}, {"flags", flags}};
    if (e.granularity_bits < 64) {
      one["granularity"] = uint64_t{1} << e.granularity_bits;
    }
    list.push_back(std::move(one));
  }
  info->format_specific["data"]["bitmaps"] = std::move(list);
}

ImageInfo Device::Describe() const {
  const Header& h = image_->header;
  ImageInfo info;
  info.format = "qcow2";
  info.filename = image_->file->name();
  info.virtual_size = size_;
  auto allocated = image_->file->AllocatedBytes();
  info.actual_size = allocated.ok() ? *allocated : 0;
  info.cluster_size = h.cluster_size();
  info.backing_filename = h.backing_file;
  info.full_backing_filename = image_->full_backing_filename;
  info.backing_format = h.backing_format;
  info.dirty = h.dirty();
  info.corrupt = h.corrupt();
  for (const Snapshot& s : image_->snapshots) {
    info.snapshots.push_back(ToSnapshotInfo(s, h.size_bytes));
  }
  info.format_specific = FormatSpecific(h);
  AddBitmaps(*image_->file, h, &info);
  if (snapshot_) {
    info.notes.push_back("internal snapshot " + image_->snapshots[*snapshot_].id + " (" +
                         image_->snapshots[*snapshot_].name + "), read-only");
  }
  return info;
}

Result<std::unique_ptr<BlockDevice>> Device::OpenSnapshot(std::string_view id_or_name) const {
  const Snapshot* s = FindSnapshot(image_->snapshots, id_or_name);
  if (s == nullptr) {
    return NotFoundError("qcow2: no snapshot with id or name '" + std::string(id_or_name) + "'");
  }
  const Geometry& g = image_->geometry;
  if (s->l1_table_offset % g.cluster_size() != 0) {
    return CorruptError("qcow2: snapshot L1 table at " + Hex(s->l1_table_offset) +
                        " is not cluster aligned");
  }
  IMGFS_ASSIGN_OR_RETURN(std::vector<uint64_t> l1, LoadL1(*image_->file, g, s->l1_table_offset,
                                                          s->l1_size, "snapshot L1 table"));
  uint64_t size = s->disk_size.value_or(image_->header.size_bytes);
  // Guest bytes past the snapshot's L1 read as unallocated; cap the size at
  // what an L1 table can describe so offsets cannot overflow.
  size = std::min(size, (kMaxL1Bytes / 8) << g.l2_coverage_bits());
  auto index = static_cast<size_t>(s - image_->snapshots.data());
  return NewDevice(image_, std::move(l1), size, index);
}

Result<CheckReport> Device::Check() const {
  if (!snapshot_) {
    return CheckImage(*image_, l1_);
  }
  const Header& h = image_->header;
  IMGFS_ASSIGN_OR_RETURN(
      std::vector<uint64_t> l1,
      LoadL1(*image_->file, image_->geometry, h.l1_table_offset, h.l1_size, "L1 table"));
  return CheckImage(*image_, l1);
}

}  // namespace

std::unique_ptr<BlockDevice> NewDevice(std::shared_ptr<const Image> image, std::vector<uint64_t> l1,
                                       uint64_t size_bytes, std::optional<size_t> snapshot) {
  return std::make_unique<Device>(std::move(image), std::move(l1), size_bytes, snapshot);
}

}  // namespace imgfs::qcow2
