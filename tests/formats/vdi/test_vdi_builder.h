// SPDX-License-Identifier: MIT
// A tiny VDI writer for tests, for what qemu-img cannot make: differencing
// images (a parent named by UUID), block sizes other than 1 MiB, a per-block
// extra area, discarded (zero) blocks, blocks stored out of order, and the
// older v1.0 and v0 header layouts. Written from the layout VirtualBox's
// VDICore.h describes, with its own byte stores: it shares no code with
// formats/vdi, so a reader bug cannot hide behind it. Test code: it checks
// nothing and writes whatever it is told, so tests can also break images.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>

namespace imgfs::vdi::testing {

using TestUuid = std::array<uint8_t, 16>;

// A version-4-looking UUID whose bytes all derive from `seed`.
TestUuid SeededUuid(uint8_t seed);

struct VdiSpec {
  uint32_t version = 0x00010001;  // 1.1; 0x00010000 (1.0) and 0x00000002 (v0) too
  uint32_t header_bytes = 0x190;  // v1: 0x180 (VDIHEADER1) or 0x190 (1PLUS)
  uint32_t type = 1;              // 1 dynamic, 2 static, 3 undo, 4 diff
  uint32_t block_bytes = 1 << 20;
  uint32_t block_extra_bytes = 0;
  uint64_t disk_bytes = 0;
  TestUuid uuid = SeededUuid(1);
  TestUuid modification_uuid = SeededUuid(2);
  TestUuid parent_uuid{};  // all zero: no parent
  TestUuid parent_modification_uuid{};
  // Stored blocks: index -> contents (shorter contents are zero-padded).
  // Blocks not named are free (0xffffffff), or zeros in a static image.
  std::map<uint32_t, std::string> blocks;
  std::set<uint32_t> zero_blocks;  // discarded: 0xfffffffe
  // Store the data blocks in the file in reverse index order, so that
  // neighbouring guest blocks are not neighbours in the file.
  bool reverse_storage = false;
  // Overrides for broken images (applied as written, unchecked).
  int64_t blocks_in_image = -1;   // -1: enough for disk_bytes
  int64_t blocks_allocated = -1;  // -1: the number stored
  int64_t map_offset = -1;        // -1: 0x200 (v1) or 0x1a4 (v0)
};

// The image file's bytes.
std::string BuildVdi(const VdiSpec& spec);

// The disk the image holds: its stored blocks over `parent_raw` (free blocks
// read from it, zeros past its end), disk_bytes long.
std::string ExpectedDisk(const VdiSpec& spec, const std::string& parent_raw = {});

// Bytes `n` long of a pattern that differs per `seed` and per offset.
std::string Pattern(size_t n, uint32_t seed);

}  // namespace imgfs::vdi::testing
