// SPDX-License-Identifier: MIT
// The per-library halves of codec.cc, one .cc each (deflate.cc, zstd.cc,
// bzip2.cc, xz.cc); bzip2.cc and xz.cc are compiled only when their library
// was found (IMGFS_HAVE_BZIP2, IMGFS_HAVE_LZMA). Not part of the interface:
// callers use codec.h, whose contracts these follow.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "core/result.h"
#include "core/status.h"

namespace imgfs::codec::internal {

// How much of the stream to decode: all of it, ending exactly at
// out.size() (Decompress), or only until `out` is full (DecompressPrefix).
enum class Fill { kExact, kPrefix };

// Deflate, raw (zlib_header false) or in a zlib wrapper. kExact uses
// libdeflate, kPrefix zlib's streaming inflate; both keep per-thread state.
Status Inflate(bool zlib_header, std::span<const std::byte> in, std::span<std::byte> out,
               Fill fill);
Result<std::vector<std::byte>> Deflate(bool zlib_header, int level, std::span<const std::byte> in);

Status Unzstd(std::span<const std::byte> in, std::span<std::byte> out, Fill fill);
Result<std::vector<std::byte>> Zstd(int level, std::span<const std::byte> in);

Status Bunzip2(std::span<const std::byte> in, std::span<std::byte> out, Fill fill);
Result<std::vector<std::byte>> Bzip2(int level, std::span<const std::byte> in);

Status Unxz(std::span<const std::byte> in, std::span<std::byte> out, Fill fill);
Result<std::vector<std::byte>> Xz(int level, std::span<const std::byte> in);

}  // namespace imgfs::codec::internal
