// SPDX-License-Identifier: MIT
// The test VHD writer (see test_vhd_builder.h).
#include "tests/formats/vpc/test_vhd_builder.h"

#include <algorithm>
#include <cstring>

#include "core/util/endian.h"

namespace imgfs::vpc::testing {
namespace {

constexpr uint64_t kSector = 512;

uint64_t RoundUp(uint64_t v) { return (v + kSector - 1) / kSector * kSector; }

std::string LocatorBytes(const LocatorSpec& l) {
  if (l.code == "W2ru" || l.code == "W2ku") {
    std::string out;
    for (char c : l.path) {
      out.push_back(c);
      out.push_back('\0');
    }
    return out;
  }
  return l.path;
}

uint32_t Code(const std::string& s) {
  std::byte b[4];
  std::memcpy(b, s.data(), 4);
  return LoadBE32(b);
}

void Put(std::string* out, uint64_t at, const std::vector<std::byte>& bytes) {
  if (out->size() < at + bytes.size()) {
    out->resize(at + bytes.size());
  }
  std::memcpy(out->data() + at, bytes.data(), bytes.size());
}

}  // namespace

UniqueId IdOf(uint8_t seed) {
  UniqueId id;
  for (size_t i = 0; i < id.size(); ++i) {
    id[i] = std::byte(static_cast<uint8_t>(seed + i));
  }
  return id;
}

void SetGeometry(uint64_t sectors, Footer* f) {
  uint64_t spt;
  uint64_t heads;
  uint64_t cth;
  sectors = std::min<uint64_t>(sectors, 65535ull * 16 * 255);
  if (sectors >= 65535ull * 16 * 63) {
    spt = 255;
    heads = 16;
    cth = sectors / spt;
  } else {
    spt = 17;
    cth = sectors / spt;
    heads = std::max<uint64_t>((cth + 1023) / 1024, 4);
    if (cth >= heads * 1024 || heads > 16) {
      spt = 31;
      heads = 16;
      cth = sectors / spt;
    }
    if (cth >= heads * 1024) {
      spt = 63;
      heads = 16;
      cth = sectors / spt;
    }
  }
  f->cylinders = static_cast<uint16_t>(cth / heads);
  f->heads = static_cast<uint8_t>(heads);
  f->sectors_per_track = static_cast<uint8_t>(spt);
}

std::string BuildVhd(const VhdSpec& spec) {
  const uint64_t sectors = spec.size_bytes / kSector;
  std::string contents = spec.contents;
  contents.resize(spec.size_bytes);
  std::vector<bool> stored = spec.stored;
  if (stored.empty()) {
    stored.resize(sectors);
    for (uint64_t s = 0; s < sectors; ++s) {
      const char* p = contents.data() + s * kSector;
      stored[s] = std::any_of(p, p + kSector, [](char c) { return c != 0; });
    }
  }
  stored.resize(sectors);

  Footer f;
  f.creator_app = Code(spec.creator_app);
  f.creator_version = 0x000a0000;
  f.creator_os = Code("Wi2k");
  f.original_size = spec.size_bytes;
  f.current_size = spec.size_bytes;
  SetGeometry(sectors, &f);
  f.disk_type = static_cast<uint32_t>(spec.type);
  f.unique_id = spec.unique_id;
  if (spec.type == DiskType::kFixed) {
    f.data_offset = kNoOffset;
    std::string out = contents;
    Put(&out, out.size(), EncodeFooter(f));
    return out;
  }
  f.data_offset = kSector;

  const uint64_t block_sectors = spec.block_bytes / kSector;
  const uint64_t blocks = (sectors + block_sectors - 1) / block_sectors;
  const uint64_t bitmap_bytes = BitmapBytes(spec.block_bytes);
  DynamicHeader h;
  h.table_offset = 3 * kSector;
  h.max_table_entries = static_cast<uint32_t>(blocks);
  h.block_bytes = spec.block_bytes;
  h.parent_unique_id = spec.parent_unique_id;
  h.parent_name = spec.parent_name;
  uint64_t next = RoundUp(h.table_offset + 4 * blocks);
  std::vector<std::pair<uint64_t, std::string>> locator_data;
  for (size_t i = 0; i < spec.locators.size() && i < kParentLocatorCount; ++i) {
    std::string bytes = LocatorBytes(spec.locators[i]);
    const uint64_t space = RoundUp(std::max<uint64_t>(bytes.size(), 1));
    h.locators[i] = ParentLocator{Code(spec.locators[i].code), static_cast<uint32_t>(space),
                                  static_cast<uint32_t>(bytes.size()), next};
    locator_data.emplace_back(next, std::move(bytes));
    next += space;
  }

  std::string out;
  // The BAT's padding to a whole sector reads 0xff, as in real images.
  std::vector<std::byte> bat(RoundUp(4 * blocks), std::byte{0xff});
  for (uint64_t b = 0; b < blocks; ++b) {
    const uint64_t first = b * block_sectors;
    const uint64_t last = std::min(sectors, first + block_sectors);
    if (!std::any_of(stored.begin() + static_cast<ptrdiff_t>(first),
                     stored.begin() + static_cast<ptrdiff_t>(last), [](bool v) { return v; })) {
      StoreBE32(bat.data() + 4 * b, kUnallocatedBlock);
      continue;
    }
    StoreBE32(bat.data() + 4 * b, static_cast<uint32_t>(next / kSector));
    std::vector<std::byte> bitmap(bitmap_bytes);
    std::vector<std::byte> data(spec.block_bytes);
    for (uint64_t s = first; s < last; ++s) {
      if (stored[s]) {
        const uint64_t i = s - first;
        bitmap[i / 8] |= std::byte(0x80 >> (i % 8));
        std::memcpy(data.data() + i * kSector, contents.data() + s * kSector, kSector);
      }
    }
    Put(&out, next, bitmap);
    Put(&out, next + bitmap_bytes, data);
    next += bitmap_bytes + spec.block_bytes;
  }
  std::vector<std::byte> footer = EncodeFooter(f);
  Put(&out, 0, footer);
  Put(&out, kSector, EncodeDynamicHeader(h));
  Put(&out, h.table_offset, bat);
  for (const auto& [at, bytes] : locator_data) {
    Put(&out, at,
        std::vector<std::byte>(reinterpret_cast<const std::byte*>(bytes.data()),
                               reinterpret_cast<const std::byte*>(bytes.data()) + bytes.size()));
  }
  Put(&out, std::max<uint64_t>(next, out.size()), footer);
  return out;
}

}  // namespace imgfs::vpc::testing
