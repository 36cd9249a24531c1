// SPDX-License-Identifier: MIT
// Crc32 (crc32.h): ISA-L's PCLMUL CRC-32 when built with libisal
// (IMGFS_HAVE_ISAL, core/codec/sources.cmake), else zlib's. Both are the
// reflected IEEE CRC with zlib's pre- and post-inversion, so a previous
// value continues the same way.
#include "core/util/crc32.h"

#ifndef IMGFS_HAVE_ISAL
#error "core/codec/sources.cmake defines IMGFS_HAVE_ISAL to 0 or 1"
#endif
#if IMGFS_HAVE_ISAL
#include <isa-l/crc.h>
#endif

namespace imgfs {

uint32_t Crc32(std::span<const std::byte> data, uint32_t crc) {
#if IMGFS_HAVE_ISAL
  return crc32_gzip_refl(crc, reinterpret_cast<const unsigned char*>(data.data()), data.size());
#else
  unsigned long c = crc;  // NOLINT(google-runtime-int): zlib's type
  const auto* p = reinterpret_cast<const Bytef*>(data.data());
  size_t left = data.size();
  while (left > 0) {
    uInt n = left > (1U << 30) ? (1U << 30) : static_cast<uInt>(left);
    c = crc32(c, p, n);
    p += n;
    left -= n;
  }
  return static_cast<uint32_t>(c);
#endif
}

}  // namespace imgfs
