// SPDX-License-Identifier: MIT
// qcow2 compressed clusters (QEMU docs/interop/qcow2.txt, "Compressed
// Clusters Descriptor" and the compression_type header field) mapped onto
// the codec library (core/codec/codec.h): the zlib type is raw deflate, the
// zstd type zstd frames.
#pragma once

#include <cstddef>
#include <span>

#include "core/codec/codec.h"
#include "core/status.h"
#include "formats/qcow2/header.h"

namespace imgfs::qcow2 {

// The codec of a compression_type.
inline codec::Codec ClusterCodec(CompressionType type) {
  return type == CompressionType::kZstd ? codec::Codec::kZstd : codec::Codec::kDeflateRaw;
}

// Decompresses `in` (a sector-rounded extent: trailing bytes after the
// stream are padding) into exactly out.size() bytes. The stream must fill
// `out` completely, as QEMU requires. kCorrupt on bad data. Thread-safe:
// each thread keeps its own decompressor context.
inline Status DecompressCluster(CompressionType type, std::span<const std::byte> in,
                                std::span<std::byte> out) {
  return codec::Decompress(ClusterCodec(type), in, out);
}

// Inflates only the first out.size() bytes of a zlib-type cluster (raw
// deflate) and stops there (codec::DecompressPrefix: zlib's streaming
// inflate, cheaper than libdeflate's whole-cluster one for a prefix of up
// to about half a cluster). The stream after the prefix is not looked at.
// kCorrupt on bad data or a stream that ends before the prefix does.
// Thread-safe.
inline Status InflatePrefix(std::span<const std::byte> in, std::span<std::byte> out) {
  return codec::DecompressPrefix(codec::Codec::kDeflateRaw, in, out);
}

}  // namespace imgfs::qcow2
