// SPDX-License-Identifier: MIT
// Segmented UDIF images (`hdiutil segment`): NAME.dmg, NAME.002.dmgpart,
// NAME.003.dmgpart, ... Each file ends with its own koly trailer saying
// which segment it is (segment_number of segment_count) and sharing one
// segment_id UUID; only the first holds the XML plist. The segments' data
// forks, concatenated in segment order, form the one data fork the blkx
// chunk offsets index into (running_data_fork_offset is where a segment's
// fork starts in that concatenation). See formats/dmg/README.md for what
// is verified and what is assumed.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/io/file.h"
#include "core/result.h"
#include "formats/dmg/udif.h"

namespace imgfs::dmg {

// More segments than this are refused: hdiutil's segments are sized for
// removable media, so real sets have a handful; every segment holds an open
// descriptor while the image is open.
inline constexpr uint32_t kMaxSegments = 4096;

// The file name of segment `number` (1-based) of the set whose first
// segment is `first_name`: the name itself for 1, else the name without its
// ".dmg" suffix plus ".NNN.dmgpart" (three digits at least, as hdiutil
// names them: "disk.dmg" -> "disk.002.dmgpart"). A directory part is kept.
std::string SegmentFileName(std::string_view first_name, uint32_t number);

// The name segment `number` (>= 2) has when the first segment itself is
// numbered, "disk.001.dmg" -> "disk.002.dmgpart" (the naming libMirage
// expects); nullopt when `first_name` is not numbered that way. Tried when
// SegmentFileName's file does not exist.
std::optional<std::string> NumberedSegmentFileName(std::string_view first_name, uint32_t number);

// The first segment's name for a later segment's name ("disk.002.dmgpart"
// -> "disk.dmg"), or nullopt when `part_name` is not named that way.
std::optional<std::string> FirstSegmentName(std::string_view part_name);

// A range of a host file: one segment's data fork.
struct FilePiece {
  std::shared_ptr<const File> file;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// A read-only File whose bytes are `pieces` one after another. ReadAt is
// bounds-checked per piece and thread-safe (the pieces' files are read
// positionally); a piece whose file has shrunk reads short, so ReadExactAt
// reports it. AllocatedBytes sums the distinct files' allocations.
// Writes return kUnsupported.
std::unique_ptr<File> NewConcatFile(std::string name, std::vector<FilePiece> pieces);

// One segment file of a segmented image, as checked when it was opened.
struct SegmentFile {
  std::string name;  // as shown to the user (resolved path)
  std::shared_ptr<const File> file;
  uint64_t file_size = 0;
  Koly koly;
};

// Reads and checks the koly trailer at the end of `file`, segment `number`
// of the set described by `first` (segment 1): same count, segment_id and
// sector count, this number, data fork inside the file, running_data_fork_offset equal to
// `running_offset` (or 0, which some writers may leave). kCorrupt names
// the segment and the field.
Result<SegmentFile> CheckSegment(std::string name, std::shared_ptr<const File> file,
                                 uint32_t number, const Koly& first, uint64_t running_offset);

// `s` with its message prefixed by `where` ("dmg: segment 2 of 3 'x'"),
// dropping the message's own "dmg: " so the line names the format once.
Status InSegment(const std::string& where, const Status& s);

// True when a file's last bytes `tail` (ending where the file ends) hold a
// koly trailer that says it is a later segment (number > 1) of a segmented
// image: such a file is not an image of its own (directory listings skip
// it). Shorter than a koly trailer: false.
bool IsLaterSegmentTail(std::span<const std::byte> tail);

}  // namespace imgfs::dmg
