// SPDX-License-Identifier: MIT
// Decompression of qcow2 compressed clusters (QEMU docs/interop/qcow2.txt,
// "Compressed Clusters Descriptor" and the compression_type header field):
// raw deflate (zlib type) or zstd frames.
#pragma once

#include <cstddef>
#include <span>

#include "core/status.h"
#include "formats/qcow2/header.h"

namespace imgfs::qcow2 {

// Decompresses `in` (a sector-rounded extent: trailing bytes after the
// stream are padding) into exactly out.size() bytes. The stream must fill
// `out` completely, as QEMU requires. kCorrupt on bad data. Thread-safe:
// each thread keeps its own decompressor context.
Status DecompressCluster(CompressionType type, std::span<const std::byte> in,
                         std::span<std::byte> out);

// Inflates only the first out.size() bytes of a zlib-type cluster (raw
// deflate) and stops there. zlib's streaming inflate runs at about half
// libdeflate's speed but, unlike it, can stop early, so a prefix of up to
// about half a cluster is cheaper this way (docs/BENCHMARKS.md, "Prefix
// inflate"). The stream after the prefix is not looked at. kCorrupt on bad
// data or a stream that ends before the prefix does. Thread-safe.
Status InflatePrefix(std::span<const std::byte> in, std::span<std::byte> out);

}  // namespace imgfs::qcow2
