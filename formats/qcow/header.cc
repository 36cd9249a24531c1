// SPDX-License-Identifier: MIT
// Decoding and validation of the qcow (version 1) header.
#include "formats/qcow/header.h"

#include "core/blockmap/two_level_table.h"
#include "core/util/checked.h"
#include "core/util/endian.h"
#include "core/util/hex.h"

namespace imgfs::qcow {

Result<Header> DecodeHeader(std::span<const std::byte> bytes, uint64_t file_size) {
  if (bytes.size() < kHeaderBytes) {
    return CorruptError("qcow: header truncated (file is " + std::to_string(file_size) +
                        " bytes, the header " + std::to_string(kHeaderBytes) + ")");
  }
  const std::byte* p = bytes.data();
  if (LoadBE32(p + kMagicOffset) != kMagic) {
    return CorruptError("qcow: bad magic at 0x0");
  }
  if (uint32_t v = LoadBE32(p + kVersionOffset); v != kVersion) {
    return UnsupportedError("qcow: version " + std::to_string(v) + " at 0x4 is not 1");
  }
  Header h;
  h.backing_name_offset = LoadBE64(p + kBackingOffsetOffset);
  h.backing_name_bytes = LoadBE32(p + kBackingSizeOffset);
  h.mtime = LoadBE32(p + kMtimeOffset);
  h.size_bytes = LoadBE64(p + kSizeOffset);
  h.cluster_bits = static_cast<uint32_t>(p[kClusterBitsOffset]);
  h.l2_bits = static_cast<uint32_t>(p[kL2BitsOffset]);
  h.crypt_method = LoadBE32(p + kCryptMethodOffset);
  h.l1_offset = LoadBE64(p + kL1OffsetOffset);
  if (h.crypt_method != kCryptNone && h.crypt_method != kCryptAes) {
    return UnsupportedError("qcow: unknown encryption method " + std::to_string(h.crypt_method) +
                            " at 0x24");
  }
  if (h.cluster_bits < kMinClusterBits || h.cluster_bits > kMaxClusterBits) {
    return UnsupportedError("qcow: cluster_bits " + std::to_string(h.cluster_bits) +
                            " at 0x20 outside 9..16");
  }
  if (h.l2_bits < kMinL2Bits || h.l2_bits > kMaxL2Bits) {
    return UnsupportedError("qcow: l2_bits " + std::to_string(h.l2_bits) +
                            " at 0x21 outside 6..13");
  }
  if (h.backing_name_offset != 0 && h.backing_name_bytes != 0) {
    if (h.backing_name_bytes > kMaxBackingNameBytes) {
      return UnsupportedError("qcow: backing file name of " + std::to_string(h.backing_name_bytes) +
                              " bytes is longer than 1023");
    }
    if (!RangeWithin(h.backing_name_offset, h.backing_name_bytes, file_size)) {
      return CorruptError("qcow: backing file name at " + Hex(h.backing_name_offset) +
                          " extends past end of file (size " + Hex(file_size) + ")");
    }
  }
  const uint32_t coverage_bits = h.cluster_bits + h.l2_bits;
  h.l1_entries = DivRoundUp(h.size_bytes, uint64_t{1} << coverage_bits);
  TwoLevelLayout layout;
  layout.format = "qcow";
  layout.l1_offset = h.l1_offset;
  layout.l1_entries = h.l1_entries;
  IMGFS_RETURN_IF_ERROR(TwoLevelTable::CheckL1(layout, file_size, kMaxL1Bytes));
  return h;
}

CompressedCluster DecodeCompressed(uint64_t entry, uint32_t cluster_bits) {
  const uint32_t size_shift = 63 - cluster_bits;
  CompressedCluster c;
  c.host_offset = entry & ((uint64_t{1} << size_shift) - 1);
  c.stored_bytes = (entry >> size_shift) & ((uint64_t{1} << cluster_bits) - 1);
  return c;
}

}  // namespace imgfs::qcow
