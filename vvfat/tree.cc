// SPDX-License-Identifier: MIT
// Reading the host tree once (see tree.h).
#include "vvfat/tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "core/exec/thread_pool.h"

namespace imgfs::vvfat {
namespace {

// Unmapped ids (another user namespace's) show as the overflow ids.
constexpr uint32_t kOverflowId = 65534;
// getdents64 buffer: a directory of thousands of entries in a few calls.
constexpr size_t kDirBufferBytes = 256 << 10;
// Entries looked at per task of the pool.
constexpr size_t kStatBatch = 512;
// What a node needs: type and mode (permission), size, times, ids (owner
// for permission, dev/ino for loops).
constexpr unsigned kStatMask = STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID | STATX_SIZE |
                               STATX_MTIME | STATX_ATIME | STATX_BTIME | STATX_INO;

std::string RealPath(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> p(::realpath(path.c_str(), nullptr), &std::free);
  return p ? std::string(p.get()) : std::string();
}

// File systems whose permission check is the kernel's generic one (mode
// bits and POSIX ACLs), so that DecideReadAccess is exact for them.
bool GenericPermissions(int dir_fd) {
  struct statfs fs {};
  if (::fstatfs(dir_fd, &fs) != 0) {
    return false;
  }
  switch (static_cast<unsigned long>(fs.f_type)) {
    case EXT4_SUPER_MAGIC:  // ext2, ext3 and ext4 share it
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case TMPFS_MAGIC:
    case F2FS_SUPER_MAGIC:
      return true;
    default:
      return false;
  }
}

struct DirId {
  dev_t dev;
  ino_t ino;
};

DirId IdOf(const struct statx& sx) {
  return {makedev(sx.stx_dev_major, sx.stx_dev_minor), sx.stx_ino};
}

// Times from statx: birth time where the file system records it, else
// mtime.
void FillTimes(const struct statx& sx, Node* n) {
  n->mtime = {sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec};
  n->atime = {sx.stx_atime.tv_sec, sx.stx_atime.tv_nsec};
  n->btime = (sx.stx_mask & STATX_BTIME) != 0 ? timespec{sx.stx_btime.tv_sec, sx.stx_btime.tv_nsec}
                                              : n->mtime;
}

void FillTimes(const struct stat& st, Node* n) {
  n->mtime = st.st_mtim;
  n->atime = st.st_atim;
  n->btime = st.st_mtim;
}

// One entry of a directory being read: its name from getdents64, then what
// looking at it found.
struct Entry {
  enum class Kind : uint8_t { kPending, kNode, kWarning, kError };
  Kind kind = Kind::kPending;
  uint8_t d_type = DT_UNKNOWN;
  ino_t ino = 0;
  DirId id{};           // directories: for the loop check
  Node node;            // kNode (name always)
  std::string message;  // kWarning, kError
};

// One directory being read: its entries, in inode order while they are
// looked at, then in name order.
struct Listing {
  uint32_t dir = 0;
  std::string path;
  int fd = -1;
  bool generic_permissions = false;
  std::string warning;  // the directory itself could not be read
  std::vector<Entry> entries;
  std::vector<uint32_t> order;  // indices into entries: by inode, then by name
};

// Grows `v` to hold `more` more elements, at least doubling: reserving
// exactly level after level would copy a deep tree's nodes once per level.
template <typename T>
void Grow(std::vector<T>* v, size_t more) {
  if (v->size() + more > v->capacity()) {
    v->reserve(std::max(v->size() + more, 2 * v->capacity()));
  }
}

class Scanner {
 public:
  Scanner(const ScanOptions& options, Tree* tree)
      : options_(options), tree_(tree), creds_(Credentials::OfProcess()) {}

  Status Run() {
    struct stat st {};
    if (::stat(tree_->root_path.c_str(), &st) != 0) {
      const int e = errno;
      return e == ENOENT
                 ? NotFoundError("vvfat: " + tree_->root_path + ": no such directory")
                 : IOError("vvfat: cannot stat " + tree_->root_path + ": " + std::strerror(e), e);
    }
    if (!S_ISDIR(st.st_mode)) {
      return InvalidArgumentError("vvfat: " + tree_->root_path + ": not a directory");
    }
    root_real_ = RealPath(tree_->root_path);
    // Files are opened after fuse_daemonize's chdir("/"): keep paths absolute.
    if (!root_real_.empty()) {
      tree_->root_path = root_real_;
    }
    Node root;
    root.is_dir = true;
    FillTimes(st, &root);
    tree_->nodes.push_back(root);
    ids_.push_back({st.st_dev, st.st_ino});
    // Breadth first, one level of directories at a time: the level's
    // directories are listed and their entries looked at in parallel, then
    // added to the tree in order, so the tree (and the warnings' order) is
    // the same as a serial scan's.
    std::vector<uint32_t> level = {0};
    while (!level.empty()) {
      std::vector<Listing> listings(level.size());
      for (size_t k = 0; k < level.size(); ++k) {
        listings[k].dir = level[k];
        listings[k].path = tree_->HostPath(level[k]);
      }
      ParallelFor(options_.pool, listings.size(), [&](size_t k) { Open(&listings[k]); });
      // Entries in batches, so one huge directory is shared out too.
      std::vector<std::pair<Listing*, size_t>> batches;
      for (Listing& l : listings) {
        for (size_t from = 0; from < l.order.size(); from += kStatBatch) {
          batches.emplace_back(&l, from);
        }
      }
      ParallelFor(options_.pool, batches.size(), [&](size_t b) {
        Listing* l = batches[b].first;
        const size_t from = batches[b].second;
        const size_t to = std::min(l->order.size(), from + kStatBatch);
        for (size_t i = from; i < to; ++i) {
          LookAt(*l, &l->entries[l->order[i]]);
        }
      });
      std::vector<uint32_t> next;
      for (Listing& l : listings) {
        if (l.fd >= 0) {
          ::close(l.fd);
          l.fd = -1;
        }
      }
      size_t entries = 0;
      for (const Listing& l : listings) {
        entries += l.entries.size();
      }
      Grow(&tree_->nodes, entries);
      Grow(&ids_, entries);
      for (Listing& l : listings) {
        IMGFS_RETURN_IF_ERROR(Merge(&l, &next));
        l = Listing();  // its memory, before the next level's
      }
      level = std::move(next);
    }
    return Status::Ok();
  }

 private:
  void Warn(const std::string& msg) const {
    if (options_.warn) {
      options_.warn(msg);
    }
  }

  bool IsAncestor(uint32_t dir, DirId id) const {
    for (uint32_t i = dir;; i = tree_->nodes[i].parent) {
      if (ids_[i].dev == id.dev && ids_[i].ino == id.ino) {
        return true;
      }
      if (i == 0) {
        return false;
      }
    }
  }

  // A symbolic link is kept when its target's real path is inside the root.
  bool LinkStaysInside(const std::string& path) const {
    const std::string real = RealPath(path);
    return !real.empty() &&
           (real == root_real_ || real.starts_with(root_real_ == "/" ? "/" : root_real_ + "/"));
  }

  // Opens a directory and reads its names (getdents64, a large buffer),
  // sorted by inode so that with cold caches the inode table is read in
  // one sweep. Runs on the pool.
  static void Open(Listing* l) {
    l->fd = ::open(l->path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (l->fd < 0) {
      l->warning =
          "cannot read directory " + l->path + ": " + std::strerror(errno) + "; shown empty";
      return;
    }
    l->generic_permissions = GenericPermissions(l->fd);
    thread_local std::unique_ptr<std::byte[]> buffer;
    if (!buffer) {
      buffer = std::make_unique<std::byte[]>(kDirBufferBytes);
    }
    for (;;) {
      const ssize_t n = ::getdents64(l->fd, buffer.get(), kDirBufferBytes);
      if (n < 0) {
        l->warning =
            "cannot read directory " + l->path + ": " + std::strerror(errno) + "; shown empty";
        l->entries.clear();
        return;
      }
      if (n == 0) {
        break;
      }
      // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8
      // d_type, then the name, NUL-terminated.
      Grow(&l->entries, static_cast<size_t>(n) / 32);  // records are 24 bytes and up
      for (size_t at = 0; at < static_cast<size_t>(n);) {
        const std::byte* rec = buffer.get() + at;
        uint64_t ino = 0;
        uint16_t reclen = 0;
        std::memcpy(&ino, rec, sizeof ino);
        std::memcpy(&reclen, rec + 16, sizeof reclen);
        const char* name = reinterpret_cast<const char*>(rec + 19);
        at += reclen;
        if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) {
          continue;
        }
        Entry& e = l->entries.emplace_back();
        e.ino = static_cast<ino_t>(ino);
        e.d_type = static_cast<uint8_t>(rec[18]);
        e.node.name = name;
      }
    }
    l->order.resize(l->entries.size());
    for (uint32_t i = 0; i < l->order.size(); ++i) {
      l->order[i] = i;
    }
    std::sort(l->order.begin(), l->order.end(),
              [l](uint32_t x, uint32_t y) { return l->entries[x].ino < l->entries[y].ino; });
  }

  // Looks at one entry: statx (following a link that stays inside the
  // tree), type, read permission, size. Runs on the pool; the loop check,
  // which needs the tree, waits for Merge.
  void LookAt(const Listing& l, Entry* e) const {
    auto warn = [e](std::string msg) {
      e->kind = Entry::Kind::kWarning;
      e->message = std::move(msg);
    };
    const char* name = e->node.name.c_str();
    if (e->d_type == DT_FIFO || e->d_type == DT_SOCK || e->d_type == DT_CHR ||
        e->d_type == DT_BLK) {
      return warn("cannot show " + l.path + "/" + e->node.name +
                  ": not a regular file or directory; skipped");
    }
    constexpr int kFlags = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_DONT_SYNC;
    struct statx sx {};
    if (::statx(l.fd, name, kFlags, kStatMask, &sx) != 0) {
      return warn("cannot stat " + l.path + "/" + e->node.name + ": " + std::strerror(errno) +
                  "; skipped");
    }
    bool ask = !l.generic_permissions || (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
    if (S_ISLNK(sx.stx_mode)) {
      const std::string path = l.path + "/" + e->node.name;
      if (::statx(l.fd, name, AT_NO_AUTOMOUNT | AT_STATX_DONT_SYNC, kStatMask, &sx) != 0) {
        return warn("cannot follow symbolic link " + path + ": " + std::strerror(errno) +
                    "; skipped");
      }
      if (!LinkStaysInside(path)) {
        return warn("cannot follow symbolic link " + path + ": it leaves " + tree_->root_path +
                    "; skipped");
      }
      ask = true;  // the target may live on another file system
    }
    Node& n = e->node;
    n.parent = l.dir;
    n.read_only = (sx.stx_mode & S_IWUSR) == 0;
    FillTimes(sx, &n);
    if (S_ISDIR(sx.stx_mode)) {
      n.is_dir = true;
      n.read_only = false;  // FAT's read-only bit on a directory means nothing to most guests
      e->id = IdOf(sx);
      e->kind = Entry::Kind::kNode;
      return;
    }
    if (!S_ISREG(sx.stx_mode)) {
      return warn("cannot show " + l.path + "/" + e->node.name +
                  ": not a regular file or directory; skipped");
    }
    ReadAccess access = DecideReadAccess(creds_, sx.stx_mode, sx.stx_uid, sx.stx_gid);
    if (ask && access != ReadAccess::kAsk) {
      access = ReadAccess::kAsk;
    }
    int denied = EACCES;
    if (access == ReadAccess::kAsk) {
      denied = ::faccessat(l.fd, name, R_OK, AT_EACCESS) == 0 ? 0 : errno;
    } else if (access == ReadAccess::kYes) {
      denied = 0;
    }
    if (denied != 0) {
      return warn("cannot read " + l.path + "/" + e->node.name + ": " + std::strerror(denied) +
                  "; skipped");
    }
    const uint64_t size = sx.stx_size;
    if (size > kMaxFileBytes) {
      const std::string path = l.path + "/" + e->node.name;
      if (!options_.skip_large) {
        e->kind = Entry::Kind::kError;
        e->message = "vvfat: " + path + " is larger than FAT's 4 GiB - 1 file limit (" +
                     std::to_string(size) + " bytes); --skip-large leaves it out";
        return;
      }
      return warn("cannot show " + path + ": larger than FAT's 4 GiB - 1 file limit; skipped");
    }
    n.size_bytes = size;
    e->kind = Entry::Kind::kNode;
  }

  // Adds a listed directory's entries to the tree, in name order.
  Status Merge(Listing* l, std::vector<uint32_t>* dirs) {
    if (!l->warning.empty()) {
      Warn(l->warning);
    }
    std::sort(l->order.begin(), l->order.end(), [l](uint32_t x, uint32_t y) {
      return l->entries[x].node.name < l->entries[y].node.name;
    });
    const auto first = static_cast<uint32_t>(tree_->nodes.size());
    for (uint32_t i : l->order) {
      Entry& e = l->entries[i];
      switch (e.kind) {
        case Entry::Kind::kPending:
          break;
        case Entry::Kind::kWarning:
          Warn(e.message);
          break;
        case Entry::Kind::kError:
          return UnsupportedError(e.message);
        case Entry::Kind::kNode:
          if (e.node.is_dir) {
            if (IsAncestor(l->dir, e.id)) {
              Warn("cannot follow " + l->path + "/" + e.node.name +
                   ": it loops back to a directory that contains it; skipped");
              break;
            }
            dirs->push_back(static_cast<uint32_t>(tree_->nodes.size()));
          }
          ids_.push_back(e.node.is_dir ? e.id : DirId{0, 0});
          tree_->nodes.push_back(std::move(e.node));
          break;
      }
    }
    tree_->nodes[l->dir].first_child = first;
    tree_->nodes[l->dir].child_count = static_cast<uint32_t>(tree_->nodes.size()) - first;
    return Status::Ok();
  }

  const ScanOptions& options_;
  Tree* tree_;
  const Credentials creds_;
  std::string root_real_;
  std::vector<DirId> ids_;  // parallel to tree_->nodes during the scan only
};

}  // namespace

std::string Tree::RelativePath(uint32_t i) const {
  std::string path;
  while (i != 0) {
    path = path.empty() ? nodes[i].name : nodes[i].name + "/" + path;
    i = nodes[i].parent;
  }
  return path;
}

std::string Tree::HostPath(uint32_t i) const {
  return i == 0 ? root_path : root_path + "/" + RelativePath(i);
}

Credentials Credentials::OfProcess() {
  Credentials c;
  c.uid = ::geteuid();
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) == 0) {
    const uint32_t effective = data[0].effective;
    c.read_any = (effective & (1U << CAP_DAC_OVERRIDE)) != 0 ||
                 (effective & (1U << CAP_DAC_READ_SEARCH)) != 0;
  }
  return c;
}

ReadAccess DecideReadAccess(const Credentials& c, uint32_t mode, uint32_t uid, uint32_t gid) {
  if (c.read_any) {
    // Capabilities count only for files whose ids map into our namespace.
    return uid != kOverflowId && gid != kOverflowId ? ReadAccess::kYes : ReadAccess::kAsk;
  }
  if (uid == c.uid) {
    // The owner class is the mode's owner bits, with or without an ACL.
    return (mode & S_IRUSR) != 0 ? ReadAccess::kYes : ReadAccess::kNo;
  }
  if ((mode & (S_IRGRP | S_IROTH)) == 0) {
    // Neither the group class (the ACL mask, with an ACL) nor others read.
    return ReadAccess::kNo;
  }
  // Named ACL entries may grant or refuse more than the group and other
  // bits say, whatever groups we are in: the kernel decides.
  return ReadAccess::kAsk;
}

Result<Tree> ScanTree(const std::string& root, const ScanOptions& options) {
  Tree tree;
  tree.root_path = root;
  Scanner scanner(options, &tree);
  IMGFS_RETURN_IF_ERROR(scanner.Run());
  return tree;
}

}  // namespace imgfs::vvfat
