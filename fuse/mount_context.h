// SPDX-License-Identifier: MIT
// What a mount serves: a list of raw views over opened devices, and the
// attributes they show. One MountContext per mount, reached from every FUSE
// callback through the session's private_data (no globals).
#pragma once

#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/block_device.h"
#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"

namespace imgfs::fusefs {

// Owner, permission bits and times a node shows.
struct NodeAttr {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t perm = 0444;  // permission bits only, never write bits
  struct timespec atime {};
  struct timespec mtime {};
  struct timespec ctime {};
};

// One file of the mount: `name` shows `device` as raw bytes.
// Thread-safety: immutable after construction except the lazily computed
// block count, which is computed once under its once_flag.
class RawView {
 public:
  RawView(std::string name, std::unique_ptr<BlockDevice> device, NodeAttr attr)
      : name_(std::move(name)), device_(std::move(device)), attr_(attr) {}

  const std::string& name() const { return name_; }
  const BlockDevice& device() const { return *device_; }
  const NodeAttr& attr() const { return attr_; }

  // st_blocks: the data extents in 512-byte units, computed on first use.
  // Falls back to the full size when the allocation map cannot be read.
  uint64_t Blocks512() const;

  // True the first time it is called: read errors are logged once per view.
  bool FirstError() const { return !error_logged_.exchange(true); }

 private:
  std::string name_;
  std::unique_ptr<BlockDevice> device_;
  NodeAttr attr_;
  mutable std::once_flag blocks_once_;
  mutable uint64_t blocks512_ = 0;  // written once under blocks_once_
  mutable std::atomic<bool> error_logged_{false};
};

struct MountContext {
  // Declared first so it is destroyed last: devices release cache handles.
  std::unique_ptr<Cache> cache;
  // Workers for large reads, shared by every device (OpenOptions::pool), or
  // empty. Declared before views so it outlives them. fuse_daemonize forks,
  // which keeps only the calling thread, so MountAndServe stops the workers
  // before and re-creates the pool in place after; devices keep pointing to
  // the same storage (ThreadPool is transparently replaceable).
  std::optional<ThreadPool> pool;
  std::vector<std::unique_ptr<RawView>> views;
  // The mountpoint is a regular file: the root node is views[0] itself.
  bool root_is_file = false;
  NodeAttr root_attr;  // for the directory root
  bool debug = false;
  // /sys/class/bdi/<major:minor>/read_ahead_kb of the mount, or empty.
  // OpInit raises the kernel's read-ahead there (root only; best effort),
  // since the FUSE INIT reply can only lower it.
  std::string read_ahead_path;
};

}  // namespace imgfs::fusefs
