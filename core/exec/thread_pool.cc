// SPDX-License-Identifier: MIT
#include "core/exec/thread_pool.h"

#include <atomic>
#include <memory>

namespace imgfs {

ThreadPool::ThreadPool(unsigned threads) {
  if (threads == 0) {
    threads = std::max(1U, std::thread::hardware_concurrency());
  }
  workers_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

ThreadPool::~ThreadPool() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  for (std::thread& t : workers_) {
    t.join();
  }
}

void ThreadPool::Submit(std::function<void()> task) {
  {
    MutexLock lock(&mu_);
    queue_.push_back(std::move(task));
  }
  cv_.Signal();
}

void ThreadPool::WorkerLoop() {
  for (;;) {
    std::function<void()> task;
    {
      MutexLock lock(&mu_);
      while (!stopping_ && queue_.empty()) {
        cv_.Wait(&mu_);
      }
      if (queue_.empty()) {
        return;  // stopping and drained
      }
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

namespace {

// Shared by the caller and the helper tasks of one ParallelFor. Helpers may
// start after every index is taken (or after the caller returned), so the
// state is reference-counted and never touched through the caller's stack.
struct ForState {
  explicit ForState(size_t count, const std::function<void(size_t)>& f) : n(count), fn(f) {}
  const size_t n;
  const std::function<void(size_t)> fn;  // a copy: the caller's may be gone
  std::atomic<size_t> next{0};
  Mutex mu;
  CondVar done_cv;
  size_t done IMGFS_GUARDED_BY(mu) = 0;

  void Drain() {
    size_t mine = 0;
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
      fn(i);
      ++mine;
    }
    if (mine != 0) {
      MutexLock lock(&mu);
      done += mine;
      if (done == n) {
        done_cv.SignalAll();
      }
    }
  }
};

}  // namespace

void ThreadPool::ParallelFor(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) {
    return;
  }
  if (n == 1 || workers_.empty()) {
    for (size_t i = 0; i < n; ++i) {
      fn(i);
    }
    return;
  }
  auto state = std::make_shared<ForState>(n, fn);
  size_t helpers = std::min(n - 1, workers_.size());
  for (size_t h = 0; h < helpers; ++h) {
    Submit([state] { state->Drain(); });
  }
  state->Drain();
  MutexLock lock(&state->mu);
  while (state->done != state->n) {
    state->done_cv.Wait(&state->mu);
  }
}

void ParallelFor(ThreadPool* pool, size_t n, const std::function<void(size_t)>& fn) {
  if (pool != nullptr) {
    pool->ParallelFor(n, fn);
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    fn(i);
  }
}

}  // namespace imgfs
