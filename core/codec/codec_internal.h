// SPDX-License-Identifier: MIT
// The per-library halves of codec.cc, one .cc each (deflate.cc, isal.cc,
// zstd.cc, bzip2.cc, xz.cc, lz4.cc, lzo.cc); isal.cc, bzip2.cc, xz.cc, lz4.cc
// and lzo.cc are compiled only when their library was found
// (IMGFS_HAVE_ISAL, IMGFS_HAVE_BZIP2, IMGFS_HAVE_LZMA, IMGFS_HAVE_LZ4,
// IMGFS_HAVE_LZO). Not part of the interface:
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

// Deflate, raw (zlib_header false) or in a zlib wrapper, on the back end
// deflate.cc chooses per operation and level (its table, by measurement).
Status Inflate(bool zlib_header, std::span<const std::byte> in, std::span<std::byte> out,
               Fill fill);
Result<std::vector<std::byte>> Deflate(bool zlib_header, int level, std::span<const std::byte> in);

// The deflate back ends themselves, for Inflate/Deflate and for the tests
// and benchmarks that compare them. Each keeps per-thread state. Levels are
// the back end's own: libdeflate 0..12, ISA-L 0..kIsalMaxLevel.
Status LibdeflateInflate(bool zlib_header, std::span<const std::byte> in, std::span<std::byte> out);
Status ZlibInflatePrefix(bool zlib_header, std::span<const std::byte> in, std::span<std::byte> out);
Result<std::vector<std::byte>> LibdeflateDeflate(bool zlib_header, int level,
                                                 std::span<const std::byte> in);
// ISA-L (isal.cc) when IsalBuilt(); otherwise these are kUnsupported.
inline constexpr int kIsalMaxLevel = 3;
bool IsalBuilt();
Status IsalInflate(bool zlib_header, std::span<const std::byte> in, std::span<std::byte> out,
                   Fill fill);
Result<std::vector<std::byte>> IsalDeflate(bool zlib_header, int level,
                                           std::span<const std::byte> in);

Status Unzstd(std::span<const std::byte> in, std::span<std::byte> out, Fill fill);
Result<std::vector<std::byte>> Zstd(int level, std::span<const std::byte> in);

Status Bunzip2(std::span<const std::byte> in, std::span<std::byte> out, Fill fill);
Result<std::vector<std::byte>> Bzip2(int level, std::span<const std::byte> in);

Status Unxz(std::span<const std::byte> in, std::span<std::byte> out, Fill fill);
Result<std::vector<std::byte>> Xz(int level, std::span<const std::byte> in);

// LZ4 raw blocks (lz4.cc) and LZO1X streams (lzo.cc), as cloop 4.x stores
// them. lzo has no prefix mode (kUnsupported).
Status Unlz4(std::span<const std::byte> in, std::span<std::byte> out, Fill fill);
Result<std::vector<std::byte>> Lz4(int level, std::span<const std::byte> in);
Status Unlzo(std::span<const std::byte> in, std::span<std::byte> out, Fill fill);
Result<std::vector<std::byte>> Lzo(int level, std::span<const std::byte> in);

}  // namespace imgfs::codec::internal
