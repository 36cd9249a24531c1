// SPDX-License-Identifier: MIT
// A tiny cloop writer for tests, from compressed_loop.h's layout with its
// own byte stores (it shares no code with formats/cloop; blocks are
// compressed with imgfs's codec library, whose output qemu-img and
// extract_compressed_fs read back in the oracle tests): V2.0 and V4.0, the
// header first or last, per-block compressor flags (zlib, none, xz, and
// any flag value with arbitrary bytes). It checks nothing.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "core/codec/codec.h"

namespace imgfs::cloop::testing {

struct CloopSpec {
  int version = 2;  // 2 or 4
  bool header_last = false;
  uint32_t block_bytes = 65536;
  std::string disk;  // padded with zeros to whole blocks
  // Per-block V4.0 flags (0 zlib, 1 none, 2 xz, others: the block's raw
  // bytes stored under that flag); missing entries are zlib.
  std::vector<uint8_t> flags;
};

inline void PutBE32(std::string* s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    (*s)[at + static_cast<size_t>(i)] = static_cast<char>(v >> (24 - 8 * i));
  }
}
inline void PutBE64(std::string* s, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    (*s)[at + static_cast<size_t>(i)] = static_cast<char>(v >> (56 - 8 * i));
  }
}

inline std::string CloopHead(int version, uint32_t block_bytes, uint32_t blocks) {
  std::string head(136, '\0');
  const std::string script = std::string("#!/bin/sh\n#V") + (version == 4 ? "4.0" : "2.0") +
                             " Format\nmodprobe cloop file=$0 && mount -r -t iso9660 "
                             "/dev/cloop $1\nexit $?\n";
  std::memcpy(head.data(), script.data(), script.size());
  PutBE32(&head, 128, block_bytes);
  PutBE32(&head, 132, blocks);
  return head;
}

inline std::string PaddedDisk(const CloopSpec& spec) {
  std::string disk = spec.disk;
  disk.resize((disk.size() + spec.block_bytes - 1) / spec.block_bytes * spec.block_bytes, '\0');
  return disk;
}

inline std::string BuildCloop(const CloopSpec& spec) {
  const std::string disk = PaddedDisk(spec);
  const size_t n = disk.size() / spec.block_bytes;
  std::vector<std::string> stored;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t flag = i < spec.flags.size() ? spec.flags[i] : 0;
    std::span<const std::byte> in(
        reinterpret_cast<const std::byte*>(disk.data()) + i * spec.block_bytes, spec.block_bytes);
    if (flag == 0 || flag == 2) {
      auto c = codec::Compress(flag == 0 ? codec::Codec::kZlib : codec::Codec::kXz, 6, in);
      stored.emplace_back(reinterpret_cast<const char*>(c->data()), c->size());
    } else {
      stored.emplace_back(reinterpret_cast<const char*>(in.data()), in.size());
    }
  }
  const std::string head = CloopHead(spec.version, spec.block_bytes, static_cast<uint32_t>(n));
  std::string index((n + 1) * 8, '\0');
  uint64_t pos = spec.header_last ? 0 : head.size() + index.size();
  std::string blocks;
  for (size_t i = 0; i <= n; ++i) {
    const uint64_t flag = i < n && i < spec.flags.size() ? spec.flags[i] : 0;
    PutBE64(&index, i * 8, pos | (spec.version == 4 ? flag << 60 : 0));
    if (i < n) {
      blocks += stored[i];
      pos += stored[i].size();
    }
  }
  return spec.header_last ? blocks + index + head : head + index + blocks;
}

}  // namespace imgfs::cloop::testing
