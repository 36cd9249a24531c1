// SPDX-License-Identifier: MIT
// The compressed-chunk engine (see chunk_engine.h): single-flight decoding
// through the Cache, stream following and read-ahead on the pool. The one
// lock, Shared::mu, guards the chunks being decoded and the stream slots;
// the Cache has its own locks (taken under Shared::mu, never the reverse),
// and the ChunkSource is called with no engine lock held.
#include "core/chunk/chunk_engine.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/util/mutex.h"

namespace imgfs {

ChunkInputBuffer::ChunkInputBuffer(size_t bytes) {
  thread_local std::unique_ptr<std::byte[]> reused;
  thread_local size_t reused_bytes = 0;
  if (bytes > kReusedBytes) {
    own_ = std::make_unique_for_overwrite<std::byte[]>(bytes);
    span_ = {own_.get(), bytes};
    return;
  }
  if (reused_bytes < bytes) {
    reused_bytes = std::min(kReusedBytes, std::max(bytes, 2 * reused_bytes));
    reused = std::make_unique_for_overwrite<std::byte[]>(reused_bytes);
  }
  span_ = {reused.get(), bytes};
}
namespace {

// A read of at least min_stream_read_bytes that starts within
// kStreamSlackBytes of where an earlier one ended (FUSE workers answer a
// stream slightly out of order) continues that stream. From its
// kStreamConfirmReads-th continuation on (large random reads rarely land
// next to each other twice) its next chunks are decoded ahead.
constexpr uint64_t kStreamSlackBytes = uint64_t{2} << 20;
constexpr uint32_t kStreamConfirmReads = 2;
// Streams followed at once per engine (a few readers of one mount).
constexpr size_t kStreamSlots = 4;
// Read-ahead chunks pending per pool thread (and the reader).
constexpr uint64_t kAheadChunksPerThread = 4;

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

// A sequential reader being followed.
struct Stream {
  bool used = false;
  uint64_t id = 0;          // tells a reused slot from the stream it held
  uint64_t end_bytes = 0;   // furthest end of a read in the stream
  uint64_t next_bytes = 0;  // chunks starting before this were considered
  uint32_t continued = 0;   // reads that continued it
  uint64_t last_use = 0;    // Shared::tick when last continued; LRU reuse
};

uint64_t SaturatingAdd(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

}  // namespace

// A decoded chunk as the Cache holds it; never value-initialised.
struct ChunkEngine::Decoded {
  std::unique_ptr<std::byte[]> bytes;
  uint64_t size_bytes = 0;
  // Stream data: leaves the Cache once reads have copied out as many bytes
  // as it holds. A stream does not come back, and keeping up to the whole
  // Cache of it would cost fresh pages per chunk and evict other devices'
  // tables.
  bool transient = false;
  mutable std::atomic<uint64_t> consumed_bytes{0};  // counted when transient
};

// One chunk being decoded, by a pool task or by a reader. Every field is
// guarded by Shared::mu.
struct ChunkEngine::Inflation {
  enum class State { kQueued, kRunning, kDone };
  State state = State::kQueued;
  bool ahead = false;  // submitted by read-ahead (counted in Shared::pending)
  ChunkInfo chunk;
  // Once kDone: the chunk, or null when decoding failed (the reader that
  // needs the chunk decodes it again and gets the error itself) or went
  // straight into one reader's buffer.
  std::shared_ptr<const Decoded> data;
};

struct ChunkEngine::Shared {
  Mutex mu;
  CondVar cv;  // an inflation is done, or running_tasks fell
  std::unordered_map<uint64_t, std::shared_ptr<Inflation>> inflight
      IMGFS_GUARDED_BY(mu);                       // by chunk
  size_t pending IMGFS_GUARDED_BY(mu) = 0;        // ahead inflations not yet done
  size_t running_tasks IMGFS_GUARDED_BY(mu) = 0;  // pool tasks using the engine
  size_t waiting IMGFS_GUARDED_BY(mu) = 0;        // readers waiting for another's
  bool closed IMGFS_GUARDED_BY(mu) = false;
  std::array<Stream, kStreamSlots> streams IMGFS_GUARDED_BY(mu);
  uint64_t tick IMGFS_GUARDED_BY(mu) = 0;
};

ChunkEngine::ChunkEngine(const ChunkSource* source, const Options& options)
    : source_(source),
      cache_(options.cache),
      pool_(options.pool),
      cache_id_(options.cache_id),
      cache_kind_(options.cache_kind),
      min_stream_read_bytes_(options.min_stream_read_bytes),
      read_ahead_bytes_(options.read_ahead_bytes),
      ahead_limit_(AheadLimit(options)),
      shared_(std::make_shared<Shared>()) {}

ChunkEngine::~ChunkEngine() { Close(); }

void ChunkEngine::Close() {
  MutexLock lock(&shared_->mu);
  shared_->closed = true;
  while (shared_->running_tasks != 0) {
    shared_->cv.Wait(&shared_->mu);
  }
}

// None without a pool; at most kAheadChunksPerThread per pool thread and
// the reader, and as many of the largest chunk as fit in the Cache share.
size_t ChunkEngine::AheadLimit(const Options& options) {
  if (options.pool == nullptr || options.max_chunk_bytes == 0) {
    return 0;
  }
  const uint64_t by_cache = options.cache->capacity_bytes() /
                            std::max<uint64_t>(options.cache_fraction, 1) / options.max_chunk_bytes;
  const uint64_t by_pool = kAheadChunksPerThread * (uint64_t{options.pool->size()} + 1);
  return static_cast<size_t>(std::min({by_cache, by_pool, uint64_t{options.max_pending}}));
}

void ChunkEngine::WaitIdle() const {
  MutexLock lock(&shared_->mu);
  while (shared_->pending != 0 || shared_->running_tasks != 0) {
    shared_->cv.Wait(&shared_->mu);
  }
}

size_t ChunkEngine::waiting_readers() const {
  MutexLock lock(&shared_->mu);
  return shared_->waiting;
}

// Decodes a chunk into a new buffer and offers it to the Cache.
Result<std::shared_ptr<const ChunkEngine::Decoded>> ChunkEngine::InflateToCache(
    const ChunkInfo& chunk, bool transient) const {
  const auto bytes = static_cast<size_t>(chunk.decoded_bytes);
  auto fresh = std::make_shared<Decoded>();
  fresh->bytes = std::make_unique_for_overwrite<std::byte[]>(bytes);
  fresh->size_bytes = chunk.decoded_bytes;
  fresh->transient = transient;
  IMGFS_RETURN_IF_ERROR(source_->Decode(chunk, std::span(fresh->bytes.get(), bytes)));
  std::shared_ptr<const Decoded> done = std::move(fresh);
  cache_->Insert(Key(chunk.index), done, bytes);
  return done;
}

// Marks `job` done with `data` (may be null) and wakes its waiters.
void ChunkEngine::Finish(const std::shared_ptr<Inflation>& job,
                         std::shared_ptr<const Decoded> data) const {
  MutexLock lock(&shared_->mu);
  job->state = Inflation::State::kDone;
  job->data = std::move(data);
  if (job->ahead) {
    --shared_->pending;
  }
  auto it = shared_->inflight.find(job->chunk.index);
  if (it != shared_->inflight.end() && it->second == job) {
    shared_->inflight.erase(it);
  }
  shared_->cv.SignalAll();
}

// Decodes a chunk this reader registered (or took from the queue) in
// `job`: a whole-chunk read straight into the caller's buffer (nothing is
// cached: a whole-chunk reader rarely comes back), else through the Cache.
Status ChunkEngine::InflateFor(const ChunkPiece& p, bool streaming,
                               const std::shared_ptr<Inflation>& job) const {
  if (p.in_chunk == 0 && p.dst.size() == p.chunk.decoded_bytes) {
    Status s = source_->Decode(p.chunk, p.dst);
    Finish(job, nullptr);
    return s;
  }
  Result<std::shared_ptr<const Decoded>> data = InflateToCache(p.chunk, streaming);
  Finish(job, data.ok() ? *data : nullptr);
  IMGFS_RETURN_IF_ERROR(data.status());
  CopyOut(p, **data);
  return Status::Ok();
}

// Copies the piece out of a decoded chunk; stream data leaves the Cache
// once as many bytes as it holds have been copied out (in any order).
void ChunkEngine::CopyOut(const ChunkPiece& p, const Decoded& data) const {
  std::memcpy(p.dst.data(), data.bytes.get() + p.in_chunk, p.dst.size());
  if (data.transient) {
    const uint64_t before = data.consumed_bytes.fetch_add(p.dst.size());
    if (before < data.size_bytes && before + p.dst.size() >= data.size_bytes) {
      cache_->Erase(Key(p.chunk.index));
    }
  }
}

// While a reader waits for a chunk being decoded elsewhere, it decodes the
// earliest queued read-ahead chunk instead of sleeping, so that a stream
// keeps the reader's core busy too. Returns false when none is queued.
// REQUIRES: shared_->mu is held; it is released meanwhile. (Not checked by
// -Wthread-safety: Shared is incomplete where HelpOne is declared, so the
// header cannot name its mutex.)
bool ChunkEngine::HelpOne(uint64_t wanted) const IMGFS_NO_THREAD_SAFETY_ANALYSIS {
  std::shared_ptr<Inflation> job;
  for (const auto& [index, candidate] : shared_->inflight) {
    if (index != wanted && candidate->state == Inflation::State::kQueued &&
        (!job || index < job->chunk.index)) {
      job = candidate;
    }
  }
  if (!job) {
    return false;
  }
  job->state = Inflation::State::kRunning;
  const ChunkInfo chunk = job->chunk;
  shared_->mu.Unlock();
  Result<std::shared_ptr<const Decoded>> data = InflateToCache(chunk, true);
  Finish(job, data.ok() ? *data : nullptr);
  shared_->mu.Lock();
  return true;
}

Status ChunkEngine::ReadPiece(const ChunkPiece& p, bool streaming) const {
  if (p.in_chunk > p.chunk.decoded_bytes || p.dst.size() > p.chunk.decoded_bytes - p.in_chunk) {
    return InternalError("chunk engine: piece leaves chunk " + std::to_string(p.chunk.index));
  }
  for (;;) {
    std::shared_ptr<const Decoded> hit = cache_->Get<Decoded>(Key(p.chunk.index));
    if (!hit) {
      std::shared_ptr<Inflation> mine;
      {
        MutexLock lock(&shared_->mu);
        auto it = shared_->inflight.find(p.chunk.index);
        if (it == shared_->inflight.end()) {
          mine = std::make_shared<Inflation>();
          mine->chunk = p.chunk;
          shared_->inflight.emplace(p.chunk.index, mine);
        } else if (it->second->state == Inflation::State::kQueued) {
          mine = it->second;  // read-ahead not started yet: do it now
        } else {
          const std::shared_ptr<Inflation> other = it->second;
          ++shared_->waiting;
          while (other->state != Inflation::State::kDone) {
            if (!HelpOne(p.chunk.index)) {
              shared_->cv.Wait(&shared_->mu);
            }
          }
          --shared_->waiting;
          hit = other->data;
        }
        if (mine) {
          mine->state = Inflation::State::kRunning;
        }
      }
      if (mine) {
        return InflateFor(p, streaming, mine);
      }
      if (!hit) {
        continue;  // it failed or went to another reader's buffer: again
      }
    }
    CopyOut(p, *hit);
    return Status::Ok();
  }
}

// Follows streams (see kStreamSlackBytes) and, when `submit`, queues the
// next chunks of the one this read continues on the pool.
void ChunkEngine::FollowStream(uint64_t offset, uint64_t length, bool submit) const {
  const uint64_t end = SaturatingAdd(offset, length);
  uint64_t from = 0;
  uint64_t to = 0;
  uint64_t id = 0;
  {
    Shared& s = *shared_;
    MutexLock lock(&s.mu);
    ++s.tick;
    Stream* stream = nullptr;
    Stream* victim = &s.streams[0];
    for (Stream& candidate : s.streams) {
      if (candidate.used && SaturatingAdd(offset, kStreamSlackBytes) >= candidate.end_bytes &&
          offset <= SaturatingAdd(candidate.end_bytes, kStreamSlackBytes)) {
        stream = &candidate;
        break;
      }
      if (victim->used && (!candidate.used || candidate.last_use < victim->last_use)) {
        victim = &candidate;
      }
    }
    if (stream == nullptr) {
      // Maybe a stream's first read.
      *victim = Stream{.used = true, .id = s.tick, .end_bytes = end, .last_use = s.tick};
      return;
    }
    stream->end_bytes = std::max(stream->end_bytes, end);
    stream->last_use = s.tick;
    stream->continued = std::min(stream->continued + 1, kStreamConfirmReads);
    if (stream->continued < kStreamConfirmReads || !submit || s.closed ||
        s.pending >= ahead_limit_) {
      return;
    }
    from = std::max(stream->next_bytes, stream->end_bytes);
    to = SaturatingAdd(stream->end_bytes, read_ahead_bytes_);
    id = stream->id;
  }
  QueueAhead(from, to, id);
}

// Queues the compressed chunks starting in [from, to) that are neither
// cached nor being decoded, while the pending bound allows, and records
// where the stream `stream_id` stopped.
void ChunkEngine::QueueAhead(uint64_t from, uint64_t to, uint64_t stream_id) const {
  std::vector<std::shared_ptr<Inflation>> queued;
  uint64_t stopped = to;
  source_->ForEachChunkIn(from, to, [&](const ChunkInfo& c) {
    MutexLock lock(&shared_->mu);
    if (shared_->closed || shared_->pending >= ahead_limit_) {
      stopped = c.first_byte;
      return false;
    }
    if (shared_->inflight.contains(c.index) || cache_->Lookup(Key(c.index))) {
      return true;
    }
    auto job = std::make_shared<Inflation>();
    job->ahead = true;
    job->chunk = c;
    shared_->inflight.emplace(c.index, job);
    ++shared_->pending;
    queued.push_back(std::move(job));
    return true;
  });
  {
    MutexLock lock(&shared_->mu);
    for (Stream& s : shared_->streams) {
      if (s.used && s.id == stream_id) {
        s.next_bytes = std::max(s.next_bytes, stopped);
      }
    }
  }
  for (std::shared_ptr<Inflation>& job : queued) {
    pool_->Submit([this, shared = shared_, job = std::move(job)] {
      {
        MutexLock lock(&shared->mu);
        if (shared->closed || job->state != Inflation::State::kQueued) {
          return;  // the engine is gone or closing, or a reader took the chunk
        }
        job->state = Inflation::State::kRunning;
        ++shared->running_tasks;
      }
      RunAheadTask(job);
      MutexLock lock(&shared->mu);
      --shared->running_tasks;
      shared->cv.SignalAll();
    });
  }
}

// A pool task's work. An error is dropped: a reader that needs the chunk
// decodes it again and gets the error itself.
void ChunkEngine::RunAheadTask(const std::shared_ptr<Inflation>& job) const {
  Result<std::shared_ptr<const Decoded>> data = InflateToCache(job->chunk, true);
  Finish(job, data.ok() ? *data : nullptr);
}

Status ChunkEngine::Read(uint64_t offset, uint64_t length,
                         std::span<const ChunkPiece> pieces) const {
  const bool streaming = length >= min_stream_read_bytes_;
  std::optional<Counted> counted;
  if (ahead_limit_ != 0 && streaming) {
    // Read-ahead uses idle cores only: when as many large reads as pool
    // threads are already running (FUSE answering the kernel's own
    // read-ahead on several workers), decoding ahead would only add
    // copies out of the Cache.
    counted.emplace(large_reads_);
    FollowStream(offset, length, large_reads_.load() <= pool_->size());
  }
  if (pieces.size() <= 1 || pool_ == nullptr) {
    for (const ChunkPiece& p : pieces) {
      IMGFS_RETURN_IF_ERROR(ReadPiece(p, streaming));
    }
    return Status::Ok();
  }
  std::vector<Status> results(pieces.size());
  ParallelFor(pool_, pieces.size(),
              [&](size_t i) { results[i] = ReadPiece(pieces[i], streaming); });
  for (const Status& s : results) {
    IMGFS_RETURN_IF_ERROR(s);
  }
  return Status::Ok();
}

}  // namespace imgfs
