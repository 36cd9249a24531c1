// SPDX-License-Identifier: MIT
// ChunkEngine: reads of compressed chunks for any format whose data is cut
// into independently compressed chunks (dmg chunks, cloop blocks, vmdk
// streamOptimized grains, qcow/qcow2 compressed clusters). The format keeps
// its map (which guest bytes lie in which chunk) and its codec; the engine
// knows nothing of either. It asks a ChunkSource to decode a chunk and, for
// read-ahead, which compressed chunks start in a range of device bytes, so
// a chunk space may be sparse and huge (chunk = cluster number): nothing is
// kept per chunk but what is cached or being decoded.
//
// Decoded chunks live in the shared Cache (key {cache_id, cache_kind,
// chunk}). A chunk is never decoded twice at once: a reader that needs a
// chunk being decoded waits for it, or meanwhile decodes a queued
// read-ahead chunk. A read that covers a whole chunk decodes straight into
// the caller's buffer. With a pool, sequential streams of large reads
// (FUSE's <= 1 MiB requests) are followed and their next chunks decoded
// ahead on the pool into the Cache, bounded by Options::max_pending per
// engine and 1/Options::cache_fraction of the Cache; reads smaller than
// Options::min_stream_read_bytes never start it. Data decoded for a stream
// is transient: it leaves the Cache once reads have copied out as many
// bytes as it holds. A chunk the Cache cannot keep (too big, or a Cache of
// capacity 0) is still shared with the readers waiting for it. A
// read-ahead error is dropped; the reader of that chunk decodes it again
// and gets the error itself.
//
// Plugging a format in: a chunk is the format's unit of compression, its
// index the unit's number (dmg: index in the composed map; cloop: block;
// vmdk streamOptimized: grain; qcow/qcow2: guest cluster, offset >>
// cluster_bits), its locator where it is stored. The owner's Read() maps
// the request, serves stored, zero and backing parts itself and hands the
// compressed pieces to ChunkEngine::Read.
//
// Thread-safety: every const method may be called from many threads at
// once. The one lock (Shared::mu) guards the chunks being decoded and the
// streams; the ChunkSource is called without it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "core/result.h"

namespace imgfs {

// One chunk as the owner maps it.
struct ChunkInfo {
  uint64_t index = 0;          // the owner's chunk number; the Cache index
  uint64_t first_byte = 0;     // where its decoded data starts on the device
  uint64_t decoded_bytes = 0;  // its decoded size
  // The owner's own word, handed back to Decode: where the chunk is stored
  // (say a qcow2 compressed-cluster descriptor), so that Decode need not
  // look the chunk up again. Every ChunkInfo of one index must agree.
  uint64_t locator = 0;
};

// The part of one device read that falls in one chunk.
struct ChunkPiece {
  ChunkInfo chunk;
  uint64_t in_chunk = 0;  // byte offset inside the decoded chunk
  std::span<std::byte> dst;
};

// What the engine needs of its owner. Both methods are called from readers'
// threads and from the pool, for different chunks at once, without the
// engine's lock held; they must not call back into the engine.
class ChunkSource {
 public:
  virtual ~ChunkSource() = default;

  // Decodes `chunk` into exactly out.size() bytes (its decoded_bytes):
  // reads its stored bytes and runs the codec. Errors are returned to the
  // reader that needs the chunk (annotated by the owner).
  virtual Status Decode(const ChunkInfo& chunk, std::span<std::byte> out) const = 0;

  // For read-ahead: calls visit for each compressed chunk whose first byte
  // lies in [from_bytes, to_bytes), in device order, until visit returns
  // false. A hint: an owner may skip chunks it cannot map cheaply or
  // without error (say, a table not in the Cache).
  virtual void ForEachChunkIn(uint64_t from_bytes, uint64_t to_bytes,
                              const std::function<bool(const ChunkInfo&)>& visit) const = 0;
};

// Room for one chunk's stored (compressed) bytes, for ChunkSource::Decode.
// Up to kReusedBytes it is a buffer kept per thread and reused, since a fresh
// one per chunk would be allocated and faulted in every time; a larger one
// is owned by this object. The bytes are not initialised. Decode must not
// nest on one thread while it holds one (it never calls back into the
// engine, so it does not).
class ChunkInputBuffer {
 public:
  static constexpr size_t kReusedBytes = size_t{4} << 20;
  explicit ChunkInputBuffer(size_t bytes);
  ChunkInputBuffer(const ChunkInputBuffer&) = delete;
  ChunkInputBuffer& operator=(const ChunkInputBuffer&) = delete;
  std::span<std::byte> bytes() const { return span_; }

 private:
  std::unique_ptr<std::byte[]> own_;
  std::span<std::byte> span_;
};

class ChunkEngine {
 public:
  struct Options {
    Cache* cache = nullptr;      // required; outlives the engine
    ThreadPool* pool = nullptr;  // may be null: no read-ahead, serial pieces
    uint64_t cache_id = 0;       // the owner's Cache::NewId()
    CacheKind cache_kind = CacheKind::kDecoded;
    // The largest decoded chunk read-ahead may meet; 0 turns it off.
    uint64_t max_chunk_bytes = 0;
    // Read-ahead chunks queued or running at once (readers that would
    // wait take queued ones themselves, so this may exceed the pool);
    // besides at most 4 per pool thread and the reader.
    size_t max_pending = 8;
    // Read-ahead output waits in the Cache for its reader: at most
    // 1/cache_fraction of the Cache, so it is rarely evicted unread.
    // REQUIRES: >= 1.
    uint64_t cache_fraction = 4;
    // Smaller reads (random 4 KiB) neither follow streams nor start work.
    uint64_t min_stream_read_bytes = uint64_t{64} << 10;
    // How far past a stream's end its chunks are decoded ahead.
    uint64_t read_ahead_bytes = uint64_t{8} << 20;
  };

  // REQUIRES: source, options.cache and options.pool (if any) outlive the
  // engine.
  ChunkEngine(const ChunkSource* source, const Options& options);
  ChunkEngine(const ChunkEngine&) = delete;
  ChunkEngine& operator=(const ChunkEngine&) = delete;
  // Close()s.
  ~ChunkEngine();

  // Stops read-ahead and waits for the pool tasks that are decoding (one
  // chunk each); queued ones then do nothing. Reads still work afterwards,
  // without read-ahead. The engine's Cache entries stay: the owner erases
  // them (Cache::EraseDevice) after this. Idempotent.
  void Close();

  // One device read of [offset, offset + length) whose compressed parts
  // are `pieces` (the owner serves the others): follows the stream it may
  // continue and starts read-ahead, then reads the pieces, in parallel on
  // the pool when there are several. Returns the first piece's error.
  // REQUIRES: each piece lies inside its chunk.
  Status Read(uint64_t offset, uint64_t length, std::span<const ChunkPiece> pieces) const;

  // Reads one piece, single-flight and through the Cache. `streaming`: it
  // is part of a large sequential read, so what is decoded for it leaves
  // the Cache once read.
  Status ReadPiece(const ChunkPiece& piece, bool streaming = false) const;

  // Waits until no read-ahead chunk is queued or being decoded (for tests;
  // REQUIRES: the pool is running tasks and the engine is not closed).
  void WaitIdle() const;

  // Readers now waiting for a chunk another thread decodes (for tests).
  size_t waiting_readers() const;

  // Read-ahead chunks allowed pending at once; 0 when read-ahead is off.
  size_t read_ahead_limit() const { return ahead_limit_; }

 private:
  struct Decoded;
  struct Inflation;
  struct Shared;

  static size_t AheadLimit(const Options& options);
  CacheKey Key(uint64_t chunk) const { return CacheKey{cache_id_, cache_kind_, chunk}; }
  Status InflateFor(const ChunkPiece& p, bool streaming,
                    const std::shared_ptr<Inflation>& job) const;
  Result<std::shared_ptr<const Decoded>> InflateToCache(const ChunkInfo& chunk,
                                                        bool transient) const;
  void CopyOut(const ChunkPiece& p, const Decoded& data) const;
  bool HelpOne(uint64_t wanted) const;
  void Finish(const std::shared_ptr<Inflation>& job, std::shared_ptr<const Decoded> data) const;
  void FollowStream(uint64_t offset, uint64_t length, bool submit) const;
  void QueueAhead(uint64_t from, uint64_t to, uint64_t stream_id) const;
  void RunAheadTask(const std::shared_ptr<Inflation>& job) const;

  const ChunkSource* const source_;
  Cache* const cache_;
  ThreadPool* const pool_;
  const uint64_t cache_id_;
  const CacheKind cache_kind_;
  const uint64_t min_stream_read_bytes_;
  const uint64_t read_ahead_bytes_;
  const size_t ahead_limit_;  // 0: no read-ahead
  // Shared with the pool tasks, so that a task queued when the engine
  // closes finds `closed` instead of a freed engine.
  const std::shared_ptr<Shared> shared_;
  mutable std::atomic<unsigned> large_reads_{0};  // reads >= min_stream_read_bytes running
};

}  // namespace imgfs
