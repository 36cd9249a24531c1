// SPDX-License-Identifier: MIT
// VHDX log replay in memory (see log.h). The log is a circular buffer of
// entries; each entry is a header sector, more descriptor sectors, and one
// data sector per data descriptor ([MS-VHDX] 2.3.1). The active sequence is
// the run of valid entries with consecutive sequence numbers whose last
// entry (the head) names the run's first entry as its tail, with the
// highest head sequence number (2.3.3).
#include "formats/vhdx/log.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/util/checked.h"
#include "core/util/crc32c.h"
#include "core/util/endian.h"
#include "core/util/hex.h"

namespace imgfs::vhdx {
namespace {

// 2.3.1.1 entry header.
constexpr uint32_t kEntrySignature = 0x65676f6c;  // "loge"
constexpr size_t kEntryChecksum = 4;
constexpr size_t kEntryLength = 8;
constexpr size_t kEntryTail = 12;
constexpr size_t kEntrySequence = 16;
constexpr size_t kEntryDescriptorCount = 24;
constexpr size_t kEntryLogGuid = 32;
constexpr size_t kEntryFlushedFileOffset = 48;
constexpr size_t kEntryLastFileOffset = 56;
// 2.3.1.2 zero and 2.3.1.3 data descriptors.
constexpr uint32_t kZeroSignature = 0x6f72657a;  // "zero"
constexpr uint32_t kDescSignature = 0x63736564;  // "desc"
constexpr size_t kDescTrailing = 4;
constexpr size_t kDescLeading = 8;
constexpr size_t kZeroLength = 8;
constexpr size_t kDescFileOffset = 16;
constexpr size_t kDescSequence = 24;
// 2.3.1.4 data sector.
constexpr uint32_t kDataSignature = 0x61746164;  // "data"
constexpr size_t kDataSequenceHigh = 4;
constexpr size_t kDataSequenceLow = 4092;
constexpr size_t kLeadingBytes = 8;
constexpr size_t kTrailingBytes = 4;

// One replayed range of the image file: zeros, or a 4 KiB sector held in
// the log whose first 8 and last 4 bytes come from its descriptor.
struct Piece {
  uint64_t end = 0;
  bool zero = false;
  uint64_t log_sector = 0;  // file offset of the data sector
  std::array<std::byte, kLeadingBytes> leading{};
  std::array<std::byte, kTrailingBytes> trailing{};
};

// What a replay writes, in entry order, before it is folded into pieces.
struct Update {
  uint64_t file_offset = 0;
  uint64_t length = 0;
  Piece piece;
};

struct Entry {
  uint64_t sequence = 0;
  uint64_t length = 0;
  uint64_t tail = 0;
  uint64_t flushed_file_offset = 0;
  uint64_t last_file_offset = 0;
  std::vector<Update> updates;
};

// The image file with replayed pieces laid over it. Immutable.
class ReplayedFile final : public File {
 public:
  ReplayedFile(std::shared_ptr<const File> base, uint64_t base_size, uint64_t size,
               std::map<uint64_t, Piece> pieces)
      : base_(std::move(base)), base_size_(base_size), size_(size), pieces_(std::move(pieces)) {}

  Result<size_t> ReadAt(uint64_t offset, std::span<std::byte> dst) const override {
    if (offset >= size_) {
      return size_t{0};
    }
    dst = dst.first(static_cast<size_t>(std::min<uint64_t>(dst.size(), size_ - offset)));
    const uint64_t end = offset + dst.size();
    size_t have = 0;
    if (offset < base_size_) {
      const auto want = static_cast<size_t>(std::min(end, base_size_) - offset);
      IMGFS_RETURN_IF_ERROR(base_->ReadExactAt(offset, dst.first(want), "vhdx: image"));
      have = want;
    }
    std::fill(dst.begin() + static_cast<ptrdiff_t>(have), dst.end(), std::byte{0});
    auto it = pieces_.upper_bound(offset);
    if (it != pieces_.begin()) {
      --it;
    }
    for (; it != pieces_.end() && it->first < end; ++it) {
      IMGFS_RETURN_IF_ERROR(Overlay(it->first, it->second, offset, dst));
    }
    return dst.size();
  }
  Status WriteAt(uint64_t, std::span<const std::byte>) override { return ReadOnly(); }
  Result<uint64_t> Size() const override { return size_; }
  Status Flush() override { return ReadOnly(); }
  Status Truncate(uint64_t) override { return ReadOnly(); }
  Result<uint64_t> AllocatedBytes() const override { return base_->AllocatedBytes(); }
  void Prefetch(uint64_t offset, uint64_t length) const override {
    base_->Prefetch(offset, length);
  }
  const std::string& name() const override { return base_->name(); }

 private:
  static Status ReadOnly() { return ReadOnlyError("vhdx: a replayed log is held in memory only"); }

  // Copies the part of piece [start, p.end) inside [offset, offset + dst.size()).
  Status Overlay(uint64_t start, const Piece& p, uint64_t offset, std::span<std::byte> dst) const {
    const uint64_t from = std::max(start, offset);
    const uint64_t to = std::min(p.end, offset + dst.size());
    if (from >= to) {
      return Status::Ok();
    }
    std::byte* out = dst.data() + (from - offset);
    if (p.zero) {
      std::memset(out, 0, static_cast<size_t>(to - from));
      return Status::Ok();
    }
    std::array<std::byte, kLogSectorBytes> sector;
    IMGFS_RETURN_IF_ERROR(base_->ReadExactAt(p.log_sector, sector, "vhdx: log data sector"));
    std::copy(p.leading.begin(), p.leading.end(), sector.begin());
    std::copy(p.trailing.begin(), p.trailing.end(), sector.end() - kTrailingBytes);
    std::memcpy(out, sector.data() + (from - start), static_cast<size_t>(to - from));
    return Status::Ok();
  }

  std::shared_ptr<const File> base_;
  const uint64_t base_size_;
  const uint64_t size_;
  const std::map<uint64_t, Piece> pieces_;  // by start; never overlapping
};

// Lays [offset, offset + length) of `u` over `pieces`, cutting what it hides.
// Offsets and lengths are 4 KiB multiples, so only zero pieces are ever cut.
void Apply(const Update& u, std::map<uint64_t, Piece>* pieces) {
  const uint64_t a = u.file_offset;
  const uint64_t b = u.file_offset + u.length;
  auto it = pieces->upper_bound(a);
  if (it != pieces->begin() && std::prev(it)->second.end > a) {
    --it;
  }
  while (it != pieces->end() && it->first < b) {
    const uint64_t start = it->first;
    Piece p = it->second;
    it = pieces->erase(it);
    if (start < a) {
      Piece left = p;
      left.end = a;
      pieces->emplace(start, left);
    }
    if (p.end > b) {
      it = pieces->emplace(b, p).first;  // only zero pieces reach past b
      break;
    }
  }
  pieces->emplace(a, u.piece);
}

// Reads and checks entries of one log (2.3.1), bounding the bytes read.
class LogReader {
 public:
  LogReader(const File& file, const Header& h)
      : file_(file), h_(h), sectors_(h.log_length_bytes / kLogSectorBytes) {}

  uint64_t sectors() const { return sectors_; }

  // The entry whose header is at log sector `s`, or nullopt when there is
  // no valid one. An I/O error is an error.
  Result<std::optional<Entry>> EntryAt(uint64_t s) {
    std::vector<std::byte> head(kLogSectorBytes);
    IMGFS_RETURN_IF_ERROR(ReadSectors(s, head));
    const std::byte* p = head.data();
    if (LoadLE32(p) != kEntrySignature ||
        std::memcmp(p + kEntryLogGuid, h_.log_guid.data(), h_.log_guid.size()) != 0) {
      return std::optional<Entry>();
    }
    Entry e;
    e.length = LoadLE32(p + kEntryLength);
    e.tail = LoadLE32(p + kEntryTail);
    e.sequence = LoadLE64(p + kEntrySequence);
    const uint32_t descriptors = LoadLE32(p + kEntryDescriptorCount);
    e.flushed_file_offset = LoadLE64(p + kEntryFlushedFileOffset);
    e.last_file_offset = LoadLE64(p + kEntryLastFileOffset);
    const uint64_t descriptor_sectors = DivRoundUp(
        kLogEntryHeaderBytes + uint64_t{descriptors} * kLogDescriptorBytes, kLogSectorBytes);
    if (e.length == 0 || e.length % kLogSectorBytes != 0 || e.length > h_.log_length_bytes ||
        e.tail % kLogSectorBytes != 0 || e.tail >= h_.log_length_bytes || e.sequence == 0 ||
        descriptor_sectors * kLogSectorBytes > e.length) {
      return std::optional<Entry>();
    }
    if (budget_ < e.length || descriptors > kMaxReplayDescriptors - descriptors_held_) {
      return UnsupportedError("vhdx: log at " + Hex(h_.log_offset_bytes) +
                              " holds too many overlapping entries or descriptors to search");
    }
    budget_ -= e.length;
    descriptors_held_ += descriptors;
    std::vector<std::byte> bytes(static_cast<size_t>(e.length));
    IMGFS_RETURN_IF_ERROR(ReadSectors(s, bytes));
    std::memset(bytes.data() + kEntryChecksum, 0, 4);
    if (Crc32c(bytes) != LoadLE32(p + kEntryChecksum)) {
      return std::optional<Entry>();
    }
    uint64_t data_sector = descriptor_sectors;
    for (uint32_t i = 0; i < descriptors; ++i) {
      const std::byte* d = bytes.data() + kLogEntryHeaderBytes + size_t{i} * kLogDescriptorBytes;
      if (LoadLE64(d + kDescSequence) != e.sequence) {
        return std::optional<Entry>();
      }
      Update u;
      u.file_offset = LoadLE64(d + kDescFileOffset);
      const uint32_t sig = LoadLE32(d);
      if (sig == kZeroSignature) {
        u.length = LoadLE64(d + kZeroLength);
        u.piece.zero = true;
      } else if (sig == kDescSignature) {
        if ((data_sector + 1) * kLogSectorBytes > e.length) {
          return std::optional<Entry>();
        }
        const std::byte* ds = bytes.data() + data_sector * kLogSectorBytes;
        if (LoadLE32(ds) != kDataSignature ||
            LoadLE32(ds + kDataSequenceHigh) != static_cast<uint32_t>(e.sequence >> 32) ||
            LoadLE32(ds + kDataSequenceLow) != static_cast<uint32_t>(e.sequence)) {
          return std::optional<Entry>();
        }
        u.length = kLogSectorBytes;
        u.piece.log_sector = SectorOffset((s + data_sector) % sectors_);
        std::memcpy(u.piece.leading.data(), d + kDescLeading, kLeadingBytes);
        std::memcpy(u.piece.trailing.data(), d + kDescTrailing, kTrailingBytes);
        ++data_sector;
      } else {
        return std::optional<Entry>();
      }
      e.updates.push_back(u);
    }
    return std::optional<Entry>(std::move(e));
  }

 private:
  uint64_t SectorOffset(uint64_t s) const { return h_.log_offset_bytes + s * kLogSectorBytes; }

  // Reads dst.size() bytes (a 4 KiB multiple) from log sector `s` on,
  // wrapping at the end of the circular log.
  Status ReadSectors(uint64_t s, std::span<std::byte> dst) const {
    while (!dst.empty()) {
      const uint64_t run = std::min<uint64_t>(dst.size(), (sectors_ - s) * kLogSectorBytes);
      IMGFS_RETURN_IF_ERROR(
          file_.ReadExactAt(SectorOffset(s), dst.first(static_cast<size_t>(run)), "vhdx: log"));
      dst = dst.subspan(static_cast<size_t>(run));
      s = 0;
    }
    return Status::Ok();
  }

  const File& file_;
  const Header& h_;
  const uint64_t sectors_;
  // Bytes of entries read at most: a valid log reads each entry about once;
  // hostile overlapping entries stop here, as they do when the descriptors
  // held reach the cap.
  uint64_t budget_ = 2 * kMaxLogBytes;
  uint64_t descriptors_held_ = 0;
};

// Checks the updates of the active sequence against the file's reach.
Status CheckUpdates(const std::vector<Entry>& seq, uint64_t limit) {
  for (const Entry& e : seq) {
    for (const Update& u : e.updates) {
      if (u.file_offset % kLogSectorBytes != 0 || u.length % kLogSectorBytes != 0 ||
          u.file_offset < kRegionTableOffsets[0] || u.length == 0 ||
          !RangeWithin(u.file_offset, u.length, limit)) {
        return CorruptError("vhdx: log entry " + std::to_string(e.sequence) + " writes " +
                            Hex(u.length) + " bytes at " + Hex(u.file_offset) +
                            ", outside the file (" + Hex(limit) + " bytes) or unaligned");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<ReplayResult> ReplayLog(std::shared_ptr<const File> file, const Header& header) {
  ReplayResult out;
  out.file = file;
  if (IsNullGuid(header.log_guid) || header.log_length_bytes == 0) {
    return out;
  }
  if (header.log_length_bytes > kMaxLogBytes) {
    return UnsupportedError("vhdx: log of " + Hex(header.log_length_bytes) + " bytes (at most " +
                            Hex(kMaxLogBytes) + " replayed)");
  }
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file->Size());
  LogReader reader(*file, header);
  const uint64_t n = reader.sectors();
  std::vector<std::optional<Entry>> entries(static_cast<size_t>(n));
  for (uint64_t s = 0; s < n; ++s) {
    IMGFS_ASSIGN_OR_RETURN(entries[s], reader.EntryAt(s));
  }
  // next[s]: the sector of the entry following the one at s in sequence.
  auto next = [&](uint64_t s) -> std::optional<uint64_t> {
    const uint64_t t = (s + entries[s]->length / kLogSectorBytes) % n;
    if (entries[t] && entries[t]->sequence == entries[s]->sequence + 1) {
      return t;
    }
    return std::nullopt;
  };
  // Walk each candidate tail to its head; sequence numbers rise by one per
  // step, so a walk ends within n steps.
  std::optional<uint64_t> best_tail;
  uint64_t best_head_sequence = 0;
  std::vector<bool> inside(static_cast<size_t>(n), false);  // reached from an earlier tail
  for (uint64_t s = 0; s < n; ++s) {
    if (!entries[s] || inside[s]) {
      continue;
    }
    uint64_t at = s;
    std::vector<uint64_t> walk{s};
    for (auto t = next(at); t && walk.size() < n; t = next(at)) {
      at = *t;
      walk.push_back(at);
    }
    // The head names its tail; the sequence from there on is the one to
    // replay, if the walk passed through it.
    const uint64_t tail_sector = entries[at]->tail / kLogSectorBytes;
    auto pos = std::find(walk.begin(), walk.end(), tail_sector);
    for (auto w = walk.begin() + 1; w != walk.end(); ++w) {
      inside[*w] = true;
    }
    if (pos != walk.end() && entries[at]->sequence > best_head_sequence) {
      best_head_sequence = entries[at]->sequence;
      best_tail = *pos;
    }
  }
  if (!best_tail) {
    return out;
  }
  std::vector<uint64_t> order;
  for (uint64_t s = *best_tail;; s = *next(s)) {
    order.push_back(s);
    if (entries[s]->sequence == best_head_sequence) {
      break;
    }
  }
  std::vector<Entry> seq;
  for (uint64_t s : order) {
    seq.push_back(std::move(*entries[s]));
  }
  const Entry& head = seq.back();
  if (file_size < head.flushed_file_offset) {
    return CorruptError("vhdx: log entry " + std::to_string(head.sequence) +
                        " needs the file to hold " + Hex(head.flushed_file_offset) +
                        " bytes, but it has " + Hex(file_size) + " (writes were lost)");
  }
  const uint64_t size = std::max(file_size, head.last_file_offset);
  IMGFS_RETURN_IF_ERROR(CheckUpdates(seq, size));
  std::map<uint64_t, Piece> pieces;
  for (const Entry& e : seq) {
    for (const Update& u : e.updates) {
      Update placed = u;
      placed.piece.end = u.file_offset + u.length;
      Apply(placed, &pieces);
    }
  }
  out.file = std::make_shared<ReplayedFile>(file, file_size, size, std::move(pieces));
  out.entries = seq.size();
  out.head_sequence = head.sequence;
  return out;
}

}  // namespace imgfs::vhdx
