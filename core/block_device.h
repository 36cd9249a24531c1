// SPDX-License-Identifier: MIT
// BlockDevice: the one abstraction every format, filter and synthetic disk
// implements. A byte-addressed virtual disk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/status.h"

namespace imgfs {

enum class ExtentKind : uint8_t {
  kData,         // bytes are stored somewhere in the chain
  kZero,         // known to read as zeros (zero cluster, hole in a raw file)
  kUnallocated,  // allocated nowhere in the chain; reads as zeros
};

// One run of the allocation map, in virtual (guest) byte offsets.
struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
  ExtentKind kind = ExtentKind::kData;
  // 0 = the top image, 1 = its backing file, ... (like `qemu-img map`).
  uint32_t depth = 0;
  // Where the bytes lie in the image file at `depth`, when stored plainly
  // (uncompressed, unencrypted); absent otherwise.
  std::optional<uint64_t> host_offset;
  bool compressed = false;
};

struct SnapshotInfo {
  std::string id;
  std::string name;
  uint64_t virtual_size = 0;
  uint64_t vm_state_size = 0;
  uint64_t date_sec = 0;
  uint64_t date_nsec = 0;
  uint64_t vm_clock_nsec = 0;
  uint64_t icount = UINT64_MAX;  // UINT64_MAX when the image does not record it
};

// What `imgfs info` shows. Field names follow `qemu-img info --output=json`.
struct ImageInfo {
  std::string format;
  std::string filename;
  uint64_t virtual_size = 0;
  uint64_t actual_size = 0;
  std::optional<uint64_t> cluster_size;
  std::string backing_filename;       // as written in the image
  std::string full_backing_filename;  // resolved path
  std::string backing_format;
  bool dirty = false;
  bool corrupt = false;
  std::string encryption;  // empty = not encrypted; else e.g. "luks"
  std::vector<SnapshotInfo> snapshots;
  nlohmann::json format_specific;  // {"type": fmt, "data": {...}} like qemu-img
  std::vector<std::string> notes;  // e.g. why a file was probed as raw
};

class File;
// What every image file's Describe starts from: the format, the file's name
// and the space it takes on the host (0 when the host cannot tell), and the
// disk size.
ImageInfo FileImageInfo(std::string_view format, const File& file, uint64_t virtual_size);

struct CheckReport {
  std::vector<std::string> errors;    // inconsistencies that lose or corrupt data
  std::vector<std::string> warnings;  // leaks and other harmless findings
  std::vector<std::string> checked;   // what was checked, for the summary
  bool clean() const { return errors.empty() && warnings.empty(); }
};

// A virtual disk. Reads are safe from many threads at once; Write, Discard
// and Flush need external serialisation unless a device says otherwise.
class BlockDevice {
 public:
  virtual ~BlockDevice() = default;

  // Virtual size in bytes (need not be a multiple of 512).
  virtual uint64_t Size() const = 0;

  // Reads dst.size() bytes at `offset`. REQUIRES: offset + dst.size() <=
  // Size(); a read past the end returns kOutOfRange and reads nothing.
  // Unallocated ranges read as zeros (or from the backing device).
  virtual Status Read(uint64_t offset, std::span<std::byte> dst) const = 0;

  // Read-only devices (the default) return kReadOnly.
  virtual Status Write(uint64_t offset, std::span<const std::byte> src);
  virtual Status Discard(uint64_t offset, uint64_t length_bytes);
  virtual Status Flush();

  // Appends to `out` extents that describe a non-empty prefix of
  // [offset, offset + length) in order, without gaps (a device may stop
  // early to bound memory; callers loop). REQUIRES: length > 0 and the range
  // inside Size().
  virtual Status Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const = 0;

  virtual ImageInfo Describe() const = 0;

  // The device this one falls through to, or nullptr.
  virtual const BlockDevice* backing() const { return nullptr; }

  // Internal snapshots: a read-only view of the snapshot with this id or
  // name. kNotFound when there is none; kUnsupported for formats without.
  virtual Result<std::unique_ptr<BlockDevice>> OpenSnapshot(std::string_view id_or_name) const;

  // Metadata consistency check. The default reports that nothing could be
  // checked beyond opening.
  virtual Result<CheckReport> Check() const;
};

// Reads from `dev` where it exists and zeros elsewhere: past dev->Size(), or
// everything when dev is null. Used for backing files shorter than overlays.
Status ReadOrZero(const BlockDevice* dev, uint64_t offset, std::span<std::byte> dst);

// Checks offset/length against size for Read/Extents entry points.
Status CheckRange(uint64_t offset, uint64_t length, uint64_t size);

// Merges adjacent extents of the same kind, depth and contiguous host
// offsets in place. Only extents from index `first` on are merged (with each
// other), so a device can tidy what it appended to a caller's vector.
void CoalesceExtents(std::vector<Extent>* extents, size_t first = 0);

// Collects the full allocation map of [offset, offset + length).
Status CollectExtents(const BlockDevice& dev, uint64_t offset, uint64_t length,
                      std::vector<Extent>* out);

}  // namespace imgfs
