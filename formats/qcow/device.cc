// SPDX-License-Identifier: MIT
// The qcow read path: guest offset -> L1 -> L2 piece (through the Cache)
// -> data, compressed cluster (inflated by the ChunkEngine into the Cache)
// or the backing device. No lock: the Image is immutable, tables and
// inflated clusters live in the Cache and File reads are positional.
#include "formats/qcow/device.h"

#include <algorithm>
#include <functional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/chunk/chunk_engine.h"
#include "core/codec/codec.h"
#include "core/crypto/decrypting_device.h"
#include "core/util/hex.h"
#include "formats/common/qcow_aes.h"
#include "formats/common/two_level_device.h"

namespace imgfs::qcow {
namespace {

TwoLevelLayout LayoutOf(const Header& h) {
  TwoLevelLayout l;
  l.format = "qcow";
  l.order = ByteOrder::kBig;
  l.cluster_bits = h.cluster_bits;
  l.l2_entry_bits = h.l2_bits;
  l.l1_offset = h.l1_offset;
  l.l1_entries = h.l1_entries;
  return l;
}

class Device final : public TwoLevelDevice, ChunkSource {
 public:
  Device(const Header& header, TwoLevelImage image, std::unique_ptr<crypto::SectorCipher> cipher)
      : TwoLevelDevice(std::move(image), LayoutOf(header)),
        header_(header),
        cipher_(std::move(cipher)),
        engine_(this, ChunkEngine::Options{.cache = this->image().cache,
                                           .pool = this->image().pool,
                                           .cache_id = cache_id(),
                                           .max_chunk_bytes = header.cluster_bytes()}) {}
  // The engine stops before the base erases the Cache entries.
  ~Device() override { engine_.Close(); }

  uint64_t Size() const override { return header_.disk_bytes(); }
  ImageInfo Describe() const override;
  Result<CheckReport> Check() const override;

 protected:
  Status ReadCompressed(const Mapping& m, uint64_t offset, std::span<std::byte> dst) const override;
  Status ReadIndirect(const Mapping& m, uint64_t offset, std::span<std::byte> dst) const override;

 private:
  // TwoLevelEntries
  Result<uint64_t> L2Offset(uint64_t l1_index, uint64_t entry) const override;
  Result<Mapping> Classify(uint64_t cluster, uint64_t entry, uint64_t in_cluster) const override;
  // ChunkSource: a chunk is a compressed guest cluster; its locator the L2 entry.
  Status Decode(const ChunkInfo& chunk, std::span<std::byte> out) const override;
  void ForEachChunkIn(uint64_t from_bytes, uint64_t to_bytes,
                      const std::function<bool(const ChunkInfo&)>& visit) const override;

  const Header header_;
  const std::unique_ptr<crypto::SectorCipher> cipher_;  // null: plain or locked
  ChunkEngine engine_;
};

// 0: no L2 table. QEMU does not require alignment; a table that starts
// inside the file but runs past its end fails the load.
Result<uint64_t> Device::L2Offset(uint64_t l1_index, uint64_t entry) const {
  if (entry >= image().file_size) {
    return CorruptError("qcow: L1 entry " + std::to_string(l1_index) + " names an L2 table at " +
                        Hex(entry) + ", past end of file (size " + Hex(image().file_size) + ")");
  }
  return entry;
}

Result<Mapping> Device::Classify(uint64_t cluster, uint64_t entry, uint64_t in_cluster) const {
  const uint64_t file_size = image().file_size;
  Mapping m;
  if (entry == 0) {
    m.kind = MapKind::kUnallocated;
    return m;
  }
  if (entry & kCompressedFlag) {
    const CompressedCluster c = DecodeCompressed(entry, header_.cluster_bits);
    if (c.host_offset >= file_size || c.stored_bytes == 0) {
      return CorruptError("qcow: cluster " + std::to_string(cluster) + " is compressed at " +
                          Hex(c.host_offset) + " (" + std::to_string(c.stored_bytes) +
                          " bytes), past end of file (size " + Hex(file_size) + ")");
    }
    m.kind = MapKind::kCompressed;
    m.file = image().file.get();
    m.host_offset = c.host_offset;
    m.stored_bytes = c.stored_bytes;
    m.unit_offset = cluster << header_.cluster_bits;
    m.driver_data = entry;
    return m;
  }
  if (entry >= file_size) {
    return CorruptError("qcow: cluster " + std::to_string(cluster) + " is stored at " + Hex(entry) +
                        ", past end of file (size " + Hex(file_size) + ")");
  }
  // Encrypted clusters are read and decrypted by ReadIndirect.
  m.kind = header_.encrypted() ? MapKind::kIndirect : MapKind::kHost;
  m.file = image().file.get();
  m.host_offset = entry + in_cluster;
  return m;
}

// AES: the IV is the guest sector (formats/common/qcow_aes.h). Clusters
// are whole sectors at host and guest offsets alike.
Status Device::ReadIndirect(const Mapping& m, uint64_t offset, std::span<std::byte> dst) const {
  if (cipher_ == nullptr) {
    return KeyRequiredError("qcow: " + image().file->name() +
                            " is encrypted and was opened without a passphrase");
  }
  return crypto::ReadDecrypted(*m.file, m.host_offset, offset / kQcowAesSectorBytes, *cipher_,
                               kQcowAesSectorBytes, dst);
}

Status Device::ReadCompressed(const Mapping& m, uint64_t offset, std::span<std::byte> dst) const {
  ChunkPiece piece;
  piece.chunk.index = m.unit_offset >> header_.cluster_bits;
  piece.chunk.first_byte = m.unit_offset;
  piece.chunk.decoded_bytes = header_.cluster_bytes();
  piece.chunk.locator = m.driver_data;
  piece.in_chunk = offset - m.unit_offset;
  piece.dst = dst;
  return engine_.ReadPiece(piece);
}

// QEMU inflates a raw deflate stream (no zlib header) that must fill the
// whole cluster; the stored size may run past the end of the file by the
// padding of the last stream, which reads as zeros.
Status Device::Decode(const ChunkInfo& chunk, std::span<std::byte> out) const {
  const CompressedCluster c = DecodeCompressed(chunk.locator, header_.cluster_bits);
  ChunkInputBuffer in(static_cast<size_t>(c.stored_bytes));
  std::span<std::byte> in_span = in.bytes();
  IMGFS_RETURN_IF_ERROR(ReadHostZeroFilled(*image().file, c.host_offset, in_span));
  Status s = codec::Decompress(codec::Codec::kDeflateRaw, in_span, out);
  if (!s.ok()) {
    return s.Annotate("qcow: compressed cluster at " + Hex(c.host_offset));
  }
  return Status::Ok();
}

void Device::ForEachChunkIn(uint64_t from_bytes, uint64_t to_bytes,
                            const std::function<bool(const ChunkInfo&)>& visit) const {
  const uint32_t cb = header_.cluster_bits;
  uint64_t pos = (from_bytes + header_.cluster_bytes() - 1) >> cb << cb;
  to_bytes = std::min(to_bytes, Size());
  while (pos < to_bytes) {
    Result<Mapping> m = table().Map(pos, to_bytes - pos);
    if (!m.ok()) {
      return;  // a hint only: the reader meets the error itself
    }
    if (m->kind == MapKind::kCompressed &&
        !visit(ChunkInfo{pos >> cb, pos, header_.cluster_bytes(), m->driver_data})) {
      return;
    }
    pos += m->length;
  }
}

ImageInfo Device::Describe() const {
  ImageInfo info = BaseInfo(header_.cluster_bytes());
  if (header_.encrypted()) {
    info.encryption = "aes";
    if (cipher_ == nullptr) {
      info.notes.push_back("qcow: opened without a passphrase; data clusters cannot be read");
    }
  }
  if (header_.size_bytes != header_.disk_bytes()) {
    info.notes.push_back("qcow: size " + std::to_string(header_.size_bytes) +
                         " is not a whole number of sectors; the partial sector is not shown, "
                         "as in qemu");
  }
  return info;
}

// qemu-img has no check for qcow; this one verifies what reads rely on:
// every L2 table and cluster inside the file, no table named twice and no
// host cluster used twice.
Result<CheckReport> Device::Check() const {
  CheckReport report;
  std::vector<std::string> errors;
  std::unordered_map<uint64_t, uint64_t> owner;  // host offset -> guest cluster
  uint64_t data = 0;
  uint64_t compressed = 0;
  auto visit = [&](uint64_t cluster, uint64_t entry) {
    if (entry == 0 || (cluster << header_.cluster_bits) >= header_.size_bytes) {
      return;
    }
    Result<Mapping> m = Classify(cluster, entry, 0);
    if (!m.ok()) {
      errors.push_back(m.status().message());
      return;
    }
    ++(m->kind == MapKind::kCompressed ? compressed : data);
    auto [it, fresh] = owner.emplace(m->host_offset, cluster);
    if (!fresh) {
      errors.push_back("qcow: clusters " + std::to_string(it->second) + " and " +
                       std::to_string(cluster) + " are both stored at " + Hex(m->host_offset));
    }
  };
  IMGFS_RETURN_IF_ERROR(WalkForCheck(visit, &errors, &report));
  report.checked.push_back("qcow: L1 table of " + std::to_string(header_.l1_entries) +
                           " entries, " + std::to_string(data) + " data and " +
                           std::to_string(compressed) + " compressed clusters");
  return report;
}

}  // namespace

std::unique_ptr<BlockDevice> NewDevice(const Header& header, TwoLevelImage image,
                                       std::unique_ptr<crypto::SectorCipher> cipher) {
  return std::make_unique<Device>(header, std::move(image), std::move(cipher));
}

}  // namespace imgfs::qcow
