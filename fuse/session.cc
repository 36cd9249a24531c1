// SPDX-License-Identifier: MIT
#include "fuse/session.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "fuse/ops.h"
#include "fuse/uring.h"

namespace imgfs::fusefs {
namespace {

// Owns the argv strings handed to fuse_session_new.
class FuseArgs {
 public:
  explicit FuseArgs(const SessionOptions& o) {
    strings_.push_back("imgfs");
    // ro: nothing is writable yet. default_permissions: the kernel checks
    // the owner and mode we show, so allow_other never grants more than the
    // image file itself does.
    strings_.push_back("-o");
    strings_.push_back("ro,default_permissions,fsname=imgfs,subtype=imgfs");
    for (const std::string& opt : o.fuse_options) {
      strings_.push_back("-o");
      strings_.push_back(opt);
    }
    if (o.debug) {
      strings_.push_back("-d");
    }
    for (std::string& s : strings_) {
      argv_.push_back(s.data());
    }
    args_.argc = static_cast<int>(argv_.size());
    args_.argv = argv_.data();
    args_.allocated = 0;
  }
  FuseArgs(const FuseArgs&) = delete;
  FuseArgs& operator=(const FuseArgs&) = delete;
  ~FuseArgs() { fuse_opt_free_args(&args_); }

  fuse_args* get() { return &args_; }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> argv_;
  fuse_args args_{};
};

struct SessionDeleter {
  void operator()(fuse_session* se) const { fuse_session_destroy(se); }
};
using SessionPtr = std::unique_ptr<fuse_session, SessionDeleter>;

// Installs libfuse's SIGINT/SIGTERM/SIGHUP handlers (they call
// fuse_session_exit) for the lifetime of the object.
class SignalGuard {
 public:
  explicit SignalGuard(fuse_session* se) : se_(se), ok_(fuse_set_signal_handlers(se) == 0) {}
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;
  ~SignalGuard() {
    if (ok_) {
      fuse_remove_signal_handlers(se_);
    }
  }
  bool ok() const { return ok_; }

 private:
  fuse_session* se_;
  bool ok_;
};

// Keeps the session mounted; unmounting releases the mountpoint even when
// the loop ended through a signal.
class MountGuard {
 public:
  explicit MountGuard(fuse_session* se) : se_(se) {}
  MountGuard(const MountGuard&) = delete;
  MountGuard& operator=(const MountGuard&) = delete;
  ~MountGuard() { fuse_session_unmount(se_); }

 private:
  fuse_session* se_;
};

class LoopConfig {
 public:
  explicit LoopConfig(unsigned threads) : cfg_(fuse_loop_cfg_create()) {
    // A fixed pool: as many idle threads as threads in all, so libfuse
    // never starts and stops workers per burst of requests.
    fuse_loop_cfg_set_max_threads(cfg_, threads);
    fuse_loop_cfg_set_idle_threads(cfg_, threads);
    fuse_loop_cfg_set_clone_fd(cfg_, 1);
  }
  LoopConfig(const LoopConfig&) = delete;
  LoopConfig& operator=(const LoopConfig&) = delete;
  ~LoopConfig() { fuse_loop_cfg_destroy(cfg_); }
  fuse_loop_config* get() { return cfg_; }

 private:
  fuse_loop_config* cfg_;
};

// The "major:minor" of the filesystem mounted at `mountpoint`, from
// /proc/self/mountinfo (a stat of the mountpoint would ask our own FUSE
// session, which is not serving yet). `mountpoint` is already resolved
// (MountAndServe). Empty when not found.
std::string MountDeviceNumber(const std::string& mountpoint) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  std::string found;
  while (std::getline(in, line)) {
    // mount-id parent-id major:minor root mount-point ...; the last match
    // is the newest mount (ours). Paths with spaces are octal-escaped there
    // and simply do not match: read-ahead then stays at the default.
    std::istringstream fields(line);
    std::string id;
    std::string parent;
    std::string dev;
    std::string root;
    std::string point;
    if (fields >> id >> parent >> dev >> root >> point && point == mountpoint) {
      found = dev;
    }
  }
  return found;
}

int RunLoop(fuse_session* se, const SessionOptions& o) {
  if (o.loop == LoopKind::kSingle) {
    return fuse_session_loop(se);
  }
  LoopConfig cfg(o.threads);
  return fuse_session_loop_mt(se, cfg.get());
}

}  // namespace

Status MountAndServe(std::unique_ptr<MountContext> ctx, const SessionOptions& options) {
  // libfuse unmounts by the path it mounted, after the daemon has moved to
  // "/": a relative mountpoint would then name nothing, and SIGTERM would
  // leave a dead mount ("Transport endpoint is not connected") behind.
  SessionOptions o = options;
  char* real = ::realpath(options.mountpoint.c_str(), nullptr);
  if (real == nullptr) {
    return IOError("cannot resolve the mountpoint: " + std::string(std::strerror(errno)), errno);
  }
  o.mountpoint = real;
  std::free(real);  // NOLINT(cppcoreguidelines-no-malloc): realpath's contract
  FuseArgs args(o);
  SessionPtr se(fuse_session_new(args.get(), &LowlevelOps(), sizeof(fuse_lowlevel_ops), ctx.get()));
  if (se == nullptr) {
    return InvalidArgumentError("cannot start fuse session (bad -o option?)");
  }
  SignalGuard signals(se.get());
  if (!signals.ok()) {
    return InternalError("cannot install signal handlers");
  }
  if (fuse_session_mount(se.get(), o.mountpoint.c_str()) != 0) {
    return IOError("cannot mount (see the fuse message above)", EIO);
  }
  MountGuard mounted(se.get());
  // Destroyed before `mounted`: the ring threads stop, then we unmount.
  std::unique_ptr<UringTransport> uring = UringTransport::Install(se.get(), o.uring);
  if (uring == nullptr) {
    return InternalError("cannot set up the fuse transport");
  }
  if (std::string dev = MountDeviceNumber(o.mountpoint); !dev.empty()) {
    ctx->read_ahead_path = "/sys/class/bdi/" + dev + "/read_ahead_kb";
  }
  // fork() keeps only the calling thread: stop the pool's workers before
  // and start new ones in the daemon (see MountContext::pool).
  unsigned pool_threads = ctx->pool ? ctx->pool->size() : 0;
  if (!o.foreground) {
    ctx->pool.reset();
  }
  if (fuse_daemonize(o.foreground ? 1 : 0) != 0) {
    return InternalError("cannot daemonize");
  }
  if (pool_threads != 0 && !ctx->pool) {
    ctx->pool.emplace(pool_threads);
  }
  uring->SetLoopThread();
  int rc = RunLoop(se.get(), o);
  uring->Stop();
  if (uring->Failed()) {
    return IOError("fuse io_uring failed; unmounted", EIO);
  }
  if (rc < 0 && rc != -EINTR) {
    std::fprintf(stderr, "imgfs: %s: fuse loop ended: %s\n", o.mountpoint.c_str(),
                 std::strerror(-rc));
  }
  return Status::Ok();
}

}  // namespace imgfs::fusefs
