// SPDX-License-Identifier: MIT
// Resource fork reading and writing (see rsrc_fork.h for the source).
#include "formats/dmg/rsrc_fork.h"

#include <algorithm>

#include "core/util/checked.h"
#include "core/util/endian.h"
#include "core/util/hex.h"

namespace imgfs::dmg {
namespace {

// Fork header.
constexpr size_t kHeaderBytes = 16;
constexpr size_t kHeaderDataOffset = 0;
constexpr size_t kHeaderMapOffset = 4;
constexpr size_t kHeaderDataLength = 8;
constexpr size_t kHeaderMapLength = 12;
// The conventional start of the data section: header, then 240 bytes of
// system and application data.
constexpr uint32_t kDataStart = 256;

// Resource map.
constexpr size_t kMapTypeListOffset = 24;
constexpr size_t kMapNameListOffset = 26;
constexpr size_t kMapFixedBytes = 28;
constexpr size_t kTypeEntryBytes = 8;
constexpr size_t kRefEntryBytes = 12;
constexpr uint16_t kNoName = 0xffff;

Status Bad(const std::string& what, uint64_t offset) {
  return CorruptError("dmg: resource fork " + what + " at " + Hex(offset));
}

}  // namespace

Result<std::vector<Resource>> ParseResourceFork(std::span<const std::byte> fork, uint32_t type) {
  if (fork.size() < kHeaderBytes) {
    return Bad("header is truncated", 0);
  }
  const std::byte* p = fork.data();
  const uint32_t data_offset = LoadBE32(p + kHeaderDataOffset);
  const uint32_t map_offset = LoadBE32(p + kHeaderMapOffset);
  const uint32_t data_length = LoadBE32(p + kHeaderDataLength);
  const uint32_t map_length = LoadBE32(p + kHeaderMapLength);
  if (!RangeWithin(data_offset, data_length, fork.size())) {
    return Bad("data section leaves the fork", data_offset);
  }
  if (map_length < kMapFixedBytes || !RangeWithin(map_offset, map_length, fork.size())) {
    return Bad("map leaves the fork", map_offset);
  }
  std::span<const std::byte> map = fork.subspan(map_offset, map_length);
  std::span<const std::byte> data = fork.subspan(data_offset, data_length);
  const uint16_t type_list = LoadBE16(map.data() + kMapTypeListOffset);
  const uint16_t name_list = LoadBE16(map.data() + kMapNameListOffset);
  if (!RangeWithin(type_list, 2, map.size())) {
    return Bad("type list leaves the map", map_offset + type_list);
  }
  // The stored count is "number of types minus one" (0xffff: none).
  const uint32_t types = (LoadBE16(map.data() + type_list) + 1u) & 0xffffu;
  if (!RangeWithin(type_list + 2u, uint64_t{types} * kTypeEntryBytes, map.size())) {
    return Bad("type list of " + std::to_string(types) + " entries leaves the map",
               map_offset + type_list);
  }
  std::vector<Resource> out;
  for (uint32_t t = 0; t < types; ++t) {
    const std::byte* te = map.data() + type_list + 2 + size_t{t} * kTypeEntryBytes;
    if (LoadBE32(te) != type) {
      continue;
    }
    const uint32_t count = LoadBE16(te + 4) + 1u;
    const uint32_t refs = type_list + uint32_t{LoadBE16(te + 6)};
    if (!RangeWithin(refs, uint64_t{count} * kRefEntryBytes, map.size())) {
      return Bad("reference list leaves the map", map_offset + refs);
    }
    for (uint32_t i = 0; i < count; ++i) {
      const std::byte* re = map.data() + refs + size_t{i} * kRefEntryBytes;
      Resource r;
      r.type = type;
      r.id = static_cast<int16_t>(LoadBE16(re));
      const uint16_t name_off = LoadBE16(re + 2);
      const uint32_t attr_and_offset = LoadBE32(re + 4);
      r.attributes = static_cast<uint8_t>(attr_and_offset >> 24);
      const uint32_t res_off = attr_and_offset & 0xffffff;
      if (name_off != kNoName) {
        const uint64_t at = uint64_t{name_list} + name_off;
        if (!RangeWithin(at, 1, map.size()) ||
            !RangeWithin(at + 1, std::to_integer<uint8_t>(map[at]), map.size())) {
          return Bad("resource name leaves the map", map_offset + at);
        }
        const auto* s = reinterpret_cast<const char*>(map.data() + at + 1);
        r.name.assign(s, std::to_integer<uint8_t>(map[at]));
      }
      if (!RangeWithin(res_off, 4, data.size())) {
        return Bad("resource data leaves the data section", uint64_t{data_offset} + res_off);
      }
      const uint32_t len = LoadBE32(data.data() + res_off);
      if (!RangeWithin(res_off + 4u, len, data.size())) {
        return Bad("resource of " + std::to_string(len) + " bytes leaves the data section",
                   uint64_t{data_offset} + res_off);
      }
      auto bytes = data.subspan(res_off + 4u, len);
      r.data.assign(bytes.begin(), bytes.end());
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::vector<std::byte> EncodeResourceFork(const std::vector<Resource>& resources) {
  std::vector<uint32_t> types;
  for (const Resource& r : resources) {
    if (std::find(types.begin(), types.end(), r.type) == types.end()) {
      types.push_back(r.type);
    }
  }
  // Data section.
  std::vector<std::byte> data;
  std::vector<uint32_t> data_offsets;
  for (const Resource& r : resources) {
    data_offsets.push_back(static_cast<uint32_t>(data.size()));
    std::byte len[4];
    StoreBE32(len, static_cast<uint32_t>(r.data.size()));
    data.insert(data.end(), len, len + 4);
    data.insert(data.end(), r.data.begin(), r.data.end());
  }
  // Map: fixed part, type list, reference lists, name list.
  const size_t type_list = kMapFixedBytes;
  size_t refs_at = type_list + 2 + types.size() * kTypeEntryBytes;
  std::vector<std::byte> map(refs_at + resources.size() * kRefEntryBytes);
  std::vector<std::byte> names;
  StoreBE16(map.data() + kMapTypeListOffset, static_cast<uint16_t>(type_list));
  StoreBE16(map.data() + kMapNameListOffset, static_cast<uint16_t>(map.size()));
  StoreBE16(map.data() + type_list, static_cast<uint16_t>(types.size() - 1));
  for (size_t t = 0; t < types.size(); ++t) {
    std::byte* te = map.data() + type_list + 2 + t * kTypeEntryBytes;
    uint16_t count = 0;
    const size_t first_ref = refs_at;
    for (size_t i = 0; i < resources.size(); ++i) {
      const Resource& r = resources[i];
      if (r.type != types[t]) {
        continue;
      }
      std::byte* re = map.data() + refs_at;
      StoreBE16(re, static_cast<uint16_t>(r.id));
      if (r.name.empty()) {
        StoreBE16(re + 2, kNoName);
      } else {
        StoreBE16(re + 2, static_cast<uint16_t>(names.size()));
        const size_t n = std::min<size_t>(r.name.size(), 255);
        names.push_back(static_cast<std::byte>(n));
        for (size_t k = 0; k < n; ++k) {
          names.push_back(static_cast<std::byte>(r.name[k]));
        }
      }
      StoreBE32(re + 4, (uint32_t{r.attributes} << 24) | (data_offsets[i] & 0xffffff));
      refs_at += kRefEntryBytes;
      ++count;
    }
    StoreBE32(te, types[t]);
    StoreBE16(te + 4, static_cast<uint16_t>(count - 1));
    StoreBE16(te + 6, static_cast<uint16_t>(first_ref - type_list));
  }
  map.insert(map.end(), names.begin(), names.end());
  // The fork's header; the map starts with a copy of it.
  std::byte header[kHeaderBytes] = {};
  const auto map_offset = static_cast<uint32_t>(kDataStart + data.size());
  StoreBE32(header + kHeaderDataOffset, kDataStart);
  StoreBE32(header + kHeaderMapOffset, map_offset);
  StoreBE32(header + kHeaderDataLength, static_cast<uint32_t>(data.size()));
  StoreBE32(header + kHeaderMapLength, static_cast<uint32_t>(map.size()));
  std::copy(header, header + kHeaderBytes, map.begin());
  std::vector<std::byte> fork(map_offset + map.size());
  std::copy(header, header + kHeaderBytes, fork.begin());
  std::copy(data.begin(), data.end(), fork.begin() + kDataStart);
  std::copy(map.begin(), map.end(), fork.begin() + map_offset);
  return fork;
}

}  // namespace imgfs::dmg
