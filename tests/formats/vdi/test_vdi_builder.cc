// SPDX-License-Identifier: MIT
// The test VDI writer (see test_vdi_builder.h). Field offsets are those of
// VirtualBox's VDIPREHEADER, VDIHEADER1 and VDIHEADER0, written out here
// independently of formats/vdi/header.cc.
#include "tests/formats/vdi/test_vdi_builder.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace imgfs::vdi::testing {
namespace {

void Put32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    s[at + static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  }
}

void Put64(std::string& s, size_t at, uint64_t v) {
  Put32(s, at, static_cast<uint32_t>(v));
  Put32(s, at + 4, static_cast<uint32_t>(v >> 32));
}

void PutUuid(std::string& s, size_t at, const TestUuid& u) {
  std::memcpy(s.data() + at, u.data(), u.size());
}

uint32_t BlocksOf(const VdiSpec& spec) {
  if (spec.blocks_in_image >= 0) {
    return static_cast<uint32_t>(spec.blocks_in_image);
  }
  return static_cast<uint32_t>((spec.disk_bytes + spec.block_bytes - 1) / spec.block_bytes);
}

std::string Header(const VdiSpec& spec, uint32_t blocks, uint32_t allocated, uint64_t map_offset,
                   uint64_t data_offset) {
  std::string h(512, '\0');
  const char text[] = "<<< Oracle VM VirtualBox Disk Image >>>\n";
  std::memcpy(h.data(), text, sizeof text - 1);
  Put32(h, 0x40, 0xbeda107f);
  Put32(h, 0x44, spec.version);
  if (spec.version >> 16 == 0) {  // VDIHEADER0
    Put32(h, 0x48, spec.type);
    std::memcpy(h.data() + 0x50, "test image v0", 13);
    Put32(h, 0x15c, 512);
    Put64(h, 0x160, spec.disk_bytes);
    Put32(h, 0x168, spec.block_bytes);
    Put32(h, 0x16c, blocks);
    Put32(h, 0x170, allocated);
    PutUuid(h, 0x174, spec.uuid);
    PutUuid(h, 0x184, spec.modification_uuid);
    PutUuid(h, 0x194, spec.parent_uuid);
    return h;
  }
  Put32(h, 0x48, spec.header_bytes);  // VDIHEADER1
  Put32(h, 0x4c, spec.type);
  std::memcpy(h.data() + 0x54, "test image", 10);
  Put32(h, 0x154, static_cast<uint32_t>(map_offset));
  Put32(h, 0x158, static_cast<uint32_t>(data_offset));
  Put32(h, 0x168, 512);
  Put64(h, 0x170, spec.disk_bytes);
  Put32(h, 0x178, spec.block_bytes);
  Put32(h, 0x17c, spec.block_extra_bytes);
  Put32(h, 0x180, blocks);
  Put32(h, 0x184, allocated);
  PutUuid(h, 0x188, spec.uuid);
  PutUuid(h, 0x198, spec.modification_uuid);
  PutUuid(h, 0x1a8, spec.parent_uuid);
  PutUuid(h, 0x1b8, spec.parent_modification_uuid);
  if (spec.header_bytes >= 0x190) {
    Put32(h, 0x1d4, 512);  // LCHSGeometry.cbSector
  }
  return h;
}

}  // namespace

TestUuid SeededUuid(uint8_t seed) {
  TestUuid u;
  for (size_t i = 0; i < u.size(); ++i) {
    u[i] = static_cast<uint8_t>(seed * 37 + i * 11 + 1);
  }
  u[7] = static_cast<uint8_t>(0x40 | (u[7] & 0x0f));  // version 4 (little-endian field)
  return u;
}

std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 12345;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345;
    s[i] = static_cast<char>((x >> 16) & 0xff);
  }
  return s;
}

std::string BuildVdi(const VdiSpec& spec) {
  const bool v0 = spec.version >> 16 == 0;
  const uint32_t blocks = BlocksOf(spec);
  const uint64_t map_offset = spec.map_offset >= 0 ? static_cast<uint64_t>(spec.map_offset)
                              : v0                 ? 0x1a4
                                                   : 0x200;
  const uint64_t map_end = map_offset + uint64_t{blocks} * 4;
  const uint64_t data_offset = v0 ? map_end : (map_end + 511) / 512 * 512;

  std::vector<uint32_t> stored;  // guest blocks in storage order
  if (spec.type == 2) {
    for (uint32_t b = 0; b < blocks; ++b) {
      stored.push_back(b);
    }
  } else {
    for (const auto& [b, contents] : spec.blocks) {
      stored.push_back(b);
    }
  }
  if (spec.reverse_storage) {
    std::reverse(stored.begin(), stored.end());
  }
  std::vector<uint32_t> map(blocks, 0xffffffff);
  for (uint32_t b : spec.zero_blocks) {
    if (b < blocks) {
      map[b] = 0xfffffffe;
    }
  }
  for (size_t i = 0; i < stored.size(); ++i) {
    if (stored[i] < blocks) {
      map[stored[i]] = static_cast<uint32_t>(i);
    }
  }
  const uint32_t allocated = spec.blocks_allocated >= 0
                                 ? static_cast<uint32_t>(spec.blocks_allocated)
                                 : static_cast<uint32_t>(stored.size());

  std::string file = Header(spec, blocks, allocated, map_offset, data_offset);
  const uint64_t stride = uint64_t{spec.block_extra_bytes} + spec.block_bytes;
  file.resize(
      static_cast<size_t>(std::max<uint64_t>(file.size(), data_offset + stride * stored.size())),
      '\0');
  for (uint32_t b = 0; b < blocks; ++b) {
    Put32(file, static_cast<size_t>(map_offset + uint64_t{b} * 4), map[b]);
  }
  for (size_t i = 0; i < stored.size(); ++i) {
    const size_t at = static_cast<size_t>(data_offset + stride * i);
    // The extra area gets a marker, so that reading it as data shows.
    std::fill_n(file.begin() + static_cast<std::ptrdiff_t>(at), spec.block_extra_bytes, 'X');
    auto it = spec.blocks.find(stored[i]);
    if (it != spec.blocks.end()) {
      const size_t n = std::min<size_t>(it->second.size(), spec.block_bytes);
      std::memcpy(file.data() + at + spec.block_extra_bytes, it->second.data(), n);
    }
  }
  return file;
}

std::string ExpectedDisk(const VdiSpec& spec, const std::string& parent_raw) {
  const auto disk = static_cast<size_t>(spec.disk_bytes);
  std::string out(disk, '\0');
  std::memcpy(out.data(), parent_raw.data(), std::min(disk, parent_raw.size()));
  const size_t bb = spec.block_bytes;
  for (uint32_t b : spec.zero_blocks) {
    if (size_t{b} * bb < disk) {
      std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(size_t{b} * bb),
                  std::min(bb, disk - size_t{b} * bb), '\0');
    }
  }
  const uint32_t blocks = BlocksOf(spec);
  for (uint32_t b = 0; b < blocks && size_t{b} * bb < disk; ++b) {
    auto it = spec.blocks.find(b);
    if (it == spec.blocks.end() && spec.type != 2) {
      continue;
    }
    std::string block(bb, '\0');
    if (it != spec.blocks.end()) {
      block.replace(0, std::min(bb, it->second.size()), it->second, 0, bb);
    }
    out.replace(size_t{b} * bb, std::min(bb, disk - size_t{b} * bb), block, 0,
                std::min(bb, disk - size_t{b} * bb));
  }
  return out;
}

}  // namespace imgfs::vdi::testing
