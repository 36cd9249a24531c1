// SPDX-License-Identifier: MIT
// A deliberately small UDIF reader for the writer's unit tests: koly, the
// <data> elements of the blkx array, mish tables, chunks. It shares only
// DecodeKoly/DecodeBlkx/DecompressChunk with the real driver, so the writer
// is checked without trusting the DMG device it will be read with.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/crc32.h"
#include "formats/dmg/codec.h"
#include "formats/dmg/udif.h"

namespace imgfs::dmg::testing {

inline std::vector<std::byte> DecodeBase64(std::string_view text) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<std::byte> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    size_t v = kAlphabet.find(c);
    if (v == std::string_view::npos) {
      continue;  // whitespace and padding
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::byte>((acc >> bits) & 0xff));
    }
  }
  return out;
}

struct ReadBack {
  Koly koly;
  std::string plist;
  std::vector<BlkxTable> tables;
  std::string disk;  // the decoded disk, sector_count * 512 bytes
};

// Parses `file` (a whole .dmg) and decodes every chunk into ReadBack::disk.
inline ::testing::AssertionResult ReadBackDmg(const std::string& file, ReadBack* out) {
  auto bytes = std::as_bytes(std::span(file));
  if (file.size() < kKolyBytes) {
    return ::testing::AssertionFailure() << "shorter than a koly";
  }
  auto koly = DecodeKoly(bytes.last(kKolyBytes));
  if (!koly.ok()) {
    return ::testing::AssertionFailure() << koly.status().ToString();
  }
  out->koly = *koly;
  out->plist = file.substr(koly->xml_offset, koly->xml_length);
  std::string_view blkx(out->plist);
  blkx = blkx.substr(0, blkx.find("<key>plst</key>"));
  out->disk.assign(koly->sector_count * kSectorBytes, '\x7f');  // poison
  for (size_t pos = 0; (pos = blkx.find("<data>", pos)) != std::string_view::npos;) {
    size_t end = blkx.find("</data>", pos);
    auto mish = DecodeBase64(blkx.substr(pos + 6, end - pos - 6));
    pos = end;
    auto table = DecodeBlkx(mish);
    if (!table.ok()) {
      return ::testing::AssertionFailure() << table.status().ToString();
    }
    for (const Chunk& c : table->chunks) {
      if (c.type == ChunkType::kTerminator || c.type == ChunkType::kComment) {
        continue;
      }
      uint64_t at = (table->first_sector + c.sector_number) * kSectorBytes;
      auto dst =
          std::as_writable_bytes(std::span(out->disk)).subspan(at, c.sector_count * kSectorBytes);
      auto src = bytes.subspan(koly->data_fork_offset + table->data_offset + c.compressed_offset,
                               c.compressed_length);
      if (c.type == ChunkType::kZeroFill || c.type == ChunkType::kIgnore) {
        std::memset(dst.data(), 0, dst.size());
      } else if (c.type == ChunkType::kRaw) {
        if (src.size() != dst.size()) {
          return ::testing::AssertionFailure() << "raw chunk length " << src.size();
        }
        std::memcpy(dst.data(), src.data(), dst.size());
      } else {
        Status s = DecompressChunk(c.type, src, dst);
        if (!s.ok()) {
          return ::testing::AssertionFailure() << s.ToString();
        }
      }
    }
    out->tables.push_back(std::move(*table));
  }
  return ::testing::AssertionSuccess();
}

}  // namespace imgfs::dmg::testing
