// SPDX-License-Identifier: MIT
// Builds small qcow2 headers and images byte by byte for unit tests, so
// each validation rule can be hit with one mutation.
#pragma once

#include <cstdint>
#include <string>

#include "core/util/endian.h"
#include "formats/qcow2/header.h"

namespace imgfs::qcow2::testing {

inline void Put64(std::string* s, uint64_t at, uint64_t v) {
  if (s->size() < at + 8) {
    s->resize(at + 8);
  }
  StoreBE64(reinterpret_cast<std::byte*>(s->data() + at), v);
}
inline void Put32(std::string* s, uint64_t at, uint32_t v) {
  if (s->size() < at + 4) {
    s->resize(at + 4);
  }
  StoreBE32(reinterpret_cast<std::byte*>(s->data() + at), v);
}
inline void Put16(std::string* s, uint64_t at, uint16_t v) {
  if (s->size() < at + 2) {
    s->resize(at + 2);
  }
  StoreBE16(reinterpret_cast<std::byte*>(s->data() + at), v);
}
inline void PutBytes(std::string* s, uint64_t at, const std::string& bytes) {
  if (s->size() < at + bytes.size()) {
    s->resize(at + bytes.size());
  }
  s->replace(at, bytes.size(), bytes);
}

// A 512-byte-cluster v3 image of 64 KiB:
//   0x000 header (112 bytes) + extensions
//   0x200 L1 table (2 entries)
//   0x400 refcount table (1 cluster)
//   0x600 refcount block (16-bit refcounts)
//   0x800 L2 table for guest 0..32 KiB
//   0xa00 data cluster (guest 0x0..0x200, bytes 0xab)
// Guest cluster 1 is a zero cluster; everything else is unallocated.
struct MiniImage {
  static constexpr uint64_t kL1 = 0x200;
  static constexpr uint64_t kRefTable = 0x400;
  static constexpr uint64_t kRefBlock = 0x600;
  static constexpr uint64_t kL2 = 0x800;
  static constexpr uint64_t kData = 0xa00;
  static constexpr uint64_t kSize = 64 * 1024;

  std::string bytes;

  MiniImage() {
    bytes.assign(0xc00, '\0');
    Put32(&bytes, kMagicOffset, kMagic);
    Put32(&bytes, kVersionOffset, 3);
    Put32(&bytes, kClusterBitsOffset, 9);
    Put64(&bytes, kSizeOffset, kSize);
    Put32(&bytes, kL1SizeOffset, 2);
    Put64(&bytes, kL1TableOffsetOffset, kL1);
    Put64(&bytes, kRefcountTableOffsetOffset, kRefTable);
    Put32(&bytes, kRefcountTableClustersOffset, 1);
    Put32(&bytes, kRefcountOrderOffset, 4);
    Put32(&bytes, kHeaderLengthOffset, 112);
    Put64(&bytes, kL1, kL2 | (1ull << 63));
    Put64(&bytes, kRefTable, kRefBlock);
    for (uint64_t c = 0; c < 6; ++c) {
      Put16(&bytes, kRefBlock + 2 * c, 1);
    }
    Put64(&bytes, kL2, kData | (1ull << 63));
    Put64(&bytes, kL2 + 8, 1);  // zero cluster
    bytes.replace(kData, 512, std::string(512, '\xab'));
  }

  void SetHeader64(size_t field, uint64_t v) { Put64(&bytes, field, v); }
  void SetHeader32(size_t field, uint32_t v) { Put32(&bytes, field, v); }
  // Appends a header extension at `at` (8-aligned, after the header).
  uint64_t AddExtension(uint64_t at, uint32_t type, const std::string& data) {
    Put32(&bytes, at, type);
    Put32(&bytes, at + 4, static_cast<uint32_t>(data.size()));
    PutBytes(&bytes, at + 8, data);
    uint64_t next = at + 8 + ((data.size() + 7) & ~size_t{7});
    Put32(&bytes, next, 0);  // end marker
    Put32(&bytes, next + 4, 0);
    return next;
  }
  std::span<const std::byte> head() const {
    return {reinterpret_cast<const std::byte*>(bytes.data()), std::min<size_t>(bytes.size(), 512)};
  }
};

}  // namespace imgfs::qcow2::testing
