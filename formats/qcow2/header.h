// SPDX-License-Identifier: MIT
// qcow2 image header and header extensions (QEMU docs/interop/qcow2.txt,
// "Header" and "Header extensions"), versions 2 and 3. Decoding only
// validates what can be checked from the header bytes and the file size;
// tables are checked where they are loaded (tables.cc, snapshots.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/io/file.h"
#include "core/result.h"

namespace imgfs::qcow2 {

// Header field offsets (spec "Header").
inline constexpr size_t kMagicOffset = 0;
inline constexpr size_t kVersionOffset = 4;
inline constexpr size_t kBackingFileOffsetOffset = 8;
inline constexpr size_t kBackingFileSizeOffset = 16;
inline constexpr size_t kClusterBitsOffset = 20;
inline constexpr size_t kSizeOffset = 24;
inline constexpr size_t kCryptMethodOffset = 32;
inline constexpr size_t kL1SizeOffset = 36;
inline constexpr size_t kL1TableOffsetOffset = 40;
inline constexpr size_t kRefcountTableOffsetOffset = 48;
inline constexpr size_t kRefcountTableClustersOffset = 56;
inline constexpr size_t kNbSnapshotsOffset = 60;
inline constexpr size_t kSnapshotsOffsetOffset = 64;
inline constexpr size_t kIncompatibleFeaturesOffset = 72;
inline constexpr size_t kCompatibleFeaturesOffset = 80;
inline constexpr size_t kAutoclearFeaturesOffset = 88;
inline constexpr size_t kRefcountOrderOffset = 96;
inline constexpr size_t kHeaderLengthOffset = 100;
inline constexpr size_t kCompressionTypeOffset = 104;

inline constexpr uint32_t kMagic = 0x514649fb;  // "QFI\xfb"
inline constexpr size_t kV2HeaderBytes = 72;
inline constexpr size_t kV3HeaderBytes = 104;
// v3 headers carrying compression_type are 112 bytes (104 + 1, padded to 8).
inline constexpr size_t kV3CompressionHeaderBytes = 112;

inline constexpr uint32_t kMinClusterBits = 9;   // 512 B, spec minimum
inline constexpr uint32_t kMaxClusterBits = 21;  // 2 MiB, spec maximum

// Incompatible feature bits.
inline constexpr uint64_t kIncompatDirty = 1u << 0;
inline constexpr uint64_t kIncompatCorrupt = 1u << 1;
inline constexpr uint64_t kIncompatDataFile = 1u << 2;
inline constexpr uint64_t kIncompatCompression = 1u << 3;
inline constexpr uint64_t kIncompatExtendedL2 = 1u << 4;
inline constexpr uint64_t kIncompatKnown = (1u << 5) - 1;
// Compatible and autoclear bits.
inline constexpr uint64_t kCompatLazyRefcounts = 1u << 0;
inline constexpr uint64_t kAutoclearBitmaps = 1u << 0;
inline constexpr uint64_t kAutoclearDataFileRaw = 1u << 1;
inline constexpr uint64_t kCompatKnown = kCompatLazyRefcounts;
inline constexpr uint64_t kAutoclearKnown = kAutoclearBitmaps | kAutoclearDataFileRaw;

// Header extension types (spec "Header extensions").
inline constexpr uint32_t kExtEnd = 0x00000000;
inline constexpr uint32_t kExtBackingFormat = 0xe2792aca;
inline constexpr uint32_t kExtFeatureNames = 0x6803f857;
inline constexpr uint32_t kExtBitmaps = 0x23852875;
inline constexpr uint32_t kExtCrypto = 0x0537be77;
inline constexpr uint32_t kExtDataFile = 0x44415441;

// Caps on what the header may ask for.
// The header with extensions must fit in the first cluster (the spec puts
// them "directly after the header" and QEMU reads only that cluster).
inline constexpr size_t kMaxExtensions = 1024;  // far above the 6 known types
// QEMU refuses longer backing names (block/qcow2.c, 1023).
inline constexpr uint32_t kMaxBackingNameBytes = 1023;
// QEMU's QCOW_MAX_L1_SIZE: 32 MiB of L1 table (4 Mi entries).
inline constexpr uint64_t kMaxL1Bytes = 32ull << 20;
// QEMU's QCOW_MAX_REFTABLE_SIZE: 8 MiB of refcount table.
inline constexpr uint64_t kMaxRefcountTableBytes = 8ull << 20;
// QEMU's QCOW_MAX_SNAPSHOTS.
inline constexpr uint32_t kMaxSnapshots = 65536;

enum class CompressionType : uint8_t { kZlib = 0, kZstd = 1 };

// The bitmaps header extension (spec "Bitmaps extension"): where the
// bitmap directory lives. Decoded as stored; the checker validates it.
inline constexpr uint32_t kBitmapsExtensionBytes = 24;  // its payload when valid
struct BitmapsExtension {
  uint32_t data_bytes = 0;  // extension length as stored (24 when valid)
  uint32_t nb_bitmaps = 0;
  uint32_t reserved = 0;  // must be zero
  uint64_t directory_bytes = 0;
  uint64_t directory_offset = 0;
};

// crypt_method values (spec "Header").
inline constexpr uint32_t kCryptNone = 0;
inline constexpr uint32_t kCryptAes = 1;
inline constexpr uint32_t kCryptLuks = 2;
// The smallest encryption header the LUKS method can hold: a LUKS1
// partition header (spec "Full disk encryption header pointer").
inline constexpr uint64_t kMinCryptoHeaderBytes = 592;

// The full disk encryption header extension: where the LUKS header lives.
struct CryptoExtension {
  uint64_t offset = 0;        // cluster aligned, past the header cluster
  uint64_t length_bytes = 0;  // inside the file
};

struct FeatureName {
  uint8_t type = 0;  // 0 incompatible, 1 compatible, 2 autoclear
  uint8_t bit = 0;
  std::string name;
};

struct Header {
  uint32_t version = 0;
  uint64_t backing_file_offset = 0;
  uint32_t backing_file_size = 0;
  uint32_t cluster_bits = 0;
  uint64_t size_bytes = 0;
  uint32_t crypt_method = 0;
  uint32_t l1_size = 0;  // entries
  uint64_t l1_table_offset = 0;
  uint64_t refcount_table_offset = 0;
  uint32_t refcount_table_clusters = 0;
  uint32_t nb_snapshots = 0;
  uint64_t snapshots_offset = 0;
  uint64_t incompatible_features = 0;
  uint64_t compatible_features = 0;
  uint64_t autoclear_features = 0;
  uint32_t refcount_order = 4;
  uint32_t header_length = 0;
  CompressionType compression_type = CompressionType::kZlib;

  // From the header extensions and the backing name field.
  std::string backing_file;
  std::string backing_format;
  std::string data_file;
  std::vector<FeatureName> feature_names;
  std::optional<BitmapsExtension> bitmaps;  // the image has a bitmaps extension
  std::optional<CryptoExtension> crypto_header;

  uint64_t cluster_size() const { return uint64_t{1} << cluster_bits; }
  bool extended_l2() const { return (incompatible_features & kIncompatExtendedL2) != 0; }
  bool has_data_file() const { return (incompatible_features & kIncompatDataFile) != 0; }
  bool data_file_raw() const { return (autoclear_features & kAutoclearDataFileRaw) != 0; }
  bool dirty() const { return (incompatible_features & kIncompatDirty) != 0; }
  bool corrupt() const { return (incompatible_features & kIncompatCorrupt) != 0; }
  bool encrypted() const { return crypt_method != kCryptNone; }
  // The bitmaps extension counts only with autoclear bit 0 set; otherwise
  // a program without bitmap support wrote the image and the bitmaps are
  // stale (spec "autoclear_features").
  bool bitmaps_consistent() const {
    return bitmaps.has_value() && (autoclear_features & kAutoclearBitmaps) != 0;
  }
  // Bytes per L2 entry: 8, or 16 with extended L2 entries.
  uint32_t l2_entry_bits() const { return extended_l2() ? 4 : 3; }
  // log2 of the L2 entries per table.
  uint32_t l2_bits() const { return cluster_bits - l2_entry_bits(); }
};

// Decodes and validates the header, its extensions and the backing file name.
// `first_cluster` holds the file's first bytes: at least the first cluster,
// or the whole file when it is shorter. Returns kCorrupt for malformed
// headers (also an encryption header extension that is missing for LUKS,
// present for another method, misaligned, over the header cluster or the
// L1 or refcount table, or past the end of the file) and kUnsupported for
// valid features imgfs does not read (unknown incompatible bits or
// crypt_method, the corrupt bit).
Result<Header> DecodeHeader(std::span<const std::byte> first_cluster, uint64_t file_size);

// Reads the first cluster (or the whole file when shorter): the header,
// its extensions and the backing file name all live there. kCorrupt when
// the file is shorter than a v2 header or cluster_bits is out of range.
Result<std::vector<std::byte>> ReadHeaderCluster(const File& file, uint64_t file_size);

// The name of an incompatible feature bit, from the image's feature name
// table when it has one, else the spec's name, else "bit N".
std::string IncompatibleFeatureName(const Header& h, unsigned bit);

// Feature bits of type `type` (0 incompatible, 1 compatible, 2 autoclear)
// set in the header that this spec version does not define, named from the
// image's feature name table ("name (bit N)") or as "unknown (bit N)".
std::vector<std::string> UnknownFeatureNames(const Header& h, uint8_t type);

}  // namespace imgfs::qcow2
