// SPDX-License-Identifier: MIT
// A tiny Parallels writer for tests, for what qemu-img cannot make: the
// old "WithoutFreeSpace" signature (BAT entries in sectors, data_off 0),
// clusters stored out of order, the in-use flag, a format extension with a
// dirty bitmap, and DiskDescriptor.xml for .hdd bundles (element names as
// Parallels Desktop writes them). Written from qemu's parallels.txt and
// prl-xml.txt with its own byte stores: it shares no code with
// formats/parallels, so a reader bug cannot hide behind it. It checks
// nothing, so tests can also break images.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace imgfs::parallels::testing {

struct HdsSpec {
  bool cluster_offsets = true;  // "WithouFreSpacExt"; false: "WithoutFreeSpace"
  uint32_t cluster_sectors = 128;
  uint64_t disk_sectors = 0;
  // Stored clusters: index -> contents (shorter contents are zero-padded).
  std::map<uint32_t, std::string> clusters;
  uint32_t in_use = 0;
  uint32_t flags = 0;
  bool data_off_zero = false;     // old signature only: data right after the BAT
  bool reverse_storage = false;   // store clusters in reverse index order
  bool dirty_bitmap_ext = false;  // append a format extension cluster
  // Overrides for broken images, applied as written.
  int64_t bat_entries = -1;              // -1: enough for disk_sectors
  std::map<uint32_t, uint32_t> raw_bat;  // BAT entries written verbatim
  int64_t truncate_to = -1;              // cut the file to this many bytes
};

// The image file's bytes.
std::string BuildHds(const HdsSpec& spec);

// The disk the image holds: its clusters over `parent_raw` (unallocated
// clusters read from it, zeros past its end), disk_sectors * 512 long.
std::string ExpectedDisk(const HdsSpec& spec, const std::string& parent_raw = {});

struct ImageSpec {
  std::string guid;  // braced
  std::string type;  // "Compressed" or "Plain"
  std::string file;
};

struct StorageSpec {
  uint64_t start = 0;  // sectors
  uint64_t end = 0;
  uint64_t blocksize = 2048;
  std::vector<ImageSpec> images;
};

struct BundleSpec {
  uint64_t disk_sectors = 0;
  std::vector<StorageSpec> storages;
  std::vector<std::pair<std::string, std::string>> shots;  // guid, parent guid
  std::string top_guid;                                    // empty: no <TopGUID>
};

// DiskDescriptor.xml as Parallels writes it.
std::string BuildDescriptor(const BundleSpec& spec);

// "{xxxxxxxx-...}" differing per seed.
std::string SeededGuid(uint32_t seed);

// Bytes `n` long of a pattern that differs per `seed` and per offset.
std::string Pattern(size_t n, uint32_t seed);

}  // namespace imgfs::parallels::testing
