// SPDX-License-Identifier: MIT
// A small VHDX writer for tests, written from [MS-VHDX] alone (not from
// the driver's code): what qemu-img cannot make (differencing images,
// 4096-byte logical sectors, every block state, logs left to replay) and
// hand-broken images for the bad-input tests. Layout: identifier, headers
// and region tables at their fixed places, the log at 1 MiB, metadata at
// 1 MiB + log size, the BAT after it, then payload blocks and sector
// bitmaps in the order they are added.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace imgfs::testing {

struct VhdxLogUpdate {
  uint64_t file_offset = 0;  // 4 KiB aligned
  bool zero = false;         // a zero descriptor of `zero_bytes`, else one data sector
  uint64_t zero_bytes = 0;
  std::string sector;  // data: 4096 bytes
};

class VhdxBuilder {
 public:
  static constexpr uint64_t kMiB = 1 << 20;

  explicit VhdxBuilder(uint64_t virtual_bytes, uint32_t block_bytes = 1 << 20,
                       uint32_t logical_sector_bytes = 512);

  // Block states ([MS-VHDX] 2.5.1.1): 0 not present, 1 undefined, 2 zero,
  // 3 unmapped, 6 fully present, 7 partially present.
  void SetState(uint64_t block, uint8_t state);
  // Stores `data` (at most one block; the rest reads zero) as fully present.
  void WriteBlock(uint64_t block, const std::string& data);
  // Stores `data` as partially present: only the logical sectors whose
  // `present` flag is set are this image's (a differencing image's bitmap).
  void WritePartial(uint64_t block, const std::string& data, const std::vector<bool>& present);
  // Makes a differencing image with these locator entries (UTF-8 key and
  // value, written as UTF-16LE).
  void SetParent(std::vector<std::pair<std::string, std::string>> locator);
  // The DataWriteGuid in "{...}" text form, as parent_linkage names it.
  std::string DataWriteGuidText() const;
  void SetDataWriteGuidSeed(uint8_t seed) { guid_seed_ = seed; }
  void SetLogBytes(uint64_t bytes) { log_bytes_ = bytes; }

  // Offsets of the layout, for tests that break or log over them.
  uint64_t log_offset() const { return kMiB; }
  uint64_t metadata_offset() const { return kMiB + log_bytes_; }
  uint64_t bat_offset() const { return metadata_offset() + kMiB; }
  uint64_t bat_entries() const;
  uint64_t BlockOffset(uint64_t block) const;  // where WriteBlock put it

  // The whole file.
  std::string Build() const;

  // The file of Build() left as by a crash: each 4 KiB sector an update
  // covers holds `stale` bytes (repeated) on disk and its real content in
  // log entries of at most `per_entry` updates, the first written at log
  // sector `first_sector` (entries wrap around the end of the log). Older
  // entries of a superseded sequence are written before, when
  // `old_sequence` is set. Replaying the log gives Build() back.
  std::string BuildDirty(const std::vector<uint64_t>& sectors_to_log, char stale,
                         size_t per_entry = 4, uint64_t first_sector = 0, bool old_sequence = false,
                         std::vector<VhdxLogUpdate> zeros = {}) const;

  // The log entry bytes for `updates` with this sequence number and tail.
  static std::string LogEntry(const std::vector<VhdxLogUpdate>& updates, uint64_t sequence,
                              uint32_t tail_bytes, const std::string& log_guid,
                              uint64_t file_bytes);

 private:
  struct Block {
    uint8_t state = 0;
    std::string data;
    std::vector<bool> present;
  };

  uint64_t virtual_bytes_;
  uint32_t block_bytes_;
  uint32_t logical_;
  uint64_t log_bytes_ = kMiB;
  uint8_t guid_seed_ = 1;
  bool has_parent_ = false;
  std::vector<std::pair<std::string, std::string>> locator_;
  std::map<uint64_t, Block> blocks_;
};

// Patches a VHDX file's header `index` (0 or 1) and region tables after a
// test changed their bytes: recomputes the CRC-32C of both headers and both
// region tables in `file`.
void FixVhdxChecksums(std::string* file);

// CRC-32C written independently of core/util (bitwise), for the builder.
uint32_t TestCrc32c(const std::string& bytes);

}  // namespace imgfs::testing
