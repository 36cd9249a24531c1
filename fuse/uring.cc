// SPDX-License-Identifier: MIT
#include "fuse/uring.h"

#include <liburing.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/util/mutex.h"

namespace imgfs::fusefs {
namespace {

// The io_uring part of the FUSE protocol (include/uapi/linux/fuse.h,
// protocol 7.42). Debian 12's kernel headers (6.1) predate it.
constexpr uint64_t kFuseOverIoUring = 1ULL << 41;
constexpr size_t kInOutHeaderBytes = 128;
constexpr size_t kOpInBytes = 128;
constexpr uint32_t kCmdRegister = 1;
constexpr uint32_t kCmdCommitAndFetch = 2;
// fuse_init_out up to and including flags2 (protocol 7.36), the part the
// INIT reply patch touches.
constexpr size_t kInitOutPrefix = offsetof(fuse_init_out, flags2) + sizeof(uint32_t);

struct RingEntInOut {
  uint64_t flags;
  uint64_t commit_id;   // what the commit must name
  uint32_t payload_sz;  // bytes in the payload buffer, either direction
  uint32_t padding;
  uint64_t reserved;
};

// iov[0] of a registered entry.
struct RingReqHeader {
  unsigned char in_out[kInOutHeaderBytes];  // fuse_in_header, then fuse_out_header
  unsigned char op_in[kOpInBytes];          // the request's first argument
  RingEntInOut ent;
};
static_assert(sizeof(RingReqHeader) == 288);

// The 80-byte command area of a 128-byte SQE.
struct RingCmdReq {
  uint64_t flags;
  uint64_t commit_id;
  uint16_t qid;
  uint8_t padding[6];
};
constexpr size_t kSqeCmdOffset = 48;
static_assert(offsetof(io_uring_sqe, addr3) == kSqeCmdOffset);

// Entries per queue: one being served and some the kernel can fill
// meanwhile, so a busy queue finds its next request without sleeping (on 2
// CPUs, 4 entries gave 30819 random 4 KiB reads/s against 27468 with 1;
// fuse/LOOP.md).
constexpr unsigned kMaxEntriesPerQueue = 4;
// Payload buffer: the largest request or reply (max_write and max_pages
// are 1 MiB, fuse/ops.cc) with room to spare.
constexpr size_t kPayloadBytes = (1U << 20) + 4096;
// Payload buffers over all queues: there is one queue per possible CPU, so
// hosts with many get fewer entries per queue (4 up to 15 CPUs, 1 from 32),
// keeping the buffers near 64 MiB up to 64 CPUs. A buffer only becomes
// resident once a reply has been built in it.
constexpr size_t kPayloadBudgetBytes = size_t{64} << 20;

unsigned EntriesPerQueue(size_t queues) {
  const size_t fit = kPayloadBudgetBytes / (std::max<size_t>(queues, 1) * kPayloadBytes);
  return static_cast<unsigned>(std::clamp<size_t>(fit, 1, kMaxEntriesPerQueue));
}

struct FreeDeleter {
  void operator()(std::byte* p) const {
    std::free(p);  // NOLINT(cppcoreguidelines-no-malloc): posix_memalign's pair
  }
};

struct Entry {
  alignas(64) RingReqHeader header{};
  std::unique_ptr<std::byte, FreeDeleter> payload;
  iovec iov[2]{};
  uint64_t unique = 0;
  uint64_t commit_id = 0;
  bool replied = false;
};

struct Queue {
  uint16_t qid = 0;
  io_uring ring{};
  bool ring_ok = false;
  std::vector<std::unique_ptr<Entry>> entries;
  size_t live = 0;  // entries the kernel still holds (registered, not failed)
  std::atomic<uint64_t> served{0};
  std::thread thread;
};

thread_local Queue* t_queue = nullptr;
thread_local Entry* t_entry = nullptr;

// The number of queues the kernel expects: one per possible CPU
// (/sys/devices/system/cpu/possible, e.g. "0-1" or "0-3,6-7").
unsigned PossibleCpus() {
  std::ifstream in("/sys/devices/system/cpu/possible");
  std::string s;
  if (!(in >> s)) {
    return 0;
  }
  unsigned highest = 0;
  size_t i = 0;
  while (i < s.size()) {
    char* end = nullptr;
    unsigned long v = std::strtoul(s.c_str() + i, &end, 10);
    if (end == s.c_str() + i || v > 4095) {
      return 0;
    }
    highest = std::max(highest, static_cast<unsigned>(v));
    i = static_cast<size_t>(end - s.c_str()) + 1;  // past '-' or ','
  }
  return highest + 1;
}

// One line per process: a ring that fails tends to fail for every request.
void LogOnce(const char* what, int err) {
  static std::once_flag once;
  std::call_once(once, [&] {
    std::fprintf(stderr, "imgfs: fuse io_uring: %s: %s\n", what, std::strerror(err));
  });
}

}  // namespace

struct UringTransport::State {
  fuse_session* se = nullptr;
  int fd = -1;
  std::atomic<uint64_t> init_unique{0};  // INIT that offered io_uring
  std::once_flag start_once;
  Mutex mu;
  // Changed only under mu (Start, Stop). Read without it by the queue
  // threads and Served(): they run after Start's last change and before
  // Stop's, so it is not IMGFS_GUARDED_BY.
  std::vector<std::unique_ptr<Queue>> queues;
  int stop_fd = -1;
  bool stopped IMGFS_GUARDED_BY(mu) = false;
  // The thread running libfuse's loop, woken by Fail (set before the loop).
  pthread_t loop_thread{};
  std::atomic<bool> have_loop_thread{false};
  std::atomic<bool> failed{false};
  // Test hook (IMGFS_TEST_URING_FAIL_AFTER=N): once the rings have served
  // N requests, the next queue to wait fails as if its wait had. 0: never.
  uint64_t fail_after = 0;

  void Start();
  void Fail(const Queue& q, const char* what, int err);
  void Serve(Queue* q);
  bool Dispatch(Queue* q, Entry* e);
  void Prep(Queue* q, Entry* e, uint32_t cmd);
  ssize_t Commit(Entry* e, const iovec* iov, int count);
  uint64_t Served() const {
    uint64_t n = 0;
    for (const auto& q : queues) {
      n += q->served.load(std::memory_order_relaxed);
    }
    return n;
  }
};

namespace {

UringTransport::State* g_state = nullptr;  // one session per process

void PinToCpu(unsigned cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  // Not fatal: a cpuset may forbid it; the queue then serves from elsewhere.
  (void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

ssize_t ReadHook(int fd, void* buf, size_t len, void* /*userdata*/) {
  ssize_t n = ::read(fd, buf, len);
  UringTransport::State* st = g_state;
  if (st != nullptr &&
      n >= static_cast<ssize_t>(sizeof(fuse_in_header) + offsetof(fuse_init_in, unused))) {
    fuse_in_header ih{};
    std::memcpy(&ih, buf, sizeof(ih));
    if (ih.opcode == FUSE_INIT) {
      fuse_init_in in{};
      std::memcpy(&in, static_cast<const char*>(buf) + sizeof(ih), offsetof(fuse_init_in, unused));
      uint64_t flags = in.flags;
      if ((flags & FUSE_INIT_EXT) != 0) {
        flags |= static_cast<uint64_t>(in.flags2) << 32;
      }
      if ((flags & kFuseOverIoUring) != 0) {
        st->init_unique.store(ih.unique);
      }
    }
  }
  return n;
}

ssize_t WritevHook(int fd, iovec* iov, int count, void* /*userdata*/) {
  UringTransport::State* st = g_state;
  if (st == nullptr || count < 1 || iov[0].iov_len < sizeof(fuse_out_header)) {
    return ::writev(fd, iov, count);
  }
  fuse_out_header oh{};
  std::memcpy(&oh, iov[0].iov_base, sizeof(oh));
  if (t_entry != nullptr && oh.unique == t_entry->unique) {
    return st->Commit(t_entry, iov, count);
  }
  const uint64_t init = st->init_unique.load();
  if (init == 0 || oh.unique != init || oh.error != 0 || count != 2 ||
      iov[1].iov_len < kInitOutPrefix) {
    return ::writev(fd, iov, count);
  }
  // The INIT reply: ask for io_uring, then start the rings (the kernel
  // takes registrations only once it has this reply).
  std::vector<unsigned char> out(static_cast<unsigned char*>(iov[1].iov_base),
                                 static_cast<unsigned char*>(iov[1].iov_base) + iov[1].iov_len);
  fuse_init_out io{};
  std::memcpy(&io, out.data(), kInitOutPrefix);
  io.flags |= FUSE_INIT_EXT;
  io.flags2 |= static_cast<uint32_t>(kFuseOverIoUring >> 32);
  std::memcpy(out.data(), &io, kInitOutPrefix);
  iovec patched[2] = {iov[0], {out.data(), out.size()}};
  ssize_t n = ::writev(fd, patched, 2);
  st->init_unique.store(0);
  if (n >= 0) {
    std::call_once(st->start_once, [st] { st->Start(); });
  }
  return n;
}

}  // namespace

void UringTransport::State::Start() {
  const unsigned n = PossibleCpus();
  if (n == 0 || n > 1024) {
    LogOnce("cannot read the possible CPUs, requests stay on /dev/fuse", EINVAL);
    return;
  }
  MutexLock lock(&mu);
  if (stopped) {
    return;
  }
  for (unsigned i = 0; i < n; ++i) {
    auto q = std::make_unique<Queue>();
    q->qid = static_cast<uint16_t>(i);
    queues.push_back(std::move(q));
  }
  for (auto& q : queues) {
    Queue* raw = q.get();
    q->thread = std::thread([this, raw] { Serve(raw); });
  }
}

// A queue that cannot serve any more: the kernel keeps sending this CPU's
// requests to it, so they would wait forever. End the session instead, as
// SIGTERM would (libfuse's handler ends the loop, whose read or wait the
// signal interrupts); the mount goes away, waiting readers get ENOTCONN and
// MountAndServe reports the failure.
void UringTransport::State::Fail(const Queue& q, const char* what, int err) {
  if (failed.exchange(true)) {
    return;
  }
  std::fprintf(stderr, "imgfs: fuse io_uring: queue %u: %s: %s; unmounting\n",
               static_cast<unsigned>(q.qid), what, std::strerror(err));
  fuse_session_exit(se);
  if (have_loop_thread.load()) {
    (void)pthread_kill(loop_thread, SIGTERM);
  }
}

void UringTransport::State::Prep(Queue* q, Entry* e, uint32_t cmd) {
  io_uring_sqe* sqe = io_uring_get_sqe(&q->ring);
  if (sqe == nullptr) {  // cannot happen: the SQ holds every entry and the stop poll
    (void)io_uring_submit(&q->ring);
    sqe = io_uring_get_sqe(&q->ring);
    if (sqe == nullptr) {
      LogOnce("submission queue full", EBUSY);
      return;
    }
  }
  std::memset(static_cast<void*>(sqe), 0, 128);
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = fd;
  sqe->cmd_op = cmd;
  sqe->user_data = reinterpret_cast<uintptr_t>(e);
  if (cmd == kCmdRegister) {
    sqe->addr = reinterpret_cast<uintptr_t>(e->iov);
    sqe->len = 2;
  }
  RingCmdReq req{};
  req.commit_id = e->commit_id;
  req.qid = q->qid;
  std::memcpy(reinterpret_cast<unsigned char*>(sqe) + kSqeCmdOffset, &req, sizeof(req));
}

ssize_t UringTransport::State::Commit(Entry* e, const iovec* iov, int count) {
  fuse_out_header oh{};
  std::memcpy(&oh, iov[0].iov_base, sizeof(oh));
  size_t body = 0;
  for (int i = 1; i < count; ++i) {
    body += iov[i].iov_len;
  }
  if (body > kPayloadBytes) {  // larger than any request allows
    oh.error = -EIO;
    body = 0;
  } else if (count == 2 && iov[1].iov_base == e->payload.get()) {
    // Built in place (ReplySpace): nothing to copy.
  } else {
    std::byte* dst = e->payload.get();
    for (int i = 1; i < count; ++i) {
      std::memcpy(dst, iov[i].iov_base, iov[i].iov_len);
      dst += iov[i].iov_len;
    }
  }
  oh.len = static_cast<uint32_t>(sizeof(oh) + body);
  std::memcpy(e->header.in_out, &oh, sizeof(oh));
  e->header.ent.payload_sz = static_cast<uint32_t>(body);
  Prep(t_queue, e, kCmdCommitAndFetch);
  e->replied = true;
  return static_cast<ssize_t>(sizeof(oh) + body);
}

// Rebuilds the request as /dev/fuse would have delivered it (header, first
// argument, the rest) and lets libfuse dispatch it. False when the entry
// holds something that is not a request.
bool UringTransport::State::Dispatch(Queue* q, Entry* e) {
  fuse_in_header ih{};
  std::memcpy(&ih, e->header.in_out, sizeof(ih));
  const RingEntInOut ent = e->header.ent;
  const size_t head = sizeof(fuse_in_header);
  e->unique = ih.unique;
  e->commit_id = ent.commit_id;
  e->replied = false;
  if (ih.len < head || ent.payload_sz > kPayloadBytes || ih.len - head < ent.payload_sz ||
      ih.len - head - ent.payload_sz > kOpInBytes) {
    return false;
  }
  const size_t op_in = ih.len - head - ent.payload_sz;
  thread_local std::vector<std::byte> request;
  request.resize(ih.len);
  std::memcpy(request.data(), e->header.in_out, head);
  std::memcpy(request.data() + head, e->header.op_in, op_in);
  if (ent.payload_sz != 0) {
    std::memcpy(request.data() + head + op_in, e->payload.get(), ent.payload_sz);
  }
  fuse_buf buf{};
  buf.size = ih.len;
  buf.mem = request.data();
  buf.fd = -1;
  t_entry = e;
  fuse_session_process_buf(se, &buf);
  t_entry = nullptr;
  q->served.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void UringTransport::State::Serve(Queue* q) {
  char name[16];
  std::snprintf(name, sizeof(name), "imgfs-ring%u", static_cast<unsigned>(q->qid % 1000));
  pthread_setname_np(pthread_self(), name);
  PinToCpu(q->qid);
  t_queue = q;
  io_uring_params p{};
  p.flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
  const unsigned entries = EntriesPerQueue(queues.size());
  int rc = io_uring_queue_init_params(entries * 2 + 2, &q->ring, &p);
  if (rc < 0) {
    LogOnce("cannot set up a ring, requests stay on /dev/fuse", -rc);
    return;
  }
  q->ring_ok = true;
  for (unsigned i = 0; i < entries; ++i) {
    auto e = std::make_unique<Entry>();
    void* mem = nullptr;
    if (posix_memalign(&mem, 4096, kPayloadBytes) != 0) {
      LogOnce("cannot allocate a payload buffer", ENOMEM);
      break;
    }
    e->payload.reset(static_cast<std::byte*>(mem));
    e->iov[0] = {&e->header, sizeof(e->header)};
    e->iov[1] = {e->payload.get(), kPayloadBytes};
    Prep(q, e.get(), kCmdRegister);
    q->entries.push_back(std::move(e));
  }
  q->live = q->entries.size();
  if (io_uring_sqe* poll = io_uring_get_sqe(&q->ring); poll != nullptr) {
    io_uring_prep_poll_add(poll, stop_fd, POLLIN);
    io_uring_sqe_set_data64(poll, 0);
  }
  bool done = false;
  while (!done) {
    rc = io_uring_submit_and_wait(&q->ring, 1);
    if (fail_after != 0 && Served() >= fail_after) {
      rc = -EIO;
    }
    // EINTR: a signal; EAGAIN/EBUSY: the kernel is short of memory or the
    // completion queue is full, and reaping below makes room.
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      Fail(*q, "wait", -rc);
      break;
    }
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&q->ring, head, cqe) {
      ++seen;
      auto* e = reinterpret_cast<Entry*>(static_cast<uintptr_t>(cqe->user_data));
      if (e == nullptr) {  // the stop poll
        done = true;
        continue;
      }
      if (cqe->res < 0) {
        // ENOTCONN/ENODEV: unmounted; ECANCELED: the ring is going away.
        // Anything else costs this entry only: the queue keeps serving
        // with the others, as the kernel keeps sending this CPU's
        // requests here (a failed registration keeps the rings from ever
        // being used, so everything stays on /dev/fuse). With none left,
        // this CPU's requests could never be answered: Fail.
        int err = -cqe->res;
        if (err == ENOTCONN || err == ENODEV || err == ECANCELED) {
          done = true;
        } else {
          LogOnce("an entry failed", err);
          if (--q->live == 0) {
            Fail(*q, "every entry failed", err);
            done = true;
          }
        }
        continue;
      }
      if (done) {
        continue;
      }
      if (!Dispatch(q, e) || !e->replied) {
        // Malformed, or an operation that did not answer: answer EIO so the
        // caller is not left waiting and the entry comes back.
        LogOnce("unanswered request", EIO);
        fuse_out_header oh{};
        oh.unique = e->unique;
        oh.error = -EIO;
        iovec v{&oh, sizeof(oh)};
        Commit(e, &v, 1);
      }
    }
    io_uring_cq_advance(&q->ring, seen);
  }
  t_queue = nullptr;
}

std::unique_ptr<UringTransport> UringTransport::Install(fuse_session* se, bool want) {
  auto st = std::make_unique<State>();
  st->se = se;
  st->fd = fuse_session_fd(se);
  st->stop_fd = want ? eventfd(0, EFD_CLOEXEC) : -1;
  if (const char* n = std::getenv("IMGFS_TEST_URING_FAIL_AFTER"); n != nullptr) {
    st->fail_after = std::strtoull(n, nullptr, 10);
  }
  if (st->stop_fd < 0) {
    // Not wanted (or no eventfd to stop rings with): libfuse keeps its own
    // I/O, with nothing of ours on the request path.
    return std::unique_ptr<UringTransport>(new UringTransport(std::move(st)));
  }
  static const fuse_custom_io kIo = {WritevHook, ReadHook, nullptr, nullptr};
  g_state = st.get();
  if (fuse_session_custom_io(se, &kIo, st->fd) != 0) {
    g_state = nullptr;
    return nullptr;
  }
  return std::unique_ptr<UringTransport>(new UringTransport(std::move(st)));
}

UringTransport::UringTransport(std::unique_ptr<State> state) : state_(std::move(state)) {}

void UringTransport::SetLoopThread() {
  state_->loop_thread = pthread_self();
  state_->have_loop_thread.store(true);
}

bool UringTransport::Failed() const { return state_->failed.load(); }

UringTransport::~UringTransport() {
  Stop();
  g_state = nullptr;
  if (state_->stop_fd >= 0) {
    ::close(state_->stop_fd);
  }
}

void UringTransport::Stop() {
  MutexLock lock(&state_->mu);
  if (state_->stopped) {
    return;
  }
  state_->stopped = true;
  if (state_->stop_fd >= 0) {
    uint64_t one = 1;
    (void)!::write(state_->stop_fd, &one, sizeof(one));
  }
  for (auto& q : state_->queues) {
    if (q->thread.joinable()) {
      q->thread.join();
    }
    if (q->ring_ok) {
      io_uring_queue_exit(&q->ring);
      q->ring_ok = false;
    }
  }
  if (std::getenv("IMGFS_FUSE_STATS") != nullptr) {
    std::fprintf(stderr, "imgfs: fuse io_uring: %llu requests\n",
                 static_cast<unsigned long long>(state_->Served()));
  }
}

std::span<std::byte> UringTransport::ReplySpace(size_t bytes) {
  if (t_entry == nullptr || bytes > kPayloadBytes) {
    return {};
  }
  return {t_entry->payload.get(), bytes};
}

}  // namespace imgfs::fusefs
