// SPDX-License-Identifier: MIT
// A tiny Bochs growing-redolog writer for tests, from the layout Bochs's
// hdimage.h describes, with its own byte stores (it shares no code with
// formats/bochs): version 1 headers (which bximage no longer writes),
// partly written extents (clear bitmap bits over garbage), extents stored
// out of order. It checks nothing, so tests can also break images.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace imgfs::bochs::testing {

struct BochsSpec {
  uint32_t version = 0x00020000;  // or 0x00010000
  uint32_t extent_bytes = 4096;
  uint32_t bitmap_bytes = 0;     // 0: extent_bytes / 4096, at least 1
  uint32_t catalog_entries = 0;  // 0: enough for disk_bytes
  uint64_t disk_bytes = 0;
  std::string subtype = "Growing";
  // Written guest sectors: sector number -> up to 512 bytes (zero-padded).
  std::map<uint64_t, std::string> sectors;
  bool reverse_order = false;  // store extents last-first
  // Bytes the data area of a sector with a clear bitmap bit holds (must
  // still read as zeros).
  char clear_fill = '\xee';
};

inline void PutLE32(std::string* s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    (*s)[at + static_cast<size_t>(i)] = static_cast<char>(v >> (8 * i));
  }
}
inline void PutLE64(std::string* s, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    (*s)[at + static_cast<size_t>(i)] = static_cast<char>(v >> (8 * i));
  }
}

inline uint32_t BitmapBytes(const BochsSpec& spec) {
  return spec.bitmap_bytes != 0 ? spec.bitmap_bytes
                                : std::max<uint32_t>(1, spec.extent_bytes / 4096);
}

inline uint32_t CatalogEntries(const BochsSpec& spec) {
  return spec.catalog_entries != 0
             ? spec.catalog_entries
             : static_cast<uint32_t>((spec.disk_bytes + spec.extent_bytes - 1) / spec.extent_bytes);
}

inline std::string BuildBochs(const BochsSpec& spec) {
  std::string out(512, '\0');
  std::memcpy(out.data(), "Bochs Virtual HD Image", 22);
  std::memcpy(out.data() + 32, "Redolog", 7);
  std::memcpy(out.data() + 48, spec.subtype.data(), std::min<size_t>(spec.subtype.size(), 16));
  PutLE32(&out, 0x40, spec.version);
  PutLE32(&out, 0x44, 512);
  const uint32_t catalog = CatalogEntries(spec);
  const uint32_t bitmap = BitmapBytes(spec);
  PutLE32(&out, 0x48, catalog);
  PutLE32(&out, 0x4c, bitmap);
  PutLE32(&out, 0x50, spec.extent_bytes);
  if (spec.version == 0x00010000) {
    PutLE64(&out, 0x54, spec.disk_bytes);
  } else {
    PutLE32(&out, 0x54, 0x5d879092);
    PutLE64(&out, 0x58, spec.disk_bytes);
  }
  const uint64_t per_extent = spec.extent_bytes / 512;
  std::vector<uint64_t> extents;
  for (const auto& [sector, bytes] : spec.sectors) {
    if (extents.empty() || extents.back() != sector / per_extent) {
      extents.push_back(sector / per_extent);
    }
  }
  if (spec.reverse_order) {
    std::reverse(extents.begin(), extents.end());
  }
  std::string cat(size_t{catalog} * 4, '\xff');
  const uint64_t bitmap_sectors = (bitmap + 511) / 512;
  const size_t stride = static_cast<size_t>(512 * (bitmap_sectors + per_extent));
  std::string data(extents.size() * stride, '\0');
  for (size_t k = 0; k < extents.size(); ++k) {
    PutLE32(&cat, static_cast<size_t>(extents[k]) * 4, static_cast<uint32_t>(k));
    std::string& d = data;
    const size_t base = k * stride;
    std::fill(d.begin() + static_cast<ptrdiff_t>(base + 512 * bitmap_sectors),
              d.begin() + static_cast<ptrdiff_t>(base + stride), spec.clear_fill);
    for (uint64_t s = 0; s < per_extent; ++s) {
      auto it = spec.sectors.find(extents[k] * per_extent + s);
      if (it == spec.sectors.end()) {
        continue;
      }
      d[base + s / 8] = static_cast<char>(d[base + s / 8] | (1 << (s % 8)));
      std::string sector = it->second;
      sector.resize(512, '\0');
      std::memcpy(d.data() + base + 512 * bitmap_sectors + 512 * s, sector.data(), 512);
    }
  }
  return out + cat + data;
}

// What the disk must read as.
inline std::string ExpectedDisk(const BochsSpec& spec) {
  std::string disk(static_cast<size_t>(spec.disk_bytes / 512 * 512), '\0');
  for (const auto& [sector, bytes] : spec.sectors) {
    if (sector * 512 < disk.size()) {
      std::string s = bytes;
      s.resize(512, '\0');
      std::memcpy(disk.data() + sector * 512, s.data(), 512);
    }
  }
  return disk;
}

// `n` bytes of a pattern derived from `seed`.
inline std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 16);
  }
  return s;
}

}  // namespace imgfs::bochs::testing
