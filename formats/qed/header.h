// SPDX-License-Identifier: MIT
// The QED header (QEMU docs/interop/qed_spec.rst, "Header"), all fields
// little-endian:
//
//   0x00 magic "QED\0"       0x04 cluster_size      0x08 table_size (clusters)
//   0x0c header_size (clusters)                     0x10 features
//   0x18 compat_features     0x20 autoclear_features
//   0x28 l1_table_offset     0x30 image_size
//   0x38 backing_filename_offset (from the start of the header)
//   0x3c backing_filename_size
//
// L1 and L2 tables are table_size clusters of u64 offsets. An L2 entry is
// 0 (unallocated: the backing file, else zeros), 1 (a zero cluster: zeros,
// even over a backing file) or the cluster-aligned offset of the data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/result.h"

namespace imgfs::qed {

inline constexpr uint32_t kMagic = 0x00444551;  // "QED\0" read little-endian
inline constexpr size_t kMagicOffset = 0x00;
inline constexpr size_t kClusterSizeOffset = 0x04;
inline constexpr size_t kTableSizeOffset = 0x08;
inline constexpr size_t kHeaderSizeOffset = 0x0c;
inline constexpr size_t kFeaturesOffset = 0x10;
inline constexpr size_t kCompatFeaturesOffset = 0x18;
inline constexpr size_t kAutoclearFeaturesOffset = 0x20;
inline constexpr size_t kL1OffsetOffset = 0x28;
inline constexpr size_t kImageSizeOffset = 0x30;
inline constexpr size_t kBackingNameOffsetOffset = 0x38;
inline constexpr size_t kBackingNameSizeOffset = 0x3c;
inline constexpr size_t kHeaderBytes = 0x40;

// "Feature bits" of the spec.
inline constexpr uint64_t kFeatureBackingFile = 0x01;
inline constexpr uint64_t kFeatureNeedCheck = 0x02;
inline constexpr uint64_t kFeatureBackingFormatNoProbe = 0x04;
inline constexpr uint64_t kKnownFeatures =
    kFeatureBackingFile | kFeatureNeedCheck | kFeatureBackingFormatNoProbe;

// "cluster_size must be a power of 2 in range [2^12, 2^26]".
inline constexpr uint32_t kMinClusterBits = 12;
inline constexpr uint32_t kMaxClusterBits = 26;
// "table_size must be a power of 2 in range [1, 16]".
inline constexpr uint32_t kMaxTableClusters = 16;
// Header clusters accepted: the header itself plus room for a backing file
// name (QEMU writes 1); more only ever holds padding.
inline constexpr uint32_t kMaxHeaderClusters = 1024;
// QEMU reads backing file names into a PATH_MAX buffer.
inline constexpr uint32_t kMaxBackingNameBytes = 4095;
// Data cluster entry 1: a zero cluster ("Data cluster offsets").
inline constexpr uint64_t kZeroCluster = 1;

struct Header {
  uint32_t cluster_bits = 16;
  uint32_t table_clusters = 4;
  uint32_t header_clusters = 1;
  uint64_t features = 0;
  uint64_t compat_features = 0;
  uint64_t autoclear_features = 0;
  uint64_t l1_offset = 0;
  uint64_t image_bytes = 0;
  uint32_t backing_name_offset = 0;
  uint32_t backing_name_bytes = 0;
  uint32_t l2_entry_bits = 0;  // derived: log2 of entries per table
  uint64_t l1_entries = 0;     // derived: L1 entries covering image_bytes

  uint64_t cluster_bytes() const { return uint64_t{1} << cluster_bits; }
  uint64_t header_bytes() const { return uint64_t{header_clusters} << cluster_bits; }
  uint64_t table_bytes() const { return uint64_t{table_clusters} << cluster_bits; }
  bool has_backing() const { return (features & kFeatureBackingFile) != 0; }
  bool need_check() const { return (features & kFeatureNeedCheck) != 0; }
  bool backing_raw() const { return (features & kFeatureBackingFormatNoProbe) != 0; }
};

// Decodes the first kHeaderBytes (or fewer: a short file) of a file of
// `file_size` bytes. kCorrupt for a short file, a bad magic, an image size
// not a multiple of 512 or larger than the tables can map, a misaligned L1
// table or one past the end of the file, a backing file name outside the
// header clusters; kUnsupported for unknown feature bits, a cluster or
// table size outside the spec's range, or more than kMaxHeaderClusters.
Result<Header> DecodeHeader(std::span<const std::byte> bytes, uint64_t file_size);

}  // namespace imgfs::qed
