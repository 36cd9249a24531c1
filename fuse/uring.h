// SPDX-License-Identifier: MIT
// FUSE over io_uring (kernel >= 6.14 with
// /sys/module/fuse/parameters/enable_uring=Y): requests arrive in buffers
// registered with an io_uring per CPU and are answered by the same ring,
// one system call per request and on the CPU that asked, instead of a read
// and a write on /dev/fuse. See fuse/LOOP.md for why and what it gains.
//
// libfuse 3.14 knows nothing of it, so UringTransport sits under libfuse as
// its custom I/O: it sees the kernel's INIT, adds FUSE_OVER_IO_URING to the
// reply when the kernel offers it, then starts one ring thread per possible
// CPU. Each ring thread hands its requests to fuse_session_process_buf, so
// the operations are the same code on both paths; their replies come back
// through the custom writev and are committed to the ring. Forgets,
// interrupts and anything before the rings are ready still go through
// /dev/fuse and libfuse's own loop. A ring that cannot go on (its wait
// fails, or all its entries do) ends the session with an error instead of
// leaving that CPU's requests unanswered; IMGFS_TEST_URING_FAIL_AFTER=N
// makes a ring fail so after N requests, for the tests.
#pragma once

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 314
#endif
#include <fuse_lowlevel.h>

#include <cstddef>
#include <memory>
#include <span>

namespace imgfs::fusefs {

class UringTransport {
 public:
  // Takes over se's I/O (se must be mounted). When `want` is false, or the
  // kernel does not offer io_uring at INIT, everything stays on /dev/fuse.
  static std::unique_ptr<UringTransport> Install(fuse_session* se, bool want);
  UringTransport(const UringTransport&) = delete;
  UringTransport& operator=(const UringTransport&) = delete;
  ~UringTransport();  // stops and joins the ring threads

  // Call on the thread that will run libfuse's loop, just before it does:
  // a ring that fails for good ends the loop by signalling this thread.
  void SetLoopThread();

  // True when a ring failed for good and ended the session (the reason is
  // on stderr); the mount is then gone, and the caller should fail.
  bool Failed() const;

  // Stops the ring threads. Call after the libfuse loop has ended. With
  // IMGFS_FUSE_STATS set it prints "imgfs: fuse io_uring: N requests" (the
  // requests the rings served) to stderr.
  void Stop();

  // On a ring thread that is serving a request: the payload buffer the reply
  // will be committed from, when it holds `bytes`; a reply built there is
  // not copied again. Empty everywhere else.
  static std::span<std::byte> ReplySpace(size_t bytes);

  struct State;

 private:
  explicit UringTransport(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace imgfs::fusefs
