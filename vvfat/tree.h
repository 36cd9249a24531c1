// SPDX-License-Identifier: MIT
// The host tree a vvfat disk shows, read once at mount: one Node per file
// and directory, breadth first, so each directory's children are one
// contiguous run of nodes (sorted by host name). Symbolic links are
// followed while they stay inside the tree; see ScanTree for what is
// skipped.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"

namespace imgfs::vvfat {

// Files FAT can hold: DIR_FileSize is 32 bits (FAT specification 6).
inline constexpr uint64_t kMaxFileBytes = 0xffffffffULL;

struct Node {
  uint32_t parent = 0;       // index of the parent directory (root: 0)
  uint32_t first_child = 0;  // directories: index of the first child
  uint32_t child_count = 0;  // directories: number of children
  bool is_dir = false;
  bool read_only = false;   // no owner write bit on the host
  uint64_t size_bytes = 0;  // files: the size at scan time
  struct timespec mtime {};
  struct timespec atime {};
  struct timespec btime {};  // creation (statx birth time, else mtime)
  std::string name;          // host name (root: empty)
};

struct ScanOptions {
  // Files larger than kMaxFileBytes: skipped (and noted) when true, else the
  // scan fails naming the first one.
  bool skip_large = false;
  // Called with each warning ("cannot read x: ... ; skipped").
  std::function<void(const std::string&)> warn;
};

struct Tree {
  std::string root_path;    // as given
  std::vector<Node> nodes;  // nodes[0] is the root directory
  // The path of node `i` relative to the root ("a/b/c"; root: "").
  std::string RelativePath(uint32_t i) const;
  std::string HostPath(uint32_t i) const;
};

// Reads the tree under `root`. Skipped with a warning: special files,
// symbolic links that dangle, leave the tree (their target's real path is
// outside root's) or loop (a directory that is its own ancestor), entries
// that vanish or cannot be read (no read permission, stat or opendir
// errors). Fails (kNotFound / kInvalidArgument) when root is missing or
// not a directory, and (kUnsupported) on a file over 4 GiB - 1 unless
// skip_large.
Result<Tree> ScanTree(const std::string& root, const ScanOptions& options);

}  // namespace imgfs::vvfat
