// SPDX-License-Identifier: MIT
// Decoding of the qcow2 header (v2 and v3) and its header extensions, per
// QEMU docs/interop/qcow2.txt. Every size is bounded before it is used.
#include "formats/qcow2/header.h"

#include <algorithm>

#include "core/util/checked.h"
#include "core/util/endian.h"
#include "core/util/hex.h"

namespace imgfs::qcow2 {
namespace {

// Feature name table entries (spec "Feature name table").
constexpr size_t kFeatureNameEntryBytes = 48;
constexpr size_t kFeatureNameBytes = 46;
// Longest backing format / data file name kept from an extension; QEMU keeps
// format names in 16 bytes and file names below PATH_MAX.
constexpr uint32_t kMaxExtensionStringBytes = 4096;
// Full disk encryption header extension payload: offset and length.
constexpr uint32_t kCryptoExtBytes = 16;
// Bitmaps extension payload fields (spec "Bitmaps extension").
constexpr size_t kBitmapsNbOffset = 0;
constexpr size_t kBitmapsReservedOffset = 4;
constexpr size_t kBitmapsDirectoryBytesOffset = 8;
constexpr size_t kBitmapsDirectoryOffsetOffset = 16;

Status Corrupt(const std::string& what) { return CorruptError("qcow2: " + what); }

std::string CString(std::span<const std::byte> bytes) {
  std::string s(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  size_t nul = s.find('\0');
  if (nul != std::string::npos) {
    s.resize(nul);
  }
  return s;
}

void DecodeFixedFields(std::span<const std::byte> b, Header* h) {
  const std::byte* p = b.data();
  h->version = LoadBE32(p + kVersionOffset);
  h->backing_file_offset = LoadBE64(p + kBackingFileOffsetOffset);
  h->backing_file_size = LoadBE32(p + kBackingFileSizeOffset);
  h->cluster_bits = LoadBE32(p + kClusterBitsOffset);
  h->size_bytes = LoadBE64(p + kSizeOffset);
  h->crypt_method = LoadBE32(p + kCryptMethodOffset);
  h->l1_size = LoadBE32(p + kL1SizeOffset);
  h->l1_table_offset = LoadBE64(p + kL1TableOffsetOffset);
  h->refcount_table_offset = LoadBE64(p + kRefcountTableOffsetOffset);
  h->refcount_table_clusters = LoadBE32(p + kRefcountTableClustersOffset);
  h->nb_snapshots = LoadBE32(p + kNbSnapshotsOffset);
  h->snapshots_offset = LoadBE64(p + kSnapshotsOffsetOffset);
  h->header_length = static_cast<uint32_t>(kV2HeaderBytes);
}

Status DecodeV3Fields(std::span<const std::byte> b, Header* h) {
  if (b.size() < kV3HeaderBytes) {
    return Corrupt("v3 header at 0x0 is truncated (" + std::to_string(b.size()) + " bytes)");
  }
  const std::byte* p = b.data();
  h->incompatible_features = LoadBE64(p + kIncompatibleFeaturesOffset);
  h->compatible_features = LoadBE64(p + kCompatibleFeaturesOffset);
  h->autoclear_features = LoadBE64(p + kAutoclearFeaturesOffset);
  h->refcount_order = LoadBE32(p + kRefcountOrderOffset);
  h->header_length = LoadBE32(p + kHeaderLengthOffset);
  if (h->header_length < kV3HeaderBytes || h->header_length % 8 != 0) {
    return Corrupt("header at 0x0 has invalid header_length " + std::to_string(h->header_length));
  }
  if (h->header_length > b.size() || h->header_length > h->cluster_size()) {
    return Corrupt("header at 0x0 has header_length " + std::to_string(h->header_length) +
                   " past the first cluster or end of file");
  }
  if (h->refcount_order > 6) {
    return Corrupt("header at 0x0 has invalid refcount_order " + std::to_string(h->refcount_order));
  }
  uint8_t ctype = 0;
  if (h->header_length > kCompressionTypeOffset) {
    ctype = static_cast<uint8_t>(p[kCompressionTypeOffset]);
  }
  bool bit = (h->incompatible_features & kIncompatCompression) != 0;
  if (ctype > 1) {
    return UnsupportedError("qcow2: header at 0x0 has unknown compression type " +
                            std::to_string(ctype));
  }
  if ((ctype != 0) != bit) {
    return Corrupt("header at 0x0: compression type " + std::to_string(ctype) +
                   " disagrees with incompatible feature bit 3");
  }
  h->compression_type = static_cast<CompressionType>(ctype);
  return Status::Ok();
}

Status CheckFeatures(const Header& h) {
  if (h.corrupt()) {
    return UnsupportedError(
        "qcow2: image is marked corrupt (incompatible bit 1); repair it with qemu-img check -r");
  }
  uint64_t unknown = h.incompatible_features & ~kIncompatKnown;
  if (unknown != 0) {
    std::string names;
    for (unsigned bit = 0; bit < 64; ++bit) {
      if ((unknown >> bit) & 1) {
        names += (names.empty() ? "" : ", ") + IncompatibleFeatureName(h, bit);
      }
    }
    return UnsupportedError("qcow2: image uses unsupported incompatible features: " + names);
  }
  if (h.crypt_method > kCryptLuks) {
    return UnsupportedError("qcow2: header at 0x0 has unknown crypt_method " +
                            std::to_string(h.crypt_method));
  }
  return Status::Ok();
}

// [a, a + a_len) and [b, b + b_len) share a byte. REQUIRES: no wrap.
bool Overlaps(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len) {
  return a_len != 0 && b_len != 0 && a < b + b_len && b < a + a_len;
}

// The encryption header extension is there for LUKS and only for LUKS
// (spec "Full disk encryption header pointer"), cluster aligned and inside
// the file, clear of the header cluster and the tables the header names.
Status CheckCryptoExtension(const Header& h, uint64_t file_size) {
  const bool luks = h.crypt_method == kCryptLuks;
  if (!h.crypto_header) {
    return luks ? Corrupt(
                      "LUKS-encrypted image (crypt_method 2) has no full disk encryption "
                      "header extension")
                : Status::Ok();
  }
  const CryptoExtension& c = *h.crypto_header;
  const std::string at = "encryption header at " + Hex(c.offset);
  if (!luks) {
    return Corrupt(at + ": only LUKS (crypt_method 2) has one, the header says crypt_method " +
                   std::to_string(h.crypt_method));
  }
  if (c.offset % h.cluster_size() != 0) {
    return Corrupt(at + " is not cluster aligned");
  }
  if (c.length_bytes < kMinCryptoHeaderBytes) {
    return Corrupt(at + " has length " + std::to_string(c.length_bytes) +
                   ", too short for a LUKS header");
  }
  if (!RangeWithin(c.offset, c.length_bytes, file_size)) {
    return Corrupt(at + " (" + std::to_string(c.length_bytes) +
                   " bytes) extends past end of file (size " + Hex(file_size) + ")");
  }
  if (c.offset < h.cluster_size() ||
      Overlaps(c.offset, c.length_bytes, h.l1_table_offset, uint64_t{h.l1_size} * 8) ||
      Overlaps(c.offset, c.length_bytes, h.refcount_table_offset,
               uint64_t{h.refcount_table_clusters} << h.cluster_bits)) {
    return Corrupt(at + " overlaps the image header, the L1 table or the refcount table");
  }
  return Status::Ok();
}

// Checks that `count` entries of `entry_bytes` at `offset` are cluster
// aligned and inside the file.
Status CheckTable(const Header& h, const char* what, uint64_t offset, uint64_t count,
                  uint64_t entry_bytes, uint64_t file_size) {
  auto bytes = CheckedMul(count, entry_bytes);
  if (offset % h.cluster_size() != 0) {
    return Corrupt(std::string(what) + " at " + Hex(offset) + " is not cluster aligned");
  }
  if (!bytes || !RangeWithin(offset, *bytes, file_size)) {
    return Corrupt(std::string(what) + " at " + Hex(offset) + " extends past end of file (size " +
                   Hex(file_size) + ")");
  }
  return Status::Ok();
}

Status CheckL1(const Header& h, uint64_t file_size) {
  if (uint64_t{h.l1_size} * 8 > kMaxL1Bytes) {
    return UnsupportedError("qcow2: L1 table at " + Hex(h.l1_table_offset) + " has " +
                            std::to_string(h.l1_size) + " entries, more than the 32 MiB limit");
  }
  // Each L1 entry maps 2^(cluster_bits + l2_bits) bytes; at most 2^61 here.
  uint64_t l1_coverage = uint64_t{h.l1_size} << (h.cluster_bits + h.l2_bits());
  if (h.size_bytes > l1_coverage) {
    return Corrupt("L1 table at " + Hex(h.l1_table_offset) + " with " + std::to_string(h.l1_size) +
                   " entries is too small for virtual size " + Hex(h.size_bytes));
  }
  if (h.l1_size == 0) {
    return Status::Ok();
  }
  return CheckTable(h, "L1 table", h.l1_table_offset, h.l1_size, 8, file_size);
}

Status CheckTables(const Header& h, uint64_t file_size) {
  IMGFS_RETURN_IF_ERROR(CheckL1(h, file_size));
  uint64_t reftable_bytes = uint64_t{h.refcount_table_clusters} << h.cluster_bits;
  if (reftable_bytes > kMaxRefcountTableBytes) {
    return UnsupportedError("qcow2: refcount table at " + Hex(h.refcount_table_offset) + " has " +
                            std::to_string(h.refcount_table_clusters) +
                            " clusters, more than the 8 MiB limit");
  }
  IMGFS_RETURN_IF_ERROR(CheckTable(h, "refcount table", h.refcount_table_offset,
                                   h.refcount_table_clusters, h.cluster_size(), file_size));
  if (h.nb_snapshots > kMaxSnapshots) {
    return Corrupt("snapshot table at " + Hex(h.snapshots_offset) + " has " +
                   std::to_string(h.nb_snapshots) + " entries, more than " +
                   std::to_string(kMaxSnapshots));
  }
  if (h.nb_snapshots > 0) {
    // Each snapshot header is at least 40 bytes; the exact size is checked
    // when the table is read.
    IMGFS_RETURN_IF_ERROR(
        CheckTable(h, "snapshot table", h.snapshots_offset, h.nb_snapshots, 40, file_size));
  }
  return Status::Ok();
}

Status DecodeBackingName(std::span<const std::byte> b, Header* h) {
  if (h->backing_file_offset == 0) {
    return Status::Ok();
  }
  if (h->backing_file_size > kMaxBackingNameBytes || h->backing_file_size == 0) {
    return Corrupt("backing file name at " + Hex(h->backing_file_offset) + " has invalid length " +
                   std::to_string(h->backing_file_size));
  }
  uint64_t limit = std::min<uint64_t>(b.size(), h->cluster_size());
  if (!RangeWithin(h->backing_file_offset, h->backing_file_size, limit) ||
      h->backing_file_offset < h->header_length) {
    return Corrupt("backing file name at " + Hex(h->backing_file_offset) +
                   " lies outside the header cluster");
  }
  auto name = b.subspan(h->backing_file_offset, h->backing_file_size);
  h->backing_file.assign(reinterpret_cast<const char*>(name.data()), name.size());
  return Status::Ok();
}

Status DecodeFeatureNames(std::span<const std::byte> data, Header* h) {
  for (size_t i = 0; i + kFeatureNameEntryBytes <= data.size(); i += kFeatureNameEntryBytes) {
    FeatureName f;
    f.type = static_cast<uint8_t>(data[i]);
    f.bit = static_cast<uint8_t>(data[i + 1]);
    f.name = CString(data.subspan(i + 2, kFeatureNameBytes));
    h->feature_names.push_back(std::move(f));
  }
  return Status::Ok();
}

Status DecodeOneExtension(uint32_t type, uint64_t at, std::span<const std::byte> data, Header* h) {
  switch (type) {
    case kExtBackingFormat:
    case kExtDataFile:
      if (data.size() > kMaxExtensionStringBytes) {
        return Corrupt("header extension at " + Hex(at) + " holds a name of " +
                       std::to_string(data.size()) + " bytes");
      }
      (type == kExtBackingFormat ? h->backing_format : h->data_file) = CString(data);
      return Status::Ok();
    case kExtFeatureNames:
      return DecodeFeatureNames(data, h);
    case kExtBitmaps: {
      // Reading ignores bitmaps; a short extension is left to Check().
      BitmapsExtension ext;
      ext.data_bytes = static_cast<uint32_t>(data.size());
      if (data.size() >= kBitmapsExtensionBytes) {
        ext.nb_bitmaps = LoadBE32(data.data() + kBitmapsNbOffset);
        ext.reserved = LoadBE32(data.data() + kBitmapsReservedOffset);
        ext.directory_bytes = LoadBE64(data.data() + kBitmapsDirectoryBytesOffset);
        ext.directory_offset = LoadBE64(data.data() + kBitmapsDirectoryOffsetOffset);
      }
      h->bitmaps = ext;
      return Status::Ok();
    }
    case kExtCrypto:
      if (data.size() != kCryptoExtBytes) {
        return Corrupt("encryption header extension at " + Hex(at) + " has length " +
                       std::to_string(data.size()));
      }
      h->crypto_header = CryptoExtension{LoadBE64(data.data()), LoadBE64(data.data() + 8)};
      return Status::Ok();
    default:
      return Status::Ok();  // unknown extensions are skipped (spec)
  }
}

Status DecodeExtensions(std::span<const std::byte> b, Header* h) {
  uint64_t end = std::min<uint64_t>(b.size(), h->cluster_size());
  if (h->backing_file_offset > h->header_length && h->backing_file_offset < end) {
    end = h->backing_file_offset;
  }
  uint64_t at = h->header_length;
  for (size_t count = 0;; ++count) {
    if (at + 8 > end) {
      return Status::Ok();  // QEMU reads zeros past the area: an end marker
    }
    if (count >= kMaxExtensions) {
      return Corrupt("header extensions at " + Hex(h->header_length) + " exceed " +
                     std::to_string(kMaxExtensions) + " entries");
    }
    uint32_t type = LoadBE32(b.data() + at);
    uint32_t length = LoadBE32(b.data() + at + 4);
    if (type == kExtEnd) {
      return Status::Ok();
    }
    if (length > end - at - 8) {
      return Corrupt("header extension " + Hex(type) + " at " + Hex(at) + " length " +
                     std::to_string(length) + " extends past the header area (end " + Hex(end) +
                     ")");
    }
    IMGFS_RETURN_IF_ERROR(DecodeOneExtension(type, at, b.subspan(at + 8, length), h));
    at += 8 + ((uint64_t{length} + 7) & ~uint64_t{7});
  }
}

// The name the image's feature name table gives a bit, or "".
std::string TableFeatureName(const Header& h, uint8_t type, unsigned bit) {
  for (const FeatureName& f : h.feature_names) {
    if (f.type == type && f.bit == bit && !f.name.empty()) {
      return f.name;
    }
  }
  return "";
}

}  // namespace

std::string IncompatibleFeatureName(const Header& h, unsigned bit) {
  if (std::string name = TableFeatureName(h, 0, bit); !name.empty()) {
    return name + " (bit " + std::to_string(bit) + ")";
  }
  static const char* const kNames[] = {"dirty bit", "corrupt bit", "external data file",
                                       "compression type", "extended L2 entries"};
  if (bit < std::size(kNames)) {
    return std::string(kNames[bit]) + " (bit " + std::to_string(bit) + ")";
  }
  return "unknown (bit " + std::to_string(bit) + ")";
}

std::vector<std::string> UnknownFeatureNames(const Header& h, uint8_t type) {
  uint64_t bits = 0;
  switch (type) {
    case 0:
      bits = h.incompatible_features & ~kIncompatKnown;
      break;
    case 1:
      bits = h.compatible_features & ~kCompatKnown;
      break;
    default:
      bits = h.autoclear_features & ~kAutoclearKnown;
      break;
  }
  std::vector<std::string> names;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if (((bits >> bit) & 1) == 0) {
      continue;
    }
    std::string name = TableFeatureName(h, type, bit);
    names.push_back((name.empty() ? "unknown" : name) + " (bit " + std::to_string(bit) + ")");
  }
  return names;
}

Result<std::vector<std::byte>> ReadHeaderCluster(const File& file, uint64_t file_size) {
  std::vector<std::byte> head(static_cast<size_t>(std::min<uint64_t>(file_size, kV2HeaderBytes)));
  IMGFS_RETURN_IF_ERROR(file.ReadExactAt(0, head, "qcow2: header"));
  if (head.size() < kV2HeaderBytes) {
    return CorruptError("qcow2: header at 0x0 is truncated (" + std::to_string(head.size()) +
                        " bytes, need " + std::to_string(kV2HeaderBytes) + ")");
  }
  uint32_t cluster_bits = LoadBE32(head.data() + kClusterBitsOffset);
  if (cluster_bits < kMinClusterBits || cluster_bits > kMaxClusterBits) {
    return CorruptError("qcow2: header at 0x0 has cluster_bits " + std::to_string(cluster_bits) +
                        " outside 9..21 (512 B to 2 MiB clusters)");
  }
  head.resize(static_cast<size_t>(std::min<uint64_t>(file_size, uint64_t{1} << cluster_bits)));
  IMGFS_RETURN_IF_ERROR(file.ReadExactAt(0, head, "qcow2: header cluster"));
  return head;
}

Result<Header> DecodeHeader(std::span<const std::byte> b, uint64_t file_size) {
  if (b.size() < kV2HeaderBytes) {
    return Corrupt("header at 0x0 is truncated (" + std::to_string(b.size()) + " bytes, need " +
                   std::to_string(kV2HeaderBytes) + ")");
  }
  if (LoadBE32(b.data() + kMagicOffset) != kMagic) {
    return Corrupt("header at 0x0 has no QFI\\xfb magic");
  }
  Header h;
  DecodeFixedFields(b, &h);
  if (h.version != 2 && h.version != 3) {
    return UnsupportedError("qcow2: header at 0x0 has unsupported version " +
                            std::to_string(h.version));
  }
  if (h.cluster_bits < kMinClusterBits || h.cluster_bits > kMaxClusterBits) {
    return Corrupt("header at 0x0 has cluster_bits " + std::to_string(h.cluster_bits) +
                   " outside 9..21 (512 B to 2 MiB clusters)");
  }
  if (h.version == 3) {
    IMGFS_RETURN_IF_ERROR(DecodeV3Fields(b, &h));
  }
  IMGFS_RETURN_IF_ERROR(DecodeExtensions(b, &h));
  IMGFS_RETURN_IF_ERROR(CheckFeatures(h));
  IMGFS_RETURN_IF_ERROR(DecodeBackingName(b, &h));
  IMGFS_RETURN_IF_ERROR(CheckTables(h, file_size));
  IMGFS_RETURN_IF_ERROR(CheckCryptoExtension(h, file_size));
  return h;
}

}  // namespace imgfs::qcow2
