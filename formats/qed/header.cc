// SPDX-License-Identifier: MIT
// Decoding and validation of the QED header (docs/interop/qed_spec.rst).
#include "formats/qed/header.h"

#include <bit>
#include <string>

#include "core/blockmap/two_level_table.h"
#include "core/util/checked.h"
#include "core/util/endian.h"
#include "core/util/hex.h"

namespace imgfs::qed {
namespace {

// The largest L1 table read: a whole table is at most 16 clusters of
// 64 MiB, but only the entries covering the image are used.
constexpr uint64_t kMaxL1Bytes = uint64_t{1} << 30;

Status CheckSizes(const Header& h, uint32_t cluster_size, uint32_t table_size) {
  if (!std::has_single_bit(cluster_size) || h.cluster_bits < kMinClusterBits ||
      h.cluster_bits > kMaxClusterBits) {
    return UnsupportedError("qed: cluster size " + std::to_string(cluster_size) +
                            " at 0x4 is not a power of 2 from 4 KiB to 64 MiB");
  }
  if (!std::has_single_bit(table_size) || table_size > kMaxTableClusters) {
    return UnsupportedError("qed: table size " + std::to_string(table_size) +
                            " at 0x8 is not a power of 2 from 1 to 16 clusters");
  }
  if (h.header_clusters == 0 || h.header_clusters > kMaxHeaderClusters) {
    return UnsupportedError("qed: header size " + std::to_string(h.header_clusters) +
                            " clusters at 0xc is outside 1..1024");
  }
  return Status::Ok();
}

}  // namespace

Result<Header> DecodeHeader(std::span<const std::byte> bytes, uint64_t file_size) {
  if (bytes.size() < kHeaderBytes) {
    return CorruptError("qed: header truncated (file is " + std::to_string(file_size) +
                        " bytes, the header " + std::to_string(kHeaderBytes) + ")");
  }
  const std::byte* p = bytes.data();
  if (LoadLE32(p + kMagicOffset) != kMagic) {
    return CorruptError("qed: bad magic at 0x0");
  }
  Header h;
  const uint32_t cluster_size = LoadLE32(p + kClusterSizeOffset);
  const uint32_t table_size = LoadLE32(p + kTableSizeOffset);
  h.cluster_bits = static_cast<uint32_t>(std::countr_zero(cluster_size));
  h.table_clusters = table_size;
  h.header_clusters = LoadLE32(p + kHeaderSizeOffset);
  h.features = LoadLE64(p + kFeaturesOffset);
  h.compat_features = LoadLE64(p + kCompatFeaturesOffset);
  h.autoclear_features = LoadLE64(p + kAutoclearFeaturesOffset);
  h.l1_offset = LoadLE64(p + kL1OffsetOffset);
  h.image_bytes = LoadLE64(p + kImageSizeOffset);
  h.backing_name_offset = LoadLE32(p + kBackingNameOffsetOffset);
  h.backing_name_bytes = LoadLE32(p + kBackingNameSizeOffset);
  if (uint64_t unknown = h.features & ~kKnownFeatures; unknown != 0) {
    return UnsupportedError("qed: unknown feature bits " + Hex(unknown) + " at 0x10");
  }
  IMGFS_RETURN_IF_ERROR(CheckSizes(h, cluster_size, table_size));
  // Entries per table: table_size * cluster_size / 8, a power of 2.
  h.l2_entry_bits = static_cast<uint32_t>(std::countr_zero(table_size)) + h.cluster_bits - 3;
  if (h.image_bytes % 512 != 0) {
    return CorruptError("qed: image size " + std::to_string(h.image_bytes) +
                        " at 0x30 is not a multiple of 512");
  }
  // image_size <= TABLE_NOFFSETS^2 * cluster_size ("Tables").
  const uint32_t max_bits = 2 * h.l2_entry_bits + h.cluster_bits;
  if (max_bits < 64 && h.image_bytes > uint64_t{1} << max_bits) {
    return CorruptError("qed: image size " + std::to_string(h.image_bytes) +
                        " at 0x30 is larger than the tables can map");
  }
  const uint32_t coverage_bits = h.l2_entry_bits + h.cluster_bits;
  h.l1_entries = DivRoundUp(h.image_bytes, uint64_t{1} << coverage_bits);  // coverage_bits <= 53
  if (h.l1_offset % h.cluster_bytes() != 0 || h.l1_offset < h.header_bytes()) {
    return CorruptError("qed: L1 table offset " + Hex(h.l1_offset) +
                        " at 0x28 is not a cluster after the header");
  }
  TwoLevelLayout layout;
  layout.format = "qed";
  layout.l1_offset = h.l1_offset;
  layout.l1_entries = h.l1_entries;
  IMGFS_RETURN_IF_ERROR(TwoLevelTable::CheckL1(layout, file_size, kMaxL1Bytes));
  if (h.has_backing()) {
    if (h.backing_name_bytes > kMaxBackingNameBytes) {
      return UnsupportedError("qed: backing file name of " + std::to_string(h.backing_name_bytes) +
                              " bytes is longer than 4095");
    }
    if (!RangeWithin(h.backing_name_offset, h.backing_name_bytes, h.header_bytes()) ||
        !RangeWithin(h.backing_name_offset, h.backing_name_bytes, file_size)) {
      return CorruptError("qed: backing file name at " + Hex(h.backing_name_offset) +
                          " lies outside the header clusters or the file (size " + Hex(file_size) +
                          ")");
    }
  }
  return h;
}

}  // namespace imgfs::qed
