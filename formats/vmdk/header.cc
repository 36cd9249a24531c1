// SPDX-License-Identifier: MIT
// The hosted sparse extent header (see header.h).
#include "formats/vmdk/header.h"

#include <string>

#include "core/util/checked.h"
#include "core/util/endian.h"

namespace imgfs::vmdk {
namespace {

// Field offsets ("Hosted Sparse Extent Header", SparseExtentHeader).
constexpr size_t kMagicAt = 0;
constexpr size_t kVersionAt = 4;
constexpr size_t kFlagsAt = 8;
constexpr size_t kCapacityAt = 12;
constexpr size_t kGrainSizeAt = 20;
constexpr size_t kDescriptorOffsetAt = 28;
constexpr size_t kDescriptorSizeAt = 36;
constexpr size_t kNumGtesPerGtAt = 44;
constexpr size_t kRgdOffsetAt = 48;
constexpr size_t kGdOffsetAt = 56;
constexpr size_t kOverheadAt = 64;
constexpr size_t kUncleanShutdownAt = 72;
constexpr size_t kNewlineCharsAt = 73;  // '\n', ' ', '\r', '\n'
constexpr size_t kCompressAlgorithmAt = 77;

constexpr char kNewlineChars[4] = {'\n', ' ', '\r', '\n'};

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

uint64_t SparseHeader::gd_entries() const {
  return DivRoundUp(capacity_sectors, gt_coverage_sectors());
}

Result<SparseHeader> DecodeSparseHeader(std::span<const std::byte> bytes) {
  if (bytes.size() < kSparseHeaderBytes) {
    return CorruptError("vmdk: sparse header is truncated (" + std::to_string(bytes.size()) +
                        " bytes, need 512)");
  }
  const std::byte* p = bytes.data();
  if (LoadLE32(p + kMagicAt) != kSparseMagic) {
    return CorruptError("vmdk: sparse header has no 'KDMV' magic");
  }
  SparseHeader h;
  h.version = LoadLE32(p + kVersionAt);
  if (h.version == 0 || h.version > 3) {
    return UnsupportedError("vmdk: sparse header version " + std::to_string(h.version) +
                            " is not supported (1 to 3)");
  }
  h.flags = LoadLE32(p + kFlagsAt);
  // Bits 16 and up change how grains are stored; lower ones are hints.
  if ((h.flags & ~kKnownFlags & 0xffff0000u) != 0) {
    return UnsupportedError("vmdk: sparse header has unknown incompatible flags 0x" +
                            std::to_string(h.flags));
  }
  h.capacity_sectors = LoadLE64(p + kCapacityAt);
  h.grain_sectors = LoadLE64(p + kGrainSizeAt);
  h.descriptor_sector = LoadLE64(p + kDescriptorOffsetAt);
  h.descriptor_sectors = LoadLE64(p + kDescriptorSizeAt);
  h.gtes_per_gt = LoadLE32(p + kNumGtesPerGtAt);
  h.rgd_sector = LoadLE64(p + kRgdOffsetAt);
  h.gd_sector = LoadLE64(p + kGdOffsetAt);
  h.overhead_sectors = LoadLE64(p + kOverheadAt);
  h.unclean_shutdown = p[kUncleanShutdownAt] != std::byte{0};
  h.compress_algorithm = LoadLE16(p + kCompressAlgorithmAt);
  if (!IsPowerOfTwo(h.grain_sectors) || h.grain_sectors > kMaxGrainSectors) {
    return CorruptError("vmdk: sparse header grain size of " + std::to_string(h.grain_sectors) +
                        " sectors is not a power of two up to " + std::to_string(kMaxGrainSectors));
  }
  if (h.gtes_per_gt == 0 || h.gtes_per_gt > kMaxGtesPerGt) {
    return CorruptError("vmdk: sparse header has " + std::to_string(h.gtes_per_gt) +
                        " entries per grain table (1.." + std::to_string(kMaxGtesPerGt) + ")");
  }
  if (h.capacity_sectors > kMaxCapacitySectors) {
    return CorruptError("vmdk: sparse header capacity of " + std::to_string(h.capacity_sectors) +
                        " sectors is absurd");
  }
  if (h.gd_entries() > kMaxGdEntries) {
    return UnsupportedError("vmdk: grain directory of " + std::to_string(h.gd_entries()) +
                            " entries is over the cap of " + std::to_string(kMaxGdEntries));
  }
  if ((h.flags & kFlagNewlineTest) != 0) {
    for (size_t i = 0; i < sizeof kNewlineChars; ++i) {
      if (p[kNewlineCharsAt + i] != static_cast<std::byte>(kNewlineChars[i])) {
        return CorruptError(
            "vmdk: sparse header newline test failed (file damaged by a text-mode transfer)");
      }
    }
  }
  if (h.compressed() && h.compress_algorithm != kCompressDeflate) {
    return UnsupportedError("vmdk: compression algorithm " + std::to_string(h.compress_algorithm) +
                            " is not supported (only 1, deflate)");
  }
  if (h.descriptor_sectors > kMaxCapacitySectors) {
    return CorruptError("vmdk: embedded descriptor size is absurd");
  }
  return h;
}

namespace {

// COWD fields (libvmdk, "VMware ESX sparse extent header").
constexpr size_t kCowdVersionAt = 4;
constexpr size_t kCowdCapacityAt = 12;
constexpr size_t kCowdGrainAt = 16;
constexpr size_t kCowdGdOffsetAt = 20;
constexpr size_t kCowdGdEntriesAt = 24;

}  // namespace

Result<SparseHeader> DecodeCowdHeader(std::span<const std::byte> bytes) {
  if (bytes.size() < kCowdHeaderBytes) {
    return CorruptError("vmdk: COWD header is truncated (" + std::to_string(bytes.size()) +
                        " bytes, need 2048)");
  }
  const std::byte* p = bytes.data();
  if (LoadLE32(p) != kCowdMagic) {
    return CorruptError("vmdk: COWD header has no 'COWD' magic");
  }
  SparseHeader h;
  h.version = LoadLE32(p + kCowdVersionAt);
  if (h.version != 1) {
    return UnsupportedError("vmdk: COWD version " + std::to_string(h.version) +
                            " is not supported (1)");
  }
  h.cowd = true;
  h.flags = 0;
  h.capacity_sectors = LoadLE32(p + kCowdCapacityAt);
  h.grain_sectors = LoadLE32(p + kCowdGrainAt);
  h.gd_sector = LoadLE32(p + kCowdGdOffsetAt);
  h.gtes_per_gt = kCowdGtesPerGt;
  const uint32_t gd_entries = LoadLE32(p + kCowdGdEntriesAt);
  if (!IsPowerOfTwo(h.grain_sectors) || h.grain_sectors > kMaxGrainSectors) {
    return CorruptError("vmdk: COWD grain size of " + std::to_string(h.grain_sectors) +
                        " sectors is not a power of two up to " + std::to_string(kMaxGrainSectors));
  }
  if (gd_entries < h.gd_entries()) {
    return CorruptError("vmdk: COWD grain directory of " + std::to_string(gd_entries) +
                        " entries does not cover " + std::to_string(h.capacity_sectors) +
                        " sectors");
  }
  return h;
}

std::vector<std::byte> EncodeCowdHeader(const SparseHeader& h, uint32_t gd_entries) {
  std::vector<std::byte> out(kCowdHeaderBytes);
  std::byte* p = out.data();
  StoreLE32(p, kCowdMagic);
  StoreLE32(p + kCowdVersionAt, 1);
  StoreLE32(p + 8, 3);  // flags, as ESX writes them
  StoreLE32(p + kCowdCapacityAt, static_cast<uint32_t>(h.capacity_sectors));
  StoreLE32(p + kCowdGrainAt, static_cast<uint32_t>(h.grain_sectors));
  StoreLE32(p + kCowdGdOffsetAt, static_cast<uint32_t>(h.gd_sector));
  StoreLE32(p + kCowdGdEntriesAt, gd_entries);
  return out;
}

std::vector<std::byte> EncodeSparseHeader(const SparseHeader& h) {
  std::vector<std::byte> out(kSparseHeaderBytes);
  std::byte* p = out.data();
  StoreLE32(p + kMagicAt, kSparseMagic);
  StoreLE32(p + kVersionAt, h.version);
  StoreLE32(p + kFlagsAt, h.flags);
  StoreLE64(p + kCapacityAt, h.capacity_sectors);
  StoreLE64(p + kGrainSizeAt, h.grain_sectors);
  StoreLE64(p + kDescriptorOffsetAt, h.descriptor_sector);
  StoreLE64(p + kDescriptorSizeAt, h.descriptor_sectors);
  StoreLE32(p + kNumGtesPerGtAt, h.gtes_per_gt);
  StoreLE64(p + kRgdOffsetAt, h.rgd_sector);
  StoreLE64(p + kGdOffsetAt, h.gd_sector);
  StoreLE64(p + kOverheadAt, h.overhead_sectors);
  p[kUncleanShutdownAt] = std::byte{h.unclean_shutdown ? uint8_t{1} : uint8_t{0}};
  for (size_t i = 0; i < sizeof kNewlineChars; ++i) {
    p[kNewlineCharsAt + i] = static_cast<std::byte>(kNewlineChars[i]);
  }
  StoreLE16(p + kCompressAlgorithmAt, h.compress_algorithm);
  return out;
}

}  // namespace imgfs::vmdk
