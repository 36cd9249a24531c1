// SPDX-License-Identifier: MIT
// Mounting a MountContext and serving it until unmount or SIGINT/SIGTERM.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "fuse/mount_context.h"

namespace imgfs::fusefs {

// How requests are served; see fuse/LOOP.md for the measurements.
enum class LoopKind {
  kSingle,  // one thread reads and answers (fuse_session_loop)
  kMulti,   // libfuse's worker threads, fixed pool, clone_fd
};

struct SessionOptions {
  std::string mountpoint;
  bool foreground = false;
  bool debug = false;
  std::vector<std::string> fuse_options;  // each a -o argument
  LoopKind loop = LoopKind::kMulti;
  unsigned threads = 2;  // for kMulti: pool size, all kept alive
  bool uring = true;     // FUSE over io_uring when the kernel offers it
};

// Mounts ctx at options.mountpoint read-only with default_permissions,
// daemonizes (unless foreground) only after the mount succeeded, serves
// until unmounted or signalled, and unmounts. Returns an error (one line,
// naming the mountpoint) when the mount could not be set up; the loop's own
// failures after daemonizing are logged to stderr.
Status MountAndServe(std::unique_ptr<MountContext> ctx, const SessionOptions& options);

}  // namespace imgfs::fusefs
