// SPDX-License-Identifier: MIT
#include "core/io/readahead_file.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <thread>
#include <vector>

#include "core/util/mutex.h"

namespace imgfs {
namespace {

// O_DIRECT wants the buffer aligned to the device's logical block size.
constexpr size_t kAlign = 4096;

enum class BlockState { kEmpty, kQueued, kReading, kReady, kFailed };

struct Block {
  uint64_t index = std::numeric_limits<uint64_t>::max();  // offset / block_bytes
  BlockState state = BlockState::kEmpty;
  size_t valid = 0;       // bytes read; short only at end of file
  int pins = 0;           // readers copying out of `data` without the lock
  bool consumed = false;  // a reader reached the block's end: reuse it first
  uint64_t last_use = 0;
  std::byte* data = nullptr;
};

struct FreeDeleter {
  void operator()(std::byte* p) const noexcept { std::free(p); }
};

class ReadAheadFile final : public File {
 public:
  ReadAheadFile(std::unique_ptr<File> base, int direct_fd, ReadAheadLimits limits)
      : base_(std::move(base)), fd_(direct_fd), limits_(limits) {}
  ReadAheadFile(const ReadAheadFile&) = delete;
  ReadAheadFile& operator=(const ReadAheadFile&) = delete;
  ~ReadAheadFile() override {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    work_.SignalAll();
    for (std::thread& t : threads_) {
      t.join();
    }
    ::close(fd_);
  }

  Result<size_t> ReadAt(uint64_t offset, std::span<std::byte> dst) const override;
  void Prefetch(uint64_t offset, uint64_t length) const override;

  Status WriteAt(uint64_t offset, std::span<const std::byte> src) override {
    return base_->WriteAt(offset, src);
  }
  Result<uint64_t> Size() const override { return base_->Size(); }
  Status Flush() override { return base_->Flush(); }
  Status Truncate(uint64_t size_bytes) override { return base_->Truncate(size_bytes); }
  Result<uint64_t> NextData(uint64_t offset) const override { return base_->NextData(offset); }
  Result<uint64_t> NextHole(uint64_t offset) const override { return base_->NextHole(offset); }
  Result<uint64_t> AllocatedBytes() const override { return base_->AllocatedBytes(); }
  const std::string& name() const override { return base_->name(); }

 private:
  bool StartLocked() const IMGFS_REQUIRES(mu_);
  Block* FindLocked(uint64_t index) const IMGFS_REQUIRES(mu_);
  Block* VictimLocked(uint64_t first, uint64_t last) const IMGFS_REQUIRES(mu_);
  // True when the threads serving the blocks are gone: after fork() (the
  // mount daemonizes) only the forking thread survives in the child.
  bool OrphanedLocked() const IMGFS_REQUIRES(mu_) { return owner_ != ::getpid(); }
  void Worker() const IMGFS_EXCLUDES(mu_);

  std::unique_ptr<File> base_;
  int fd_;
  ReadAheadLimits limits_;

  // A Block's fields are guarded by mu_ too, except `data`'s bytes, which a
  // worker fills while the block is kReading and readers copy out of while
  // they hold a pin.
  mutable Mutex mu_;
  mutable CondVar work_;  // a block was queued, or stop_
  mutable CondVar done_;  // a block finished reading
  mutable std::unique_ptr<std::byte, FreeDeleter> memory_ IMGFS_GUARDED_BY(mu_);
  mutable std::vector<Block> blocks_ IMGFS_GUARDED_BY(mu_);
  mutable std::deque<Block*> queue_ IMGFS_GUARDED_BY(mu_);
  // Started under mu_; joined by the destructor, when no reader is left.
  mutable std::vector<std::thread> threads_;
  mutable pid_t owner_ IMGFS_GUARDED_BY(mu_) = 0;
  mutable uint64_t tick_ IMGFS_GUARDED_BY(mu_) = 0;
  mutable bool stop_ IMGFS_GUARDED_BY(mu_) = false;
  mutable bool disabled_ IMGFS_GUARDED_BY(mu_) = false;
  // Set once blocks exist; until then ReadAt goes straight to base_.
  mutable std::atomic<bool> active_{false};
};

bool ReadAheadFile::StartLocked() const {
  if (disabled_) {
    return false;
  }
  if (!blocks_.empty()) {
    if (!OrphanedLocked()) {
      return true;
    }
    disabled_ = true;
    return false;
  }
  const size_t bytes = limits_.block_bytes * limits_.max_blocks;
  memory_.reset(static_cast<std::byte*>(std::aligned_alloc(kAlign, bytes)));
  if (memory_ == nullptr || limits_.threads == 0) {
    disabled_ = true;
    return false;
  }
  blocks_.resize(limits_.max_blocks);
  for (size_t i = 0; i < blocks_.size(); ++i) {
    blocks_[i].data = memory_.get() + i * limits_.block_bytes;
  }
  owner_ = ::getpid();
  try {
    for (size_t i = 0; i < limits_.threads; ++i) {
      threads_.emplace_back([this] { Worker(); });
    }
  } catch (const std::system_error&) {
    if (threads_.empty()) {
      disabled_ = true;
      return false;
    }
  }
  active_.store(true, std::memory_order_release);
  return true;
}

Block* ReadAheadFile::FindLocked(uint64_t index) const {
  for (Block& b : blocks_) {
    if (b.index == index && b.state != BlockState::kEmpty) {
      return &b;
    }
  }
  return nullptr;
}

// The block to reuse for a new read: an empty or failed one, else the least
// recently used block a reader has finished with, else the least recently
// used idle one outside [first, last] (a stream that was abandoned).
Block* ReadAheadFile::VictimLocked(uint64_t first, uint64_t last) const {
  Block* best = nullptr;
  auto rank = [](const Block& b) {
    if (b.state == BlockState::kEmpty || b.state == BlockState::kFailed) {
      return 0;
    }
    return b.consumed ? 1 : 2;
  };
  for (Block& b : blocks_) {
    const bool idle = b.state == BlockState::kEmpty || b.state == BlockState::kFailed ||
                      b.state == BlockState::kReady;
    if (!idle || b.pins != 0 ||
        (b.state == BlockState::kReady && b.index >= first && b.index <= last)) {
      continue;
    }
    if (best == nullptr || rank(b) < rank(*best) ||
        (rank(b) == rank(*best) && b.last_use < best->last_use)) {
      best = &b;
    }
  }
  return best;
}

void ReadAheadFile::Prefetch(uint64_t offset, uint64_t length) const {
  if (length == 0) {
    return;
  }
  if (length < limits_.block_bytes) {
    // Not a stream (read-around of one cluster): the page cache reads it.
    base_->Prefetch(offset, length);
    return;
  }
  MutexLock lock(&mu_);
  if (!StartLocked()) {
    lock.Unlock();
    base_->Prefetch(offset, length);
    return;
  }
  const uint64_t bs = limits_.block_bytes;
  const uint64_t first = offset / bs;
  // Never ask for more than the blocks there are: the oldest requested
  // blocks would be evicted by the newest before anyone read them.
  const uint64_t last = std::min((offset + length - 1) / bs, first + blocks_.size() - 1);
  bool queued = false;
  for (uint64_t index = first; index <= last; ++index) {
    if (FindLocked(index) != nullptr) {
      continue;
    }
    Block* b = VictimLocked(first, last);
    if (b == nullptr) {
      break;  // every block is busy: the reader is behind, no need to go further
    }
    b->index = index;
    b->state = BlockState::kQueued;
    b->valid = 0;
    b->consumed = false;
    b->last_use = ++tick_;
    queue_.push_back(b);
    queued = true;
  }
  if (queued) {
    work_.SignalAll();
  }
}

Result<size_t> ReadAheadFile::ReadAt(uint64_t offset, std::span<std::byte> dst) const {
  if (!active_.load(std::memory_order_acquire)) {
    return base_->ReadAt(offset, dst);
  }
  const uint64_t bs = limits_.block_bytes;
  size_t done = 0;
  while (done < dst.size()) {
    const uint64_t pos = offset + done;
    const uint64_t index = pos / bs;
    const auto in = static_cast<size_t>(pos % bs);
    const size_t want = std::min<size_t>(dst.size() - done, bs - in);
    MutexLock lock(&mu_);
    Block* b = FindLocked(index);
    while (b != nullptr && (b->state == BlockState::kQueued || b->state == BlockState::kReading) &&
           !OrphanedLocked()) {
      done_.Wait(&mu_);
      b = FindLocked(index);
    }
    if (b != nullptr && b->state == BlockState::kReady && in < b->valid) {
      const size_t n = std::min(want, b->valid - in);
      ++b->pins;
      b->last_use = ++tick_;
      lock.Unlock();
      std::memcpy(dst.data() + done, b->data + in, n);
      lock.Lock();
      --b->pins;
      if (in + n == b->valid) {
        b->consumed = true;
      }
      done += n;
      continue;
    }
    lock.Unlock();
    // Not read ahead (or past the end of the file): the base file decides.
    IMGFS_ASSIGN_OR_RETURN(size_t n, base_->ReadAt(pos, dst.subspan(done, want)));
    done += n;
    if (n < want) {
      break;  // end of file
    }
  }
  return done;
}

void ReadAheadFile::Worker() const {
  MutexLock lock(&mu_);
  while (true) {
    while (!stop_ && queue_.empty()) {
      work_.Wait(&mu_);
    }
    if (stop_) {
      return;
    }
    Block* b = queue_.front();
    queue_.pop_front();
    b->state = BlockState::kReading;
    const uint64_t offset = b->index * limits_.block_bytes;
    lock.Unlock();
    // One read: O_DIRECT cannot continue at the unaligned offset a short
    // read leaves, and short reads happen only at the end of the file.
    ssize_t n;
    do {
      n = ::pread(fd_, b->data, limits_.block_bytes, static_cast<off_t>(offset));
    } while (n < 0 && errno == EINTR);
    const int e = errno;
    lock.Lock();
    if (n < 0) {
      b->state = BlockState::kFailed;
      if (e == EINVAL) {
        disabled_ = true;  // the file system refuses O_DIRECT here
      }
    } else {
      b->state = BlockState::kReady;
      b->valid = static_cast<size_t>(n);
    }
    done_.SignalAll();
  }
}

}  // namespace

std::unique_ptr<File> NewReadAheadFile(std::unique_ptr<File> base, int direct_fd,
                                       ReadAheadLimits limits) {
  return std::make_unique<ReadAheadFile>(std::move(base), direct_fd, limits);
}

}  // namespace imgfs
