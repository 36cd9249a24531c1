// SPDX-License-Identifier: MIT
// The BlockMapDevice read path. No lock: the driver's tables live in the
// Cache or are immutable, host reads are positional, and the read-ahead and
// stream state are relaxed atomics that only pick strategies.
#include "core/blockmap/block_map_device.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include "core/util/hex.h"

namespace imgfs {
namespace {

// Sequential read-ahead: reads of at least kReadAheadMinBytes that start
// within kSequentialSlackBytes of where the previous one ended (FUSE workers
// may answer a stream slightly out of order) ask the host to read the next
// kReadAheadBytes of the image file in the background. The data lands in the
// host page cache, never in our Cache, so a streaming pass cannot evict
// metadata; the window is topped up once a quarter of it has been consumed.
constexpr uint64_t kReadAheadMinBytes = uint64_t{64} << 10;
constexpr uint64_t kReadAheadBytes = uint64_t{8} << 20;
constexpr uint64_t kSequentialSlackBytes = uint64_t{4} << 20;
// Stored units closer than this are prefetched as one host range.
constexpr uint64_t kPrefetchGapBytes = uint64_t{4} << 10;

// Guest bytes [offset, offset + length) read as one unit of parallel work.
struct Piece {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Appends a piece, merging it into the previous one while that is small.
void AddPiece(std::vector<Piece>* pieces, uint64_t offset, uint64_t length) {
  if (!pieces->empty()) {
    Piece& last = pieces->back();
    if (last.length < BlockMapDevice::kMinPieceBytes &&
        last.length + length <= BlockMapDevice::kHostPieceBytes) {
      last.length += length;
      return;
    }
  }
  pieces->push_back(Piece{offset, length});
}

// A host byte range to prefetch.
struct HostRange {
  const File* file = nullptr;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Adds [offset, offset + length) of `file` to `ranges`, extending the last
// range when the new one follows it closely.
void AddHostRange(std::vector<HostRange>* ranges, const File* file, uint64_t offset,
                  uint64_t length) {
  if (!ranges->empty()) {
    HostRange& last = ranges->back();
    uint64_t last_end = last.offset + last.length;
    if (last.file == file && offset >= last.offset && offset <= last_end + kPrefetchGapBytes) {
      last.length = std::max(last_end, offset + length) - last.offset;
      return;
    }
  }
  ranges->push_back(HostRange{file, offset, length});
}

// Whether `next` (which starts where `run` ends) can be read together with
// it: same kind and, for host bytes, contiguous in the same file.
// Compressed units and driver reads are always read one by one.
bool Joins(const Mapping& run, const Mapping& next) {
  if (run.kind != next.kind || run.kind == MapKind::kCompressed || run.kind == MapKind::kIndirect) {
    return false;
  }
  return run.kind != MapKind::kHost ||
         (next.file == run.file && next.host_offset == run.host_offset + run.length);
}

}  // namespace

Status ReadHostZeroFilled(const File& file, uint64_t offset, std::span<std::byte> dst) {
  size_t done = 0;
  while (done < dst.size()) {
    IMGFS_ASSIGN_OR_RETURN(size_t n, file.ReadAt(offset + done, dst.subspan(done)));
    if (n == 0) {
      std::memset(dst.data() + done, 0, dst.size() - done);
      break;
    }
    done += n;
  }
  return Status::Ok();
}

Status BlockMapDevice::ReadCompressed(const Mapping& m, uint64_t offset,
                                      std::span<std::byte> /*dst*/) const {
  return UnsupportedError(std::string(config_.format) + ": compressed unit at host " +
                          Hex(m.host_offset) + " (guest " + Hex(offset) +
                          ") has no reader in this driver");
}

Status BlockMapDevice::ReadIndirect(const Mapping& /*m*/, uint64_t offset,
                                    std::span<std::byte> /*dst*/) const {
  return UnsupportedError(std::string(config_.format) + ": guest range at " + Hex(offset) +
                          " has no reader in this driver");
}

Result<ExtentKind> BlockMapDevice::IndirectExtentKind(const Mapping& /*m*/,
                                                      uint64_t /*offset*/) const {
  return ExtentKind::kData;
}

bool BlockMapDevice::ContinuesRecentRead(uint64_t offset, uint64_t end) const {
  bool continues = false;
  for (const std::atomic<uint64_t>& e : recent_ends_) {
    continues = continues || (offset != 0 && e.load(std::memory_order_relaxed) == offset);
  }
  size_t slot = recent_next_.fetch_add(1, std::memory_order_relaxed) % kRecentEnds;
  recent_ends_[slot].store(end, std::memory_order_relaxed);
  return continues;
}

// Map, with its contract checked so that a driver bug cannot loop forever
// or run past the buffer.
Result<Mapping> BlockMapDevice::MapChecked(uint64_t offset, uint64_t max_length) const {
  IMGFS_ASSIGN_OR_RETURN(Mapping m, Map(offset, max_length));
  if (m.length == 0 || m.length > max_length) {
    return InternalError(std::string(config_.format) + ": mapping at " + Hex(offset) + " covers " +
                         std::to_string(m.length) + " bytes, not 1.." + std::to_string(max_length));
  }
  if (m.kind == MapKind::kHost && m.file == nullptr) {
    return InternalError(std::string(config_.format) + ": host mapping at " + Hex(offset) +
                         " names no file");
  }
  return m;
}

Status BlockMapDevice::Read(uint64_t offset, std::span<std::byte> dst) const {
  IMGFS_RETURN_IF_ERROR(CheckRange(offset, dst.size(), Size()));
  if (dst.empty()) {
    return Status::Ok();  // Map() is never asked for a zero-length run
  }
  if (dst.size() >= kReadAheadMinBytes) {
    ReadAhead(offset, dst.size());
  }
  if (config_.pool != nullptr && dst.size() >= kParallelMinBytes) {
    return ReadParallel(offset, dst);
  }
  return ReadSerial(offset, dst);
}

Status BlockMapDevice::ReadMapped(const Mapping& m, uint64_t offset,
                                  std::span<std::byte> dst) const {
  switch (m.kind) {
    case MapKind::kHost:
      if (config_.read_around != nullptr && m.file == config_.read_around_file) {
        config_.read_around->BeforeRead(*m.file, m.host_offset, dst.size());
      }
      return ReadHostZeroFilled(*m.file, m.host_offset, dst);
    case MapKind::kZero:
      std::memset(dst.data(), 0, dst.size());
      return Status::Ok();
    case MapKind::kUnallocated:
      return ReadOrZero(backing(), offset, dst);
    case MapKind::kCompressed:
      return ReadCompressed(m, offset, dst);
    case MapKind::kIndirect:
      return ReadIndirect(m, offset, dst);
  }
  return InternalError(std::string(config_.format) + ": bad mapping kind at " + Hex(offset));
}

// Reads run by run on the calling thread. Neighbouring runs that join (host
// bytes contiguous across table boundaries, zeros, backing ranges) become
// one read; the mapping that ends a join is kept, so Map is never asked twice.
Status BlockMapDevice::ReadSerial(uint64_t offset, std::span<std::byte> dst) const {
  const uint64_t end = offset + dst.size();
  uint64_t pos = offset;
  IMGFS_ASSIGN_OR_RETURN(Mapping run, MapChecked(pos, end - pos));
  while (true) {
    std::optional<Mapping> next;
    while (pos + run.length < end) {
      const uint64_t at = pos + run.length;
      IMGFS_ASSIGN_OR_RETURN(Mapping m, MapChecked(at, end - at));
      if (!Joins(run, m)) {
        next = m;
        break;
      }
      run.length += m.length;
    }
    auto chunk = dst.subspan(static_cast<size_t>(pos - offset), static_cast<size_t>(run.length));
    IMGFS_RETURN_IF_ERROR(ReadMapped(run, pos, chunk));
    pos += run.length;
    if (!next) {
      return Status::Ok();
    }
    run = *next;
  }
}

// Maps the request into pieces on the calling thread (drivers cache their
// tables, so this is cheap), then reads the pieces on the pool; the calling
// thread takes pieces too. Each compressed mapping is one piece (a driver
// can inflate it straight into the caller's buffer); other runs are cut
// every kHostPieceBytes so that several host reads are in flight.
Status BlockMapDevice::ReadParallel(uint64_t offset, std::span<std::byte> dst) const {
  std::vector<Piece> pieces;
  const uint64_t end = offset + dst.size();
  uint64_t pos = offset;
  while (pos < end) {
    IMGFS_ASSIGN_OR_RETURN(Mapping m, MapChecked(pos, end - pos));
    uint64_t cut = m.kind == MapKind::kCompressed ? m.length : kHostPieceBytes;
    for (uint64_t done = 0; done < m.length; done += cut) {
      AddPiece(&pieces, pos + done, std::min(cut, m.length - done));
    }
    pos += m.length;
  }
  if (pieces.size() == 1) {
    return ReadSerial(offset, dst);
  }
  pieces_read_.fetch_add(pieces.size(), std::memory_order_relaxed);
  std::vector<Status> results(pieces.size());
  config_.pool->ParallelFor(pieces.size(), [&](size_t i) {
    const Piece& p = pieces[i];
    results[i] = ReadSerial(p.offset, dst.subspan(static_cast<size_t>(p.offset - offset),
                                                  static_cast<size_t>(p.length)));
  });
  for (Status& s : results) {
    if (!s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

void BlockMapDevice::ReadAhead(uint64_t offset, uint64_t length) const {
  const uint64_t end = offset + length;
  const uint64_t previous_end = seq_end_.exchange(end, std::memory_order_relaxed);
  const uint64_t gap = offset > previous_end ? offset - previous_end : previous_end - offset;
  if (gap > kSequentialSlackBytes) {
    return;  // not a stream (yet)
  }
  const uint64_t window_end = std::min(Size(), end + kReadAheadBytes);
  uint64_t from = ahead_until_.load(std::memory_order_relaxed);
  if (from < end || from > window_end) {
    from = end;  // behind the reader, or the reader started over
  }
  if (window_end <= from || window_end - from < kReadAheadBytes / 4) {
    return;
  }
  ahead_until_.store(window_end, std::memory_order_relaxed);
  PrefetchHost(from, window_end - from);
}

// Asks the host to start reading the image bytes behind guest range
// [offset, offset + length). Unallocated ranges are left to the backing
// device, which sees the same stream and reads ahead itself. Best effort:
// a mapping error stops the prefetch silently (the read will report it).
void BlockMapDevice::PrefetchHost(uint64_t offset, uint64_t length) const {
  std::vector<HostRange> ranges;
  const uint64_t end = offset + length;
  uint64_t pos = offset;
  while (pos < end) {
    Result<Mapping> m = MapChecked(pos, end - pos);
    if (!m.ok()) {
      break;
    }
    if (m->kind == MapKind::kHost) {
      AddHostRange(&ranges, m->file, m->host_offset, m->length);
    } else if (m->kind == MapKind::kCompressed && m->file != nullptr) {
      AddHostRange(&ranges, m->file, m->host_offset, m->stored_bytes);
    }
    pos += m->length;
  }
  for (const HostRange& r : ranges) {
    r.file->Prefetch(r.offset, r.length);
  }
}

// Unallocated here: what the backing chain holds, one level deeper
// (qemu-img map semantics); past the backing's end, unallocated at depth 0.
Status BlockMapDevice::BackingExtents(uint64_t offset, uint64_t length,
                                      std::vector<Extent>* out) const {
  const BlockDevice* below = backing();
  const uint64_t end = offset + length;
  uint64_t pos = offset;
  if (below != nullptr && pos < below->Size()) {
    const uint64_t below_end = std::min(end, below->Size());
    std::vector<Extent> sub;
    while (pos < below_end) {
      sub.clear();
      IMGFS_RETURN_IF_ERROR(below->Extents(pos, below_end - pos, &sub));
      if (sub.empty()) {
        return InternalError(std::string(config_.format) + ": backing extents at " + Hex(pos) +
                             " made no progress");
      }
      for (Extent e : sub) {
        if (e.offset != pos || e.length == 0 || e.length > below_end - pos) {
          return InternalError(std::string(config_.format) +
                               ": backing device returned a bad extent at " + Hex(pos));
        }
        e.depth += 1;
        pos += e.length;
        out->push_back(e);
      }
    }
  }
  if (pos < end) {
    out->push_back(Extent{pos, end - pos, ExtentKind::kUnallocated, 0, std::nullopt, false});
  }
  return Status::Ok();
}

Status BlockMapDevice::Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const {
  IMGFS_RETURN_IF_ERROR(CheckRange(offset, length, Size()));
  if (length == 0) {
    return InvalidArgumentError(std::string(config_.format) + ": extent query of zero length");
  }
  uint64_t limit = offset + length;
  if (const uint32_t bits = config_.extents_window_bits; bits != 0 && bits < 64) {
    const uint64_t window_end = ((offset >> bits) + 1) << bits;
    if (window_end > offset) {  // no wrap at the top of the address space
      limit = std::min(limit, window_end);
    }
  }
  const size_t first = out->size();
  uint64_t pos = offset;
  while (pos < limit && out->size() - first < kMaxExtentsPerCall) {
    IMGFS_ASSIGN_OR_RETURN(Mapping m, MapChecked(pos, limit - pos));
    switch (m.kind) {
      case MapKind::kHost:
        out->push_back(Extent{pos, m.length, ExtentKind::kData, 0, m.host_offset, false});
        break;
      case MapKind::kCompressed:
        out->push_back(Extent{pos, m.length, ExtentKind::kData, 0, std::nullopt, true});
        break;
      case MapKind::kIndirect: {
        IMGFS_ASSIGN_OR_RETURN(ExtentKind kind, IndirectExtentKind(m, pos));
        if (kind == ExtentKind::kUnallocated) {
          IMGFS_RETURN_IF_ERROR(BackingExtents(pos, m.length, out));
        } else {
          out->push_back(Extent{pos, m.length, kind, 0, std::nullopt, false});
        }
        break;
      }
      case MapKind::kZero:
        out->push_back(Extent{pos, m.length, ExtentKind::kZero, 0, std::nullopt, false});
        break;
      case MapKind::kUnallocated:
        IMGFS_RETURN_IF_ERROR(BackingExtents(pos, m.length, out));
        break;
    }
    pos += m.length;
  }
  CoalesceExtents(out, first);
  return Status::Ok();
}

}  // namespace imgfs
