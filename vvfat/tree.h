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

namespace imgfs {
class ThreadPool;
}

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
  // Called with each warning ("cannot read x: ... ; skipped"), in the
  // tree's order whatever the pool.
  std::function<void(const std::string&)> warn;
  // Directories are listed and their entries looked at on this pool (the
  // tree is the same without one).
  ThreadPool* pool = nullptr;
};

// The process's credentials, as far as deciding from a file's mode whether
// open(O_RDONLY) will be allowed (effective ids: what open checks).
struct Credentials {
  uid_t uid = 0;
  // CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH: every regular file reads.
  bool read_any = false;
  static Credentials OfProcess();
};

enum class ReadAccess { kYes, kNo, kAsk };

// Whether a regular file of this mode and owner can be read, from the mode
// alone where that is exact for the kernel's generic permission check
// (POSIX ACLs included): kYes for a reader with CAP_DAC_* (unless the
// file's ids are unmapped, shown as 65534) or the owner with S_IRUSR; kNo
// for the owner without it, or anyone else when neither the group bits
// (the ACL mask) nor the other bits allow reading. kAsk otherwise: named
// ACL entries may decide for group members and others alike, so the caller
// asks the kernel (faccessat).
ReadAccess DecideReadAccess(const Credentials& c, uint32_t mode, uint32_t uid, uint32_t gid);

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
// errors). Read permission is decided from the mode (DecideReadAccess) on
// file systems whose permission check is the kernel's generic one (ext2-4,
// XFS, Btrfs, tmpfs, F2FS) and asked of the kernel (faccessat) elsewhere,
// for symbolic links and where the mode is not enough. Fails (kNotFound / kInvalidArgument) when
// root is missing or not a directory, and (kUnsupported) on a file over 4 GiB - 1 unless
// skip_large.
Result<Tree> ScanTree(const std::string& root, const ScanOptions& options);

}  // namespace imgfs::vvfat
