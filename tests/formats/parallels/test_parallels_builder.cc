// SPDX-License-Identifier: MIT
// The test-only Parallels writer (see test_parallels_builder.h).
#include "tests/formats/parallels/test_parallels_builder.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace imgfs::parallels::testing {
namespace {

void Put32(std::string* s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    (*s)[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  }
}

void Put64(std::string* s, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    (*s)[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  }
}

uint64_t RoundUp(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

}  // namespace

std::string BuildHds(const HdsSpec& spec) {
  const uint64_t cb = uint64_t{spec.cluster_sectors} * 512;
  const uint32_t bat = spec.bat_entries >= 0
                           ? static_cast<uint32_t>(spec.bat_entries)
                           : static_cast<uint32_t>((spec.disk_sectors + spec.cluster_sectors - 1) /
                                                   spec.cluster_sectors);
  const uint64_t bat_end = 64 + uint64_t{bat} * 4;
  // The new signature counts BAT entries in clusters, so its data area
  // starts on a cluster; the old one only needs a sector.
  const uint64_t data = spec.cluster_offsets ? RoundUp(bat_end, cb) : RoundUp(bat_end, 512);
  std::string out(data, '\0');
  std::memcpy(out.data(), spec.cluster_offsets ? "WithouFreSpacExt" : "WithoutFreeSpace", 16);
  Put32(&out, 16, 2);
  Put32(&out, 20, 16);
  Put32(&out, 24, static_cast<uint32_t>(spec.disk_sectors / 16 / 32));
  Put32(&out, 28, spec.cluster_sectors);
  Put32(&out, 32, bat);
  Put64(&out, 36, spec.disk_sectors);
  Put32(&out, 44, spec.in_use);
  Put32(&out, 48, spec.data_off_zero ? 0 : static_cast<uint32_t>(data / 512));
  Put32(&out, 52, spec.flags);
  std::vector<std::pair<uint32_t, std::string>> order(spec.clusters.begin(), spec.clusters.end());
  if (spec.reverse_storage) {
    std::reverse(order.begin(), order.end());
  }
  for (const auto& [index, contents] : order) {
    const uint64_t host = out.size();
    std::string c = contents.substr(0, cb);
    c.resize(cb, '\0');
    out += c;
    const uint64_t entry = spec.cluster_offsets ? host / cb : host / 512;
    if (64 + uint64_t{index} * 4 + 4 <= data) {
      Put32(&out, 64 + size_t{index} * 4, static_cast<uint32_t>(entry));
    }
  }
  for (const auto& [index, entry] : spec.raw_bat) {
    Put32(&out, 64 + size_t{index} * 4, entry);
  }
  if (spec.dirty_bitmap_ext) {
    const uint64_t ext = out.size();
    std::string e(cb, '\0');
    Put64(&e, 0, 0xab234cef23dcea87);      // then a 16-byte MD5 left zero
    Put64(&e, 24, 0x20385fae252cb34a);     // dirty bitmap feature
    Put64(&e, 32, 1);                      // flags: NECESSARY
    Put32(&e, 40, 32 + 2 * 8);             // data size: head + 2 L1 entries
    Put64(&e, 48, spec.disk_sectors);      // bitmap size
    std::memset(e.data() + 56, 0x42, 16);  // id
    Put32(&e, 72, 8);                      // granularity
    Put32(&e, 76, 2);                      // l1 size
    Put64(&e, 80, 0);                      // clear
    Put64(&e, 88, 1);                      // all set
    // then the zero end-of-features marker
    out += e;
    Put64(&out, 56, ext / 512);
  }
  if (spec.truncate_to >= 0) {
    out.resize(static_cast<size_t>(spec.truncate_to));
  }
  return out;
}

std::string ExpectedDisk(const HdsSpec& spec, const std::string& parent_raw) {
  const uint64_t cb = uint64_t{spec.cluster_sectors} * 512;
  std::string disk = parent_raw.substr(0, spec.disk_sectors * 512);
  disk.resize(spec.disk_sectors * 512, '\0');
  if (spec.flags & 1) {
    disk = parent_raw.substr(0, disk.size());
    disk.resize(spec.disk_sectors * 512, '\0');
    return disk;
  }
  for (const auto& [index, contents] : spec.clusters) {
    std::string c = contents.substr(0, cb);
    c.resize(cb, '\0');
    const uint64_t at = uint64_t{index} * cb;
    if (at < disk.size()) {
      disk.replace(at, std::min<uint64_t>(cb, disk.size() - at), c, 0,
                   std::min<uint64_t>(cb, disk.size() - at));
    }
  }
  return disk;
}

std::string BuildDescriptor(const BundleSpec& spec) {
  std::string x =
      "<?xml version='1.0' encoding='UTF-8'?>\n<Parallels_disk_image Version=\"1.0\">\n"
      "    <Disk_Parameters>\n        <Disk_size>" +
      std::to_string(spec.disk_sectors) + "</Disk_size>\n        <Cylinders>" +
      std::to_string(spec.disk_sectors / 16 / 32) +
      "</Cylinders>\n        <PhysicalSectorSize>512</PhysicalSectorSize>\n"
      "        <Heads>16</Heads>\n        <Sectors>32</Sectors>\n        <Padding>0</Padding>\n"
      "        <Encryption>\n            <Engine>{00000000-0000-0000-0000-000000000000}</Engine>\n"
      "            <Data></Data>\n        </Encryption>\n"
      "        <UID>{8a9c7a4e-2d2b-4f4c-9a55-0d3b1b1b1b1b}</UID>\n        <Name>test</Name>\n"
      "        <Miscellaneous>\n            <CompatLevel>level2</CompatLevel>\n"
      "            <Bootable>1</Bootable>\n            <SuspendState>0</SuspendState>\n"
      "        </Miscellaneous>\n    </Disk_Parameters>\n    <StorageData>\n";
  for (const StorageSpec& s : spec.storages) {
    x += "        <Storage>\n            <Start>" + std::to_string(s.start) +
         "</Start>\n            <End>" + std::to_string(s.end) + "</End>\n            <Blocksize>" +
         std::to_string(s.blocksize) + "</Blocksize>\n";
    for (const ImageSpec& i : s.images) {
      x += "            <Image>\n                <GUID>" + i.guid +
           "</GUID>\n                <Type>" + i.type + "</Type>\n                <File>" + i.file +
           "</File>\n            </Image>\n";
    }
    x += "        </Storage>\n";
  }
  x += "    </StorageData>\n    <Snapshots>\n";
  if (!spec.top_guid.empty()) {
    x += "        <TopGUID>" + spec.top_guid + "</TopGUID>\n";
  }
  for (const auto& [guid, parent] : spec.shots) {
    x += "        <Shot>\n            <GUID>" + guid + "</GUID>\n            <ParentGUID>" +
         parent + "</ParentGUID>\n        </Shot>\n";
  }
  x += "    </Snapshots>\n</Parallels_disk_image>\n";
  return x;
}

std::string SeededGuid(uint32_t seed) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "{%08x-%04x-4%03x-a%03x-%012x}", seed * 2654435761u, seed & 0xffff,
                seed & 0xfff, (seed * 7) & 0xfff, seed * 40503u);
  return buf;
}

std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>((x >> 16) & 0xff);
  }
  return s;
}

}  // namespace imgfs::parallels::testing
