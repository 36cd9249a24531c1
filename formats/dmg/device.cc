// SPDX-License-Identifier: MIT
// The UDIF read path (see device.h). The image and the chunk map are
// immutable, decompressed chunks live in the shared Cache, and File reads
// are positional; the one lock, ReadAhead::mu, guards the chunks being
// inflated and the stream slots.
#include "formats/dmg/device.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>

#include "core/util/checked.h"
#include "core/util/hex.h"
#include "formats/dmg/codec.h"
#include "formats/dmg/describe.h"

namespace imgfs::dmg {
namespace {

// A decompressed chunk as the Cache holds it; never value-initialised.
struct Decompressed {
  std::unique_ptr<std::byte[]> bytes;
  // Stream data (read ahead, or inflated for a read of at least
  // kReadAheadMinBytes): it leaves the Cache once reads have copied out as
  // many bytes as it holds. A stream does not come back, and keeping up to
  // the whole Cache of it would cost fresh pages (page faults) per chunk
  // and evict other devices' tables.
  bool transient = false;
  mutable std::atomic<uint64_t> consumed_bytes{0};  // counted when transient
};

// Extents reported per call, to bound memory (callers loop).
constexpr size_t kMaxExtentChunks = 4096;

// Sequential read-ahead. FUSE sends a buffered stream as <= 1 MiB requests,
// each inside one or two 1 MiB chunks, so without help every chunk would be
// inflated by the one thread that asked. A read of at least
// kReadAheadMinBytes that starts within kStreamSlackBytes of where an
// earlier read ended (FUSE workers may answer a stream slightly out of
// order) continues that stream. From its kStreamConfirmReads-th
// continuation on (large random reads rarely land next to each other
// twice), the stream's next compressed chunks, up to kReadAheadBytes past
// its end, are inflated on the pool into the Cache. Smaller reads (random
// 4 KiB) neither look at the streams nor start work.
constexpr uint64_t kReadAheadMinBytes = uint64_t{64} << 10;
constexpr uint64_t kReadAheadBytes = uint64_t{8} << 20;
constexpr uint64_t kStreamSlackBytes = uint64_t{2} << 20;
constexpr uint32_t kStreamConfirmReads = 2;
// Streams followed at once per device (a few readers of one mount).
constexpr size_t kStreamSlots = 4;
// Read-ahead chunks queued or running per device. Readers that would wait
// for a chunk take queued ones themselves, so a deeper queue than the pool
// is useful; per pool thread (and the reader) four at most.
constexpr size_t kMaxAheadChunks = 8;
constexpr size_t kAheadChunksPerThread = 4;
// Read-ahead output waits in the Cache for its reader: use at most this
// fraction of the Cache so that it is rarely evicted before being read.
constexpr uint64_t kAheadCacheFraction = 4;
// Compressed input up to this size is read into a buffer kept per thread;
// larger (rare, other writers' huge chunks) is allocated per chunk.
constexpr size_t kReusedInputBytes = size_t{4} << 20;

// Counts a running read while it lives.
class Counted {
 public:
  explicit Counted(std::atomic<unsigned>& n) : n_(n) { n_.fetch_add(1); }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  ~Counted() { n_.fetch_sub(1); }

 private:
  std::atomic<unsigned>& n_;
};

// One chunk being inflated, by a pool task or by a reader. Every field is
// guarded by ReadAhead::mu.
struct Inflation {
  enum class State { kQueued, kRunning, kDone };
  State state = State::kQueued;
  bool ahead = false;  // submitted by read-ahead (counted in ReadAhead::pending)
  // Once kDone: the chunk, or null when inflating failed (the reader that
  // needs the chunk inflates it again and gets the error itself) or went
  // straight into one reader's buffer.
  std::shared_ptr<const Decompressed> data;
};

// A sequential reader being followed.
struct Stream {
  bool used = false;
  uint64_t end_bytes = 0;  // furthest end of a read in the stream
  size_t next_chunk = 0;   // chunks before this were considered for read-ahead
  uint32_t continued = 0;  // reads that continued it
  uint64_t last_use = 0;   // ReadAhead::tick when last continued; LRU reuse
};

// Shared by a device and its pool tasks, so that a task queued when the
// device closes finds `closed` instead of a freed device.
struct ReadAhead {
  std::mutex mu;
  std::condition_variable cv;  // an inflation is done, or running_tasks fell
  std::unordered_map<size_t, std::shared_ptr<Inflation>> inflight;  // by chunk; guarded by mu
  size_t pending = 0;                        // ahead inflations not yet done; guarded by mu
  size_t running_tasks = 0;                  // pool tasks using the device; guarded by mu
  bool closed = false;                       // the device is closing; guarded by mu
  std::array<Stream, kStreamSlots> streams;  // guarded by mu
  uint64_t tick = 0;                         // guarded by mu
};

Status MapTable(const UdifImage& image, uint32_t index, std::vector<MappedChunk>* out) {
  const BlkxEntry& e = image.entries[index];
  const BlkxTable& t = e.table;
  const std::string where = "dmg: blkx entry " + std::to_string(index) + " '" + e.name + "'";
  for (size_t i = 0; i < t.chunks.size(); ++i) {
    const Chunk& c = t.chunks[i];
    if (c.type == ChunkType::kComment || c.type == ChunkType::kTerminator || c.sector_count == 0) {
      continue;
    }
    MappedChunk m;
    m.type = c.type;
    m.table = index;
    m.first_sector = t.first_sector + c.sector_number;  // DecodeBlkx bounded both
    m.sector_count = c.sector_count;
    m.length = c.compressed_length;
    if (!IsZero(c.type)) {
      auto off = CheckedAdd(image.data_fork_offset, t.data_offset);
      off = off ? CheckedAdd(*off, c.compressed_offset) : off;
      if (!off || !RangeWithin(*off, c.compressed_length, image.file_size)) {
        return CorruptError(where + " chunk " + std::to_string(i) + " data at " +
                            Hex(c.compressed_offset) + " (" + std::to_string(c.compressed_length) +
                            " bytes) leaves the " +
                            (image.segments.empty() ? "file" : "segments' data forks") + " (size " +
                            Hex(image.file_size) + ")");
      }
      m.file_offset = *off;
    }
    if (c.type == ChunkType::kRaw && c.compressed_length < c.sector_count * kSectorBytes) {
      return CorruptError(where + " raw chunk " + std::to_string(i) + " stores " +
                          std::to_string(c.compressed_length) + " bytes for " +
                          std::to_string(c.sector_count) + " sectors");
    }
    if (IsCompressed(c.type) &&
        (c.sector_count > kMaxChunkSectors || c.compressed_length > kMaxCompressedBytes)) {
      return CorruptError(where + " chunk " + std::to_string(i) + " of " +
                          std::to_string(c.sector_count) + " sectors (" +
                          std::to_string(c.compressed_length) +
                          " bytes stored) exceeds the chunk cap of " +
                          std::to_string(kMaxChunkSectors) + " sectors");
    }
    out->push_back(m);
  }
  return Status::Ok();
}

std::string TableName(const UdifImage& image, uint32_t table) {
  return table == MappedChunk::kNoTable ? std::string("(gap)")
                                        : "'" + image.entries[table].name + "'";
}

class Device final : public BlockDevice {
 public:
  Device(std::shared_ptr<const UdifImage> image, std::vector<MappedChunk> chunks,
         uint64_t sector_count, Cache* cache, ThreadPool* pool)
      : image_(std::move(image)),
        chunks_(std::move(chunks)),
        size_(sector_count * kSectorBytes),
        cache_(cache),
        pool_(pool),
        cache_id_(cache->NewId()),
        ahead_limit_(AheadLimit(chunks_, cache, pool)) {}
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  // Waits for the pool tasks that are inflating; queued ones find `closed`.
  ~Device() override {
    {
      std::unique_lock lock(ahead_->mu);
      ahead_->closed = true;
      ahead_->cv.wait(lock, [&] { return ahead_->running_tasks == 0; });
    }
    cache_->EraseDevice(cache_id_);
  }

  uint64_t Size() const override { return size_; }
  Status Read(uint64_t offset, std::span<std::byte> dst) const override;
  Status Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const override;
  ImageInfo Describe() const override;
  Result<CheckReport> Check() const override { return CheckUdif(*image_, chunks_, *this); }

 private:
  // A part of a read that falls in one chunk.
  struct Piece {
    size_t chunk = 0;
    uint64_t in_chunk = 0;  // byte offset inside the chunk's output
    std::span<std::byte> dst;
    bool streaming = false;  // part of a read of at least kReadAheadMinBytes
  };

  static size_t AheadLimit(const std::vector<MappedChunk>& chunks, const Cache* cache,
                           const ThreadPool* pool);
  size_t FindChunk(uint64_t sector) const;
  Status ReadStored(const Piece& p) const;
  Status ReadCompressed(const Piece& p) const;
  Status InflateFor(const Piece& p, const std::shared_ptr<Inflation>& job) const;
  Result<std::shared_ptr<const Decompressed>> InflateToCache(size_t chunk, bool transient) const;
  void CopyOut(const Piece& p, const Decompressed& data) const;
  bool HelpOne(std::unique_lock<std::mutex>& lock, size_t wanted) const;
  void Finish(size_t chunk, const std::shared_ptr<Inflation>& job,
              std::shared_ptr<const Decompressed> data) const;
  void StartReadAhead(uint64_t offset, uint64_t length, bool submit) const;
  void RunAheadTask(size_t chunk, const std::shared_ptr<Inflation>& job) const;
  Status Decompress(const MappedChunk& c, std::span<std::byte> out) const;

  std::shared_ptr<const UdifImage> image_;
  const std::vector<MappedChunk> chunks_;  // sorted, contiguous from sector 0
  const uint64_t size_;
  Cache* const cache_;
  ThreadPool* const pool_;
  const uint64_t cache_id_;
  const size_t ahead_limit_;  // 0: no read-ahead
  const std::shared_ptr<ReadAhead> ahead_ = std::make_shared<ReadAhead>();
  mutable std::atomic<unsigned> large_reads_{0};  // reads >= kReadAheadMinBytes running
};

// How many read-ahead inflations may be pending: none without a pool; at
// most kAheadChunksPerThread per pool thread and the reader, and as many
// of the largest chunk as fit in 1/kAheadCacheFraction of the Cache.
size_t Device::AheadLimit(const std::vector<MappedChunk>& chunks, const Cache* cache,
                          const ThreadPool* pool) {
  if (pool == nullptr) {
    return 0;
  }
  uint64_t largest = 0;
  for (const MappedChunk& c : chunks) {
    if (IsCompressed(c.type)) {
      largest = std::max(largest, c.sector_count * kSectorBytes);
    }
  }
  if (largest == 0) {
    return 0;
  }
  const uint64_t by_cache = cache->capacity_bytes() / kAheadCacheFraction / largest;
  const uint64_t by_pool = kAheadChunksPerThread * (uint64_t{pool->size()} + 1);
  return static_cast<size_t>(std::min({by_cache, by_pool, uint64_t{kMaxAheadChunks}}));
}

// The chunk holding `sector`. REQUIRES: sector < size_ / 512.
size_t Device::FindChunk(uint64_t sector) const {
  auto it = std::upper_bound(chunks_.begin(), chunks_.end(), sector,
                             [](uint64_t s, const MappedChunk& c) { return s < c.first_sector; });
  return static_cast<size_t>(it - chunks_.begin()) - 1;
}

Status Device::Decompress(const MappedChunk& c, std::span<std::byte> out) const {
  // The compressed input goes to a buffer kept per thread: a stream would
  // otherwise allocate and fault in a fresh one for every chunk.
  thread_local std::unique_ptr<std::byte[]> reused;
  thread_local size_t reused_bytes = 0;
  const auto in_bytes = static_cast<size_t>(c.length);
  std::unique_ptr<std::byte[]> own;
  std::byte* in = nullptr;
  if (in_bytes <= kReusedInputBytes) {
    if (reused_bytes < in_bytes) {
      reused_bytes = std::min(kReusedInputBytes, std::max(in_bytes, 2 * reused_bytes));
      reused = std::make_unique_for_overwrite<std::byte[]>(reused_bytes);
    }
    in = reused.get();
  } else {
    own = std::make_unique_for_overwrite<std::byte[]>(in_bytes);
    in = own.get();
  }
  std::span<std::byte> in_span(in, in_bytes);
  IMGFS_RETURN_IF_ERROR(image_->file->ReadExactAt(c.file_offset, in_span, "dmg: chunk"));
  Status s = DecompressChunk(c.type, in_span, out);
  if (!s.ok()) {
    return s.Annotate("dmg: " + std::string(ChunkTypeName(c.type)) + " chunk at sector " +
                      std::to_string(c.first_sector) + " (data at " + Hex(c.file_offset) + ")");
  }
  return Status::Ok();
}

// Inflates a chunk into a new buffer and offers it to the Cache.
Result<std::shared_ptr<const Decompressed>> Device::InflateToCache(size_t chunk,
                                                                   bool transient) const {
  const MappedChunk& c = chunks_[chunk];
  const auto chunk_bytes = static_cast<size_t>(c.sector_count * kSectorBytes);
  auto fresh = std::make_shared<Decompressed>();
  fresh->bytes = std::make_unique_for_overwrite<std::byte[]>(chunk_bytes);
  fresh->transient = transient;
  IMGFS_RETURN_IF_ERROR(Decompress(c, std::span(fresh->bytes.get(), chunk_bytes)));
  std::shared_ptr<const Decompressed> done = std::move(fresh);
  cache_->Insert(CacheKey{cache_id_, CacheKind::kDecompressed, chunk}, done, chunk_bytes);
  return done;
}

// Marks `job` done with `data` (may be null) and wakes its waiters.
void Device::Finish(size_t chunk, const std::shared_ptr<Inflation>& job,
                    std::shared_ptr<const Decompressed> data) const {
  std::lock_guard lock(ahead_->mu);
  job->state = Inflation::State::kDone;
  job->data = std::move(data);
  if (job->ahead) {
    --ahead_->pending;
  }
  auto it = ahead_->inflight.find(chunk);
  if (it != ahead_->inflight.end() && it->second == job) {
    ahead_->inflight.erase(it);
  }
  ahead_->cv.notify_all();
}

// Inflates a chunk this reader registered (or took from the queue) in
// `job`: a whole-chunk read straight into the caller's buffer (a streaming
// reader does not come back, so nothing is cached), else through the Cache.
Status Device::InflateFor(const Piece& p, const std::shared_ptr<Inflation>& job) const {
  const MappedChunk& c = chunks_[p.chunk];
  if (p.in_chunk == 0 && p.dst.size() == c.sector_count * kSectorBytes) {
    Status s = Decompress(c, p.dst);
    Finish(p.chunk, job, nullptr);
    return s;
  }
  Result<std::shared_ptr<const Decompressed>> data = InflateToCache(p.chunk, p.streaming);
  Finish(p.chunk, job, data.ok() ? *data : nullptr);
  IMGFS_RETURN_IF_ERROR(data.status());
  CopyOut(p, **data);
  return Status::Ok();
}

// Copies the piece out of a decompressed chunk; stream data leaves the
// Cache once as many bytes as it holds have been copied out (in any order:
// FUSE workers answer a stream slightly out of order).
void Device::CopyOut(const Piece& p, const Decompressed& data) const {
  std::memcpy(p.dst.data(), data.bytes.get() + p.in_chunk, p.dst.size());
  if (data.transient) {
    const uint64_t chunk_bytes = chunks_[p.chunk].sector_count * kSectorBytes;
    const uint64_t before = data.consumed_bytes.fetch_add(p.dst.size());
    if (before < chunk_bytes && before + p.dst.size() >= chunk_bytes) {
      cache_->Erase(CacheKey{cache_id_, CacheKind::kDecompressed, p.chunk});
    }
  }
}

// While a reader waits for a chunk being inflated elsewhere, it inflates
// the earliest queued read-ahead chunk instead of sleeping, so that a
// stream keeps the reader's core busy too. Returns false when none is
// queued. REQUIRES: `lock` holds ahead_->mu; it is released meanwhile.
bool Device::HelpOne(std::unique_lock<std::mutex>& lock, size_t wanted) const {
  size_t chunk = 0;
  std::shared_ptr<Inflation> job;
  for (const auto& [index, candidate] : ahead_->inflight) {
    if (index != wanted && candidate->state == Inflation::State::kQueued &&
        (!job || index < chunk)) {
      chunk = index;
      job = candidate;
    }
  }
  if (!job) {
    return false;
  }
  job->state = Inflation::State::kRunning;
  lock.unlock();
  Result<std::shared_ptr<const Decompressed>> data = InflateToCache(chunk, true);
  Finish(chunk, job, data.ok() ? *data : nullptr);
  lock.lock();
  return true;
}

Status Device::ReadCompressed(const Piece& p) const {
  const CacheKey key{cache_id_, CacheKind::kDecompressed, p.chunk};
  for (;;) {
    std::shared_ptr<const Decompressed> hit = cache_->Get<Decompressed>(key);
    if (!hit) {
      std::shared_ptr<Inflation> mine;
      {
        std::unique_lock lock(ahead_->mu);
        auto it = ahead_->inflight.find(p.chunk);
        if (it == ahead_->inflight.end()) {
          mine = std::make_shared<Inflation>();
          mine->state = Inflation::State::kRunning;
          ahead_->inflight.emplace(p.chunk, mine);
        } else if (it->second->state == Inflation::State::kQueued) {
          mine = it->second;  // read-ahead not started yet: do it now
          mine->state = Inflation::State::kRunning;
        } else {
          const std::shared_ptr<Inflation> other = it->second;
          while (other->state != Inflation::State::kDone) {
            if (!HelpOne(lock, p.chunk)) {
              ahead_->cv.wait(lock);
            }
          }
          hit = other->data;
        }
      }
      if (mine) {
        return InflateFor(p, mine);
      }
      if (!hit) {
        continue;  // it failed or went to another reader's buffer: again
      }
    }
    CopyOut(p, *hit);
    return Status::Ok();
  }
}

// Follows streams (see kReadAheadMinBytes) and, when `submit`, queues the
// next chunks of the one this read continues on the pool.
void Device::StartReadAhead(uint64_t offset, uint64_t length, bool submit) const {
  std::vector<std::pair<size_t, std::shared_ptr<Inflation>>> queued;
  {
    std::lock_guard lock(ahead_->mu);
    ReadAhead& ra = *ahead_;
    ++ra.tick;
    Stream* stream = nullptr;
    Stream* victim = &ra.streams[0];
    for (Stream& s : ra.streams) {
      if (s.used && offset + kStreamSlackBytes >= s.end_bytes &&
          offset <= s.end_bytes + kStreamSlackBytes) {
        stream = &s;
        break;
      }
      if (victim->used && (!s.used || s.last_use < victim->last_use)) {
        victim = &s;
      }
    }
    if (stream == nullptr) {
      // Maybe a stream's first read.
      *victim = Stream{.used = true, .end_bytes = offset + length, .last_use = ra.tick};
      return;
    }
    stream->end_bytes = std::max(stream->end_bytes, offset + length);
    stream->last_use = ra.tick;
    stream->continued = std::min(stream->continued + 1, kStreamConfirmReads);
    if (stream->continued < kStreamConfirmReads || !submit) {
      return;
    }
    const uint64_t window_end = std::min(size_, stream->end_bytes + kReadAheadBytes);
    size_t next =
        std::max(stream->next_chunk, FindChunk((stream->end_bytes - 1) / kSectorBytes) + 1);
    for (; next < chunks_.size() && ra.pending < ahead_limit_; ++next) {
      const MappedChunk& c = chunks_[next];
      if (c.first_sector * kSectorBytes >= window_end) {
        break;
      }
      if (!IsCompressed(c.type) || ra.inflight.contains(next) ||
          cache_->Lookup(CacheKey{cache_id_, CacheKind::kDecompressed, next})) {
        continue;
      }
      auto job = std::make_shared<Inflation>();
      job->ahead = true;
      ra.inflight.emplace(next, job);
      ++ra.pending;
      queued.emplace_back(next, std::move(job));
    }
    stream->next_chunk = next;
  }
  for (auto& [chunk, job] : queued) {
    pool_->Submit([this, ahead = ahead_, chunk = chunk, job = std::move(job)] {
      {
        std::lock_guard lock(ahead->mu);
        if (ahead->closed || job->state != Inflation::State::kQueued) {
          return;  // the device is gone or closing, or a reader took the chunk
        }
        job->state = Inflation::State::kRunning;
        ++ahead->running_tasks;
      }
      RunAheadTask(chunk, job);
      std::lock_guard lock(ahead->mu);
      --ahead->running_tasks;
      ahead->cv.notify_all();
    });
  }
}

// A pool task's work. An error is dropped: a reader that needs the chunk
// inflates it again and gets the error itself.
void Device::RunAheadTask(size_t chunk, const std::shared_ptr<Inflation>& job) const {
  Result<std::shared_ptr<const Decompressed>> data = InflateToCache(chunk, true);
  Finish(chunk, job, data.ok() ? *data : nullptr);
}

// A piece of a zero-fill or raw chunk (compressed ones go to ReadCompressed).
Status Device::ReadStored(const Piece& p) const {
  const MappedChunk& c = chunks_[p.chunk];
  if (IsZero(c.type)) {
    std::memset(p.dst.data(), 0, p.dst.size());
    return Status::Ok();
  }
  return image_->file->ReadExactAt(c.file_offset + p.in_chunk, p.dst, "dmg: raw chunk");
}

Status Device::Read(uint64_t offset, std::span<std::byte> dst) const {
  IMGFS_RETURN_IF_ERROR(CheckRange(offset, dst.size(), size_));
  if (dst.empty()) {
    return Status::Ok();
  }
  std::optional<Counted> counted;
  if (ahead_limit_ != 0 && dst.size() >= kReadAheadMinBytes) {
    // Read-ahead uses idle cores only: when as many large reads as pool
    // threads are already running (FUSE answering the kernel's own
    // read-ahead on several workers), inflating ahead would only add
    // copies out of the Cache.
    counted.emplace(large_reads_);
    StartReadAhead(offset, dst.size(), large_reads_.load() <= pool_->size());
  }
  std::vector<Piece> compressed;
  size_t done = 0;
  size_t index = FindChunk(offset / kSectorBytes);
  while (done < dst.size()) {
    const MappedChunk& c = chunks_[index];
    const uint64_t pos = offset + done;
    const uint64_t in_chunk = pos - c.first_sector * kSectorBytes;
    const uint64_t n =
        std::min<uint64_t>(c.sector_count * kSectorBytes - in_chunk, dst.size() - done);
    Piece p{index, in_chunk, dst.subspan(done, static_cast<size_t>(n)),
            dst.size() >= kReadAheadMinBytes};
    if (IsCompressed(c.type)) {
      compressed.push_back(p);
    } else {
      IMGFS_RETURN_IF_ERROR(ReadStored(p));
    }
    done += static_cast<size_t>(n);
    ++index;
  }
  if (compressed.size() == 1 || pool_ == nullptr) {
    for (const Piece& p : compressed) {
      IMGFS_RETURN_IF_ERROR(ReadCompressed(p));
    }
    return Status::Ok();
  }
  std::vector<Status> results(compressed.size());
  ParallelFor(pool_, compressed.size(),
              [&](size_t i) { results[i] = ReadCompressed(compressed[i]); });
  for (const Status& s : results) {
    IMGFS_RETURN_IF_ERROR(s);
  }
  return Status::Ok();
}

Status Device::Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const {
  IMGFS_RETURN_IF_ERROR(CheckRange(offset, length, size_));
  if (length == 0) {
    return InvalidArgumentError("dmg: extent query of zero length");
  }
  const uint64_t end = offset + length;
  size_t index = FindChunk(offset / kSectorBytes);
  uint64_t pos = offset;
  const size_t first = out->size();
  for (size_t n = 0; pos < end && n < kMaxExtentChunks; ++n, ++index) {
    const MappedChunk& c = chunks_[index];
    const uint64_t chunk_end = (c.first_sector + c.sector_count) * kSectorBytes;
    const uint64_t stop = std::min(end, chunk_end);
    Extent e{pos, stop - pos, ExtentKind::kData, 0, std::nullopt, false};
    if (IsZero(c.type)) {
      e.kind = ExtentKind::kZero;
    } else if (c.type == ChunkType::kRaw) {
      // A segmented image's offsets are in no one host file: no host_offset.
      if (image_->segments.empty()) {
        e.host_offset = c.file_offset + (pos - c.first_sector * kSectorBytes);
      }
    } else {
      e.compressed = true;
    }
    out->push_back(e);
    pos = stop;
  }
  CoalesceExtents(out, first);
  return Status::Ok();
}

ImageInfo Device::Describe() const {
  ImageInfo info;
  info.format = "dmg";
  info.filename = image_->file->name();
  info.virtual_size = size_;
  auto allocated = image_->file->AllocatedBytes();
  info.actual_size = allocated.ok() ? *allocated : 0;
  info.format_specific = DescribeUdif(*image_);
  return info;
}

}  // namespace

Result<std::vector<MappedChunk>> ComposeChunks(const UdifImage& image) {
  std::vector<MappedChunk> mapped;
  for (size_t i = 0; i < image.entries.size(); ++i) {
    IMGFS_RETURN_IF_ERROR(MapTable(image, static_cast<uint32_t>(i), &mapped));
  }
  std::stable_sort(mapped.begin(), mapped.end(), [](const MappedChunk& a, const MappedChunk& b) {
    return a.first_sector < b.first_sector;
  });
  // Contiguous from sector 0: gaps become ignore chunks (read as zeros);
  // an overlap makes reads ambiguous and is refused.
  std::vector<MappedChunk> out;
  out.reserve(mapped.size());
  uint64_t next = 0;
  for (const MappedChunk& m : mapped) {
    if (m.first_sector < next) {
      const MappedChunk& prev = out.back();
      return CorruptError("dmg: chunk at sector " + std::to_string(m.first_sector) + " of blkx " +
                          TableName(image, m.table) + " overlaps the chunk at sector " +
                          std::to_string(prev.first_sector) + " of blkx " +
                          TableName(image, prev.table));
    }
    if (m.first_sector > next) {
      MappedChunk gap;
      gap.type = ChunkType::kIgnore;
      gap.first_sector = next;
      gap.sector_count = m.first_sector - next;
      out.push_back(gap);
    }
    out.push_back(m);
    next = m.first_sector + m.sector_count;
  }
  if (image.koly.sector_count > next) {
    MappedChunk gap;
    gap.type = ChunkType::kIgnore;
    gap.first_sector = next;
    gap.sector_count = image.koly.sector_count - next;
    out.push_back(gap);
  }
  return out;
}

Result<std::unique_ptr<BlockDevice>> NewUdifDevice(std::shared_ptr<const UdifImage> image,
                                                   Cache* cache, ThreadPool* pool) {
  IMGFS_ASSIGN_OR_RETURN(std::vector<MappedChunk> chunks, ComposeChunks(*image));
  const uint64_t sectors =
      chunks.empty() ? 0 : chunks.back().first_sector + chunks.back().sector_count;
  return std::unique_ptr<BlockDevice>(
      std::make_unique<Device>(std::move(image), std::move(chunks), sectors, cache, pool));
}

}  // namespace imgfs::dmg
