// SPDX-License-Identifier: MIT
// The qcow (version 1) header. There is no formal spec; the layout is the
// one QEMU's block/qcow.c documents in its QCowHeader struct and libyal's
// libqcow documentation describes, all fields big-endian:
//
//   0x00 magic "QFI\xfb"            0x04 version (1)
//   0x08 backing file name offset   0x10 backing file name size
//   0x14 mtime                      0x18 virtual size in bytes (u64)
//   0x20 cluster_bits (u8)          0x21 l2_bits (u8: log2 of L2 entries)
//   0x22 padding (u16)              0x24 crypt_method (0 none, 1 AES)
//   0x28 L1 table offset (u64)      0x30 end of header
//
// The L1 table holds ceil(size / 2^(cluster_bits + l2_bits)) u64 offsets
// of L2 tables (0: none); an L2 table holds 2^l2_bits u64 entries: 0 for
// an unallocated cluster, the host offset of the cluster, or, with bit 63
// set, a compressed cluster: the stored size in the cluster_bits bits
// below bit 63 and the host offset in the bits below those.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/result.h"

namespace imgfs::qcow {

inline constexpr uint32_t kMagic = 0x514649fb;  // "QFI\xfb"
inline constexpr uint32_t kVersion = 1;
inline constexpr size_t kMagicOffset = 0x00;
inline constexpr size_t kVersionOffset = 0x04;
inline constexpr size_t kBackingOffsetOffset = 0x08;
inline constexpr size_t kBackingSizeOffset = 0x10;
inline constexpr size_t kMtimeOffset = 0x14;
inline constexpr size_t kSizeOffset = 0x18;
inline constexpr size_t kClusterBitsOffset = 0x20;
inline constexpr size_t kL2BitsOffset = 0x21;
inline constexpr size_t kCryptMethodOffset = 0x24;
inline constexpr size_t kL1OffsetOffset = 0x28;
inline constexpr size_t kHeaderBytes = 0x30;

// Cluster sizes QEMU opens: 512 bytes to 64 KiB.
inline constexpr uint32_t kMinClusterBits = 9;
inline constexpr uint32_t kMaxClusterBits = 16;
// L2 tables QEMU opens: 64 to 8192 entries (512 bytes to 64 KiB).
inline constexpr uint32_t kMinL2Bits = 6;
inline constexpr uint32_t kMaxL2Bits = 13;
// QEMU refuses longer backing file names.
inline constexpr uint32_t kMaxBackingNameBytes = 1023;
// The largest L1 table opened (QEMU's qcow2 cap): 32 MiB of L1 maps
// 2^22 L2 tables, petabytes even with the smallest clusters.
inline constexpr uint64_t kMaxL1Bytes = uint64_t{32} << 20;

inline constexpr uint32_t kCryptNone = 0;
inline constexpr uint32_t kCryptAes = 1;

// L2 entry bit 63: a compressed cluster.
inline constexpr uint64_t kCompressedFlag = uint64_t{1} << 63;

struct Header {
  uint64_t backing_name_offset = 0;
  uint32_t backing_name_bytes = 0;
  uint32_t mtime = 0;
  uint64_t size_bytes = 0;  // as stored
  uint32_t cluster_bits = 12;
  uint32_t l2_bits = 9;
  uint32_t crypt_method = kCryptNone;
  uint64_t l1_offset = 0;
  uint64_t l1_entries = 0;  // derived from size, cluster_bits and l2_bits

  uint64_t cluster_bytes() const { return uint64_t{1} << cluster_bits; }
  // QEMU counts whole sectors: a size that is not a multiple of 512 reads
  // as the sectors it holds entirely.
  uint64_t disk_bytes() const { return size_bytes / 512 * 512; }
  bool encrypted() const { return crypt_method == kCryptAes; }
  bool has_backing() const { return backing_name_offset != 0 && backing_name_bytes != 0; }
};

// Decodes the first kHeaderBytes (or fewer: a short file) of a file of
// `file_size` bytes. kCorrupt for a short file, a bad magic, the backing
// name or the L1 table past the end of the file; kUnsupported for another
// version, an unknown crypt method (1, AES, is read: device.h),
// cluster_bits or l2_bits outside QEMU's range, or an L1 table over
// kMaxL1Bytes.
Result<Header> DecodeHeader(std::span<const std::byte> bytes, uint64_t file_size);

// A compressed L2 entry: where the stream is stored and how many bytes.
struct CompressedCluster {
  uint64_t host_offset = 0;
  uint64_t stored_bytes = 0;
};
CompressedCluster DecodeCompressed(uint64_t entry, uint32_t cluster_bits);

}  // namespace imgfs::qcow
