// SPDX-License-Identifier: MIT
// A fixed pool of worker threads, created once (in main) and shared by every
// device that wants to decompress or read ahead in parallel. Threads live as
// long as the pool, so parallel work never pays for thread creation.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "core/util/mutex.h"

namespace imgfs {

class ThreadPool {
 public:
  // Starts `threads` workers; 0 means std::thread::hardware_concurrency().
  explicit ThreadPool(unsigned threads);
  // Runs every task already submitted, then joins the workers.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const { return static_cast<unsigned>(workers_.size()); }

  // Queues `task` to run on a worker. Thread-safe. The task must not throw
  // and must keep alive whatever it touches (capture shared_ptrs).
  void Submit(std::function<void()> task);

  // Calls fn(i) for every i in [0, n) and returns when all calls have
  // returned. The calling thread takes indices too, so this never deadlocks
  // when called from a worker (or from a FUSE thread while the workers are
  // busy) and never waits for a queue to drain before making progress.
  // fn must not throw. Thread-safe.
  void ParallelFor(size_t n, const std::function<void(size_t)>& fn);

 private:
  void WorkerLoop();

  Mutex mu_;
  CondVar cv_;  // a task was queued, or stopping_
  std::deque<std::function<void()>> queue_ IMGFS_GUARDED_BY(mu_);
  bool stopping_ IMGFS_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

// Runs ParallelFor on `pool` when it is not null, else serially in order.
void ParallelFor(ThreadPool* pool, size_t n, const std::function<void(size_t)>& fn);

}  // namespace imgfs
