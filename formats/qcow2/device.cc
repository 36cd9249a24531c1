// SPDX-License-Identifier: MIT
// The qcow2 read path: guest offset -> L1 -> L2 (through the shared Cache)
// -> data, zero, compressed or backing. No lock on the read path: the Image
// is immutable, tables and decompressed clusters live in the Cache, and
// File reads are positional.
#include "formats/qcow2/device.h"

#include <algorithm>
#include <cstring>

#include "core/blockmap/block_map_device.h"
#include "core/crypto/decrypting_device.h"
#include "core/util/hex.h"
#include "formats/qcow2/bitmaps.h"
#include "formats/qcow2/decompress.h"

namespace imgfs::qcow2 {
namespace {

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

// How the shared read path serves this image: parallel pieces on the pool,
// read-around of the data file, Extents one L2 table at a time.
BlockMapConfig ConfigFor(const Image& image) {
  BlockMapConfig c;
  c.format = "qcow2";
  c.pool = image.pool;
  c.read_around = image.read_around.get();
  c.read_around_file = image.data_file.get();
  c.extents_window_bits = image.geometry.l2_coverage_bits();
  return c;
}

// A run of units the same kind: the base's view of it.
Mapping ToMapping(const Image& image, const Unit& u, uint64_t length, uint64_t unit_offset) {
  switch (u.kind) {
    case UnitKind::kData:
      // Encrypted clusters are read and decrypted by ReadIndirect.
      return Mapping{image.encryption ? MapKind::kIndirect : MapKind::kHost,
                     length,
                     image.data_file.get(),
                     u.host_offset,
                     0,
                     0,
                     0};
    case UnitKind::kCompressed:
      return Mapping{.kind = MapKind::kCompressed,
                     .length = length,
                     .file = image.file.get(),
                     .host_offset = u.host_offset,
                     .stored_bytes = u.compressed_bytes,
                     .unit_offset = unit_offset,
                     .driver_data = 0};
    case UnitKind::kZero:
      return Mapping{MapKind::kZero, length, nullptr, 0, 0, 0, 0};
    case UnitKind::kUnallocated:
      break;
  }
  return Mapping{MapKind::kUnallocated, length, nullptr, 0, 0, 0, 0};
}

class Device final : public BlockMapDevice {
 public:
  Device(std::shared_ptr<const Image> image, std::vector<uint64_t> l1, uint64_t size_bytes,
         std::optional<size_t> snapshot)
      : BlockMapDevice(ConfigFor(*image)),
        image_(std::move(image)),
        l1_(std::move(l1)),
        size_(size_bytes),
        snapshot_(snapshot),
        cache_id_(image_->cache->NewId()) {}
  ~Device() override { image_->cache->EraseDevice(cache_id_); }

  uint64_t Size() const override { return size_; }
  ImageInfo Describe() const override;
  const BlockDevice* backing() const override { return image_->backing.get(); }
  Result<std::unique_ptr<BlockDevice>> OpenSnapshot(std::string_view id_or_name) const override;
  Result<CheckReport> Check() const override;

 protected:
  Result<Mapping> Map(uint64_t offset, uint64_t max_length) const override;
  Status ReadCompressed(const Mapping& m, uint64_t offset, std::span<std::byte> dst) const override;
  Status ReadIndirect(const Mapping& m, uint64_t offset, std::span<std::byte> dst) const override;

 private:
  Result<uint64_t> RunLength(const L2Table& l2, uint64_t l2_offset, uint64_t offset, uint64_t limit,
                             const Unit& first) const;
  Status DecompressInto(const Mapping& m, std::span<std::byte> out) const;

  std::shared_ptr<const Image> image_;
  const std::vector<uint64_t> l1_;
  const uint64_t size_;
  const std::optional<size_t> snapshot_;
  const uint64_t cache_id_;
};

// guest offset -> L1 entry -> L2 table (through the Cache) -> units. A run
// ends at the L2 table's coverage, at a change of kind, at a host
// discontinuity, and (compressed) at the cluster's end.
Result<Mapping> Device::Map(uint64_t offset, uint64_t max_length) const {
  const Geometry& g = image_->geometry;
  uint64_t l1_index = offset >> g.l2_coverage_bits();
  uint64_t table_end = (l1_index + 1) << g.l2_coverage_bits();
  uint64_t limit = std::min(offset + max_length, table_end);
  if (l1_index >= l1_.size() || (l1_[l1_index] & kL1OffsetMask) == 0) {
    return Mapping{MapKind::kUnallocated, limit - offset, nullptr, 0, 0, 0, 0};
  }
  uint64_t l2_offset = l1_[l1_index] & kL1OffsetMask;
  IMGFS_ASSIGN_OR_RETURN(std::shared_ptr<const L2Table> l2,
                         LoadL2(*image_->file, g, image_->cache, cache_id_, l2_offset));
  uint64_t unit_mask = (uint64_t{1} << g.unit_bits()) - 1;
  uint64_t units_per_table = uint64_t{1} << (g.l2_coverage_bits() - g.unit_bits());
  uint64_t unit = (offset >> g.unit_bits()) & (units_per_table - 1);
  IMGFS_ASSIGN_OR_RETURN(Unit first, DecodeUnit(g, *l2, l2_offset, unit));
  if (first.kind == UnitKind::kCompressed) {
    uint64_t cluster_start = (offset >> g.cluster_bits) << g.cluster_bits;
    uint64_t cluster_end = cluster_start + g.cluster_size();
    return ToMapping(*image_, first, std::min(cluster_end, limit) - offset, cluster_start);
  }
  if (first.kind == UnitKind::kData) {
    first.host_offset += offset & unit_mask;
  }
  IMGFS_ASSIGN_OR_RETURN(uint64_t length, RunLength(*l2, l2_offset, offset, limit, first));
  return ToMapping(*image_, first, length, 0);
}

// The length of the run of units like `first` (which starts at `offset`)
// up to `limit`: same kind, and for data host-contiguous.
Result<uint64_t> Device::RunLength(const L2Table& l2, uint64_t l2_offset, uint64_t offset,
                                   uint64_t limit, const Unit& first) const {
  const Geometry& g = image_->geometry;
  uint64_t units_per_table = uint64_t{1} << (g.l2_coverage_bits() - g.unit_bits());
  uint64_t pos = ((offset >> g.unit_bits()) + 1) << g.unit_bits();
  while (pos < limit) {
    uint64_t unit = (pos >> g.unit_bits()) & (units_per_table - 1);
    IMGFS_ASSIGN_OR_RETURN(Unit next, DecodeUnit(g, l2, l2_offset, unit));
    if (next.kind != first.kind ||
        (first.kind == UnitKind::kData && next.host_offset != first.host_offset + (pos - offset))) {
      break;
    }
    pos += uint64_t{1} << g.unit_bits();
  }
  return std::min(pos, limit) - offset;
}

// Reads the compressed stream of `m` and inflates it into `out`: the
// whole cluster, or (zlib only) a prefix of it.
Status Device::DecompressInto(const Mapping& m, std::span<std::byte> out) const {
  const File& file = *image_->file;
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file.Size());
  if (m.host_offset >= file_size) {
    return CorruptError("qcow2: compressed cluster at " + Hex(m.host_offset) +
                        " lies past end of file (size " + Hex(file_size) + ")");
  }
  // The last stream of a file may end inside its final sector; QEMU reads
  // the missing padding as zeros. Not value-initialised: the read fills it.
  const auto in_bytes = static_cast<size_t>(m.stored_bytes);
  auto in = std::make_unique_for_overwrite<std::byte[]>(in_bytes);
  std::span<std::byte> in_span(in.get(), in_bytes);
  IMGFS_RETURN_IF_ERROR(ReadHostZeroFilled(file, m.host_offset, in_span));
  const bool whole = out.size() == image_->geometry.cluster_size();
  Status s = whole ? DecompressCluster(image_->header.compression_type, in_span, out)
                   : InflatePrefix(in_span, out);
  if (!s.ok()) {
    return s.Annotate("qcow2: compressed cluster at " + Hex(m.host_offset));
  }
  return Status::Ok();
}

Status Device::ReadCompressed(const Mapping& m, uint64_t offset, std::span<std::byte> dst) const {
  CacheKey key{cache_id_, CacheKind::kDecoded, m.host_offset};
  const auto cluster_bytes = static_cast<size_t>(image_->geometry.cluster_size());
  const auto in_cluster = static_cast<size_t>(offset - m.unit_offset);
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
      return DecompressInto(m, dst);
    }
    // A cached prefix that is too short is replaced by the whole cluster.
    const bool prefix = !cluster && !stream &&
                        image_->header.compression_type == CompressionType::kZlib &&
                        need <= cluster_bytes / kPrefixInflateDivisor;
    const size_t make = prefix ? need : cluster_bytes;
    auto fresh = std::make_shared<DecompressedCluster>();
    fresh->bytes = std::make_unique_for_overwrite<std::byte[]>(make);
    fresh->valid = make;
    IMGFS_RETURN_IF_ERROR(DecompressInto(m, std::span(fresh->bytes.get(), make)));
    cluster = fresh;
    image_->cache->Insert(key, cluster, make);
  }
  std::memcpy(dst.data(), cluster->bytes.get() + in_cluster, dst.size());
  return Status::Ok();
}

// An encrypted data run: host bytes at m.host_offset of the data file,
// decrypted sector by sector with the IV of the host sector (LUKS) or of
// the guest sector (AES). Host and guest offsets agree modulo the cluster
// size, so a sector never straddles two clusters.
Status Device::ReadIndirect(const Mapping& m, uint64_t offset, std::span<std::byte> dst) const {
  const Encryption& e = *image_->encryption;
  if (e.cipher == nullptr) {
    return KeyRequiredError("qcow2: " + image_->file->name() +
                            " is encrypted and was opened without a passphrase");
  }
  constexpr uint32_t kSectorBytes = 512;  // qemu's encryption sector, both methods
  const uint64_t iv_sector = (e.iv_from_host ? m.host_offset : offset) / kSectorBytes;
  return crypto::ReadDecrypted(*m.file, m.host_offset, iv_sector, *e.cipher, kSectorBytes, dst);
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
  ImageInfo info = FileImageInfo("qcow2", *image_->file, size_);
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
  if (const auto& e = image_->encryption) {
    info.encryption = e->method;
    info.format_specific["data"]["encrypt"] = e->info;
    if (e->cipher == nullptr) {
      info.notes.push_back("qcow2: opened without a passphrase; data clusters cannot be read");
    }
  }
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
