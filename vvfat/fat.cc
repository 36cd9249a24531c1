// SPDX-License-Identifier: MIT
// FAT encoding (see fat.h).
#include "vvfat/fat.h"

#include <algorithm>
#include <cstring>

#include "core/util/endian.h"

namespace imgfs::vvfat {

uint32_t EndOfChain(FatType type) {
  switch (type) {
    case FatType::kFat12:
      return 0xfff;
    case FatType::kFat16:
      return 0xffff;
    case FatType::kFat32:
      return 0x0fffffff;
  }
  return 0;
}

FatTable::FatTable(const Geometry& g, std::vector<uint32_t> run_ends, uint32_t first_free)
    : type_(g.type),
      media_(g.media),
      entry_count_(g.cluster_count + kFirstCluster),
      run_ends_(std::move(run_ends)),
      first_free_(first_free) {}

uint32_t FatTable::Entry(uint32_t cluster) const {
  const uint32_t eoc = EndOfChain(type_);
  if (cluster == 0) {
    // FAT[0]: the media byte in the low 8 bits, all other bits set.
    return (eoc & ~0xffU) | media_;
  }
  if (cluster == 1) {
    return eoc;
  }
  if (cluster >= first_free_ || cluster >= entry_count_) {
    return 0;
  }
  return std::binary_search(run_ends_.begin(), run_ends_.end(), cluster) ? eoc : cluster + 1;
}

void FatTable::Read(uint64_t offset, std::span<std::byte> out) const {
  std::memset(out.data(), 0, out.size());
  const uint64_t end = offset + out.size();
  if (type_ == FatType::kFat12) {
    // Two 12-bit entries share three bytes.
    for (uint64_t pair = offset / 3; pair * 3 < end && pair * 2 < entry_count_; ++pair) {
      const auto first = static_cast<uint32_t>(pair * 2);
      const uint32_t a = Entry(first);
      const uint32_t b = first + 1 < entry_count_ ? Entry(first + 1) : 0;
      const uint8_t bytes[3] = {static_cast<uint8_t>(a & 0xff),
                                static_cast<uint8_t>(((a >> 8) & 0x0f) | ((b & 0x0f) << 4)),
                                static_cast<uint8_t>(b >> 4)};
      for (uint64_t k = 0; k < 3; ++k) {
        const uint64_t pos = pair * 3 + k;
        if (pos >= offset && pos < end) {
          out[pos - offset] = std::byte{bytes[k]};
        }
      }
    }
    return;
  }
  const uint64_t width = type_ == FatType::kFat16 ? 2 : 4;
  for (uint64_t i = offset / width; i * width < end && i < entry_count_; ++i) {
    std::byte buf[4];
    const uint32_t v = Entry(static_cast<uint32_t>(i));
    if (width == 2) {
      StoreLE16(buf, static_cast<uint16_t>(v));
    } else {
      StoreLE32(buf, v);
    }
    for (uint64_t k = 0; k < width; ++k) {
      const uint64_t pos = i * width + k;
      if (pos >= offset && pos < end) {
        out[pos - offset] = buf[k];
      }
    }
  }
}

}  // namespace imgfs::vvfat
