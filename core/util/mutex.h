// SPDX-License-Identifier: MIT
// Mutexes the Clang thread-safety analysis understands: imgfs::Mutex and
// SharedMutex wrap the standard ones and carry capability attributes
// (core/util/thread_annotations.h), MutexLock / ReaderMutexLock /
// WriterMutexLock are their RAII holders, and CondVar waits on a Mutex.
//
// Why CondVar and not std::condition_variable: a wait needs a
// std::unique_lock<std::mutex>, which the analysis does not see as holding
// the Mutex. CondVar::Wait(&mu) is annotated IMGFS_REQUIRES(mu), adopts the
// native mutex for the length of the wait and gives it back, so the caller
// holds `mu` before and after as far as both the analysis and the runtime
// are concerned. Waits take no predicate lambda: the analysis checks a
// lambda body as a function of its own that holds no lock, so callers write
// `while (!ready_) cv_.Wait(&mu_);`.
#pragma once

#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#include "core/util/thread_annotations.h"

namespace imgfs {

class CondVar;

// A non-recursive exclusive lock.
class IMGFS_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() IMGFS_ACQUIRE() { mu_.lock(); }
  void Unlock() IMGFS_RELEASE() { mu_.unlock(); }
  bool TryLock() IMGFS_TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Tells the analysis that the caller holds the lock (no run-time check:
  // std::mutex cannot say who holds it).
  void AssertHeld() const IMGFS_ASSERT_CAPABILITY(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// A reader-writer lock: many holders in shared mode, or one in exclusive.
class IMGFS_CAPABILITY("mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void Lock() IMGFS_ACQUIRE() { mu_.lock(); }
  void Unlock() IMGFS_RELEASE() { mu_.unlock(); }
  void LockShared() IMGFS_ACQUIRE_SHARED() { mu_.lock_shared(); }
  void UnlockShared() IMGFS_RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Holds `mu` from construction to destruction. Unlock() and Lock() let a
// holder drop the lock around slow work and take it back; the destructor
// releases only what is held.
class IMGFS_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) IMGFS_ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() IMGFS_RELEASE() {
    if (held_) {
      mu_->Unlock();
    }
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  // REQUIRES: held.
  void Unlock() IMGFS_RELEASE() {
    held_ = false;
    mu_->Unlock();
  }
  // REQUIRES: not held.
  void Lock() IMGFS_ACQUIRE() {
    mu_->Lock();
    held_ = true;
  }

 private:
  Mutex* const mu_;
  bool held_ = true;
};

// Holds `mu` in shared mode for the object's lifetime.
class IMGFS_SCOPED_CAPABILITY ReaderMutexLock {
 public:
  explicit ReaderMutexLock(SharedMutex* mu) IMGFS_ACQUIRE_SHARED(mu) : mu_(mu) {
    mu_->LockShared();
  }
  ~ReaderMutexLock() IMGFS_RELEASE() { mu_->UnlockShared(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  SharedMutex* const mu_;
};

// Holds `mu` exclusively for the object's lifetime.
class IMGFS_SCOPED_CAPABILITY WriterMutexLock {
 public:
  explicit WriterMutexLock(SharedMutex* mu) IMGFS_ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~WriterMutexLock() IMGFS_RELEASE() { mu_->Unlock(); }
  WriterMutexLock(const WriterMutexLock&) = delete;
  WriterMutexLock& operator=(const WriterMutexLock&) = delete;

 private:
  SharedMutex* const mu_;
};

// A condition variable tied, per wait, to an imgfs::Mutex the caller holds.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Atomically releases `mu` and blocks until signalled (or spuriously),
  // then takes `mu` again before returning. Callers loop on their condition.
  void Wait(Mutex* mu) IMGFS_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();  // still held: the caller's MutexLock releases it
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace imgfs
