// SPDX-License-Identifier: MIT
// Segment names, the concatenated data-fork File and per-segment koly
// checks (see segments.h).
#include "formats/dmg/segments.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/util/checked.h"
#include "core/util/hex.h"

namespace imgfs::dmg {
namespace {

constexpr std::string_view kFirstSuffix = ".dmg";
constexpr std::string_view kPartSuffix = ".dmgpart";

bool EndsWithNoCase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) {
    return false;
  }
  return std::equal(suffix.begin(), suffix.end(), s.end() - static_cast<ptrdiff_t>(suffix.size()),
                    [](char a, char b) {
                      return std::tolower(static_cast<unsigned char>(a)) ==
                             std::tolower(static_cast<unsigned char>(b));
                    });
}

class ConcatFile final : public File {
 public:
  ConcatFile(std::string name, std::vector<FilePiece> pieces)
      : name_(std::move(name)), pieces_(std::move(pieces)) {
    starts_.reserve(pieces_.size());
    for (const FilePiece& p : pieces_) {
      starts_.push_back(size_);
      size_ += p.length;  // the caller checked the sum for overflow
    }
  }

  Result<size_t> ReadAt(uint64_t offset, std::span<std::byte> dst) const override {
    if (offset >= size_ || dst.empty()) {
      return size_t{0};
    }
    const size_t want = static_cast<size_t>(std::min<uint64_t>(dst.size(), size_ - offset));
    // The last piece starting at or before `offset`; empty pieces are skipped
    // by the loop below.
    auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
    size_t index = static_cast<size_t>(it - starts_.begin()) - 1;
    size_t done = 0;
    while (done < want && index < pieces_.size()) {
      const FilePiece& p = pieces_[index];
      const uint64_t pos = offset + done;
      const uint64_t in_piece = pos - starts_[index];
      if (in_piece >= p.length) {
        ++index;
        continue;
      }
      const auto n = static_cast<size_t>(std::min<uint64_t>(p.length - in_piece, want - done));
      IMGFS_ASSIGN_OR_RETURN(size_t got, p.file->ReadAt(p.offset + in_piece, dst.subspan(done, n)));
      done += got;
      if (got < n) {
        break;  // the segment file shrank: a short read, reported by the caller
      }
      ++index;
    }
    return done;
  }
  Status WriteAt(uint64_t /*offset*/, std::span<const std::byte> /*src*/) override {
    return UnsupportedError("dmg: segmented image data is read-only");
  }
  Result<uint64_t> Size() const override { return size_; }
  Status Flush() override { return Status::Ok(); }
  Status Truncate(uint64_t /*size_bytes*/) override {
    return UnsupportedError("dmg: segmented image data is read-only");
  }
  Result<uint64_t> AllocatedBytes() const override {
    std::vector<const File*> seen;
    uint64_t total = 0;
    for (const FilePiece& p : pieces_) {
      if (std::find(seen.begin(), seen.end(), p.file.get()) != seen.end()) {
        continue;
      }
      seen.push_back(p.file.get());
      IMGFS_ASSIGN_OR_RETURN(uint64_t n, p.file->AllocatedBytes());
      total += n;
    }
    return total;
  }
  void Prefetch(uint64_t offset, uint64_t length) const override {
    for (size_t i = 0; i < pieces_.size() && length > 0; ++i) {
      const uint64_t start = starts_[i];
      const uint64_t end = start + pieces_[i].length;
      if (offset >= end || offset + length <= start) {
        continue;
      }
      const uint64_t from = std::max(offset, start);
      const uint64_t to = std::min(offset + length, end);
      pieces_[i].file->Prefetch(pieces_[i].offset + (from - start), to - from);
    }
  }
  const std::string& name() const override { return name_; }

 private:
  const std::string name_;
  const std::vector<FilePiece> pieces_;
  std::vector<uint64_t> starts_;  // where each piece begins; sorted
  uint64_t size_ = 0;
};

}  // namespace

Status InSegment(const std::string& where, const Status& s) {
  std::string_view msg = s.message();
  if (msg.starts_with("dmg: ")) {
    msg.remove_prefix(5);
  }
  return Status(s.code(), where + ": " + std::string(msg), s.sys_errno());
}

std::string SegmentFileName(std::string_view first_name, uint32_t number) {
  if (number <= 1) {
    return std::string(first_name);
  }
  std::string_view stem = first_name;
  if (EndsWithNoCase(stem, kFirstSuffix)) {
    stem.remove_suffix(kFirstSuffix.size());
  }
  char digits[16];
  std::snprintf(digits, sizeof digits, ".%03u", number);
  return std::string(stem) + digits + std::string(kPartSuffix);
}

std::optional<std::string> NumberedSegmentFileName(std::string_view first_name, uint32_t number) {
  constexpr std::string_view kFirstNumber = ".001";
  std::string_view stem = first_name;
  if (number <= 1 || !EndsWithNoCase(stem, kFirstSuffix)) {
    return std::nullopt;
  }
  stem.remove_suffix(kFirstSuffix.size());
  if (!stem.ends_with(kFirstNumber)) {
    return std::nullopt;
  }
  stem.remove_suffix(kFirstNumber.size());
  return SegmentFileName(std::string(stem) + std::string(kFirstSuffix), number);
}

std::optional<std::string> FirstSegmentName(std::string_view part_name) {
  if (!EndsWithNoCase(part_name, kPartSuffix)) {
    return std::nullopt;
  }
  std::string_view stem = part_name.substr(0, part_name.size() - kPartSuffix.size());
  const size_t dot = stem.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == stem.size() ||
      !std::all_of(stem.begin() + static_cast<ptrdiff_t>(dot) + 1, stem.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
    return std::nullopt;
  }
  return std::string(stem.substr(0, dot)) + std::string(kFirstSuffix);
}

std::unique_ptr<File> NewConcatFile(std::string name, std::vector<FilePiece> pieces) {
  return std::make_unique<ConcatFile>(std::move(name), std::move(pieces));
}

Result<SegmentFile> CheckSegment(std::string name, std::shared_ptr<const File> file,
                                 uint32_t number, const Koly& first, uint64_t running_offset) {
  const std::string where = "dmg: segment " + std::to_string(number) + " of " +
                            std::to_string(first.segment_count) + " '" + name + "'";
  SegmentFile seg;
  IMGFS_ASSIGN_OR_RETURN(seg.file_size, file->Size());
  if (seg.file_size < kKolyBytes) {
    return CorruptError(where + " is too small for a koly trailer (" +
                        std::to_string(seg.file_size) + " bytes)");
  }
  std::array<std::byte, kKolyBytes> trailer;
  Status read = file->ReadExactAt(seg.file_size - kKolyBytes, trailer, "dmg: koly trailer");
  if (!read.ok()) {
    return InSegment(where, read);
  }
  auto koly = DecodeKoly(trailer);
  if (!koly.ok()) {
    return InSegment(where, koly.status());
  }
  seg.koly = *koly;
  const Koly& k = seg.koly;
  if (k.segment_id != first.segment_id) {
    return CorruptError(where + " has another segment id (it belongs to another image)");
  }
  if (k.segment_count != first.segment_count) {
    return CorruptError(where + " says it is one of " + std::to_string(k.segment_count) +
                        " segments");
  }
  if (k.segment_number != number) {
    return CorruptError(where + " says it is segment " + std::to_string(k.segment_number));
  }
  if (k.sector_count != first.sector_count) {
    return CorruptError(where + " says the disk has " + std::to_string(k.sector_count) +
                        " sectors, the first segment " + std::to_string(first.sector_count));
  }
  if (!RangeWithin(k.data_fork_offset, k.data_fork_length, seg.file_size - kKolyBytes)) {
    return CorruptError(where + " data fork at " + Hex(k.data_fork_offset) + " (" +
                        std::to_string(k.data_fork_length) + " bytes) leaves the file (size " +
                        Hex(seg.file_size) + "); is the segment truncated?");
  }
  // hdiutil records where each segment's fork starts in the concatenation;
  // 0 is tolerated (a writer that leaves it unset), anything else must agree
  // with the lengths of the segments before it.
  if (k.running_data_fork_offset != running_offset && k.running_data_fork_offset != 0) {
    return CorruptError(where + " running data fork offset " + Hex(k.running_data_fork_offset) +
                        " disagrees with the earlier segments' data forks (" + Hex(running_offset) +
                        " bytes)");
  }
  seg.name = std::move(name);
  seg.file = std::move(file);
  return seg;
}

bool IsLaterSegmentTail(std::span<const std::byte> tail) {
  if (tail.size() < kKolyBytes) {
    return false;
  }
  auto koly = DecodeKoly(tail.last(kKolyBytes));
  return koly.ok() && koly->segment_number > 1;
}

}  // namespace imgfs::dmg
