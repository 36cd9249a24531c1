// SPDX-License-Identifier: MIT
// Reading the host tree once (see tree.h).
#include "vvfat/tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace imgfs::vvfat {
namespace {

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

std::string RealPath(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> p(::realpath(path.c_str(), nullptr), &std::free);
  return p ? std::string(p.get()) : std::string();
}

struct DirId {
  dev_t dev;
  ino_t ino;
};

class Scanner {
 public:
  Scanner(const ScanOptions& options, Tree* tree) : options_(options), tree_(tree) {}

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
    for (uint32_t i = 0; i < tree_->nodes.size(); ++i) {
      if (tree_->nodes[i].is_dir) {
        IMGFS_RETURN_IF_ERROR(ReadDir(i));
      }
    }
    return Status::Ok();
  }

 private:
  void Warn(const std::string& msg) const {
    if (options_.warn) {
      options_.warn(msg);
    }
  }

  static void FillTimes(const struct stat& st, Node* n) {
    n->mtime = st.st_mtim;
    n->atime = st.st_atim;
    n->btime = st.st_mtim;
  }

  // Times from statx: birth time where the file system records it, else
  // mtime.
  static void FillTimes(const struct statx& sx, Node* n) {
    n->mtime = {sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec};
    n->atime = {sx.stx_atime.tv_sec, sx.stx_atime.tv_nsec};
    n->btime = (sx.stx_mask & STATX_BTIME) != 0
                   ? timespec{sx.stx_btime.tv_sec, sx.stx_btime.tv_nsec}
                   : n->mtime;
  }

  static DirId IdOf(const struct statx& sx) {
    return {makedev(sx.stx_dev_major, sx.stx_dev_minor), sx.stx_ino};
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

  // One directory: its entries in name order. Entries are looked at
  // relative to the open directory (no path walk per file) and in inode
  // order, so that with cold caches the inode table is read in one sweep.
  Status ReadDir(uint32_t dir) {
    const std::string path = tree_->HostPath(dir);
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    std::unique_ptr<DIR, DirCloser> d(fd < 0 ? nullptr : ::fdopendir(fd));
    if (!d) {
      Warn("cannot read directory " + path + ": " + std::strerror(errno) + "; shown empty");
      if (fd >= 0) {
        ::close(fd);
      }
      return Status::Ok();
    }
    struct Entry {
      std::string name;
      ino_t ino = 0;
      int error = 0;  // errno of statx; 0 when sx holds the entry's
      struct statx sx {};
    };
    std::vector<Entry> entries;
    while (const struct dirent* e = ::readdir(d.get())) {
      std::string name = e->d_name;
      if (name != "." && name != "..") {
        entries.push_back({.name = std::move(name), .ino = e->d_ino});
      }
    }
    std::sort(entries.begin(), entries.end(),
              [](const Entry& x, const Entry& y) { return x.ino < y.ino; });
    for (Entry& e : entries) {
      constexpr unsigned kMask = STATX_BASIC_STATS | STATX_BTIME;
      if (::statx(fd, e.name.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, kMask, &e.sx) != 0) {
        e.error = errno;
      }
    }
    std::sort(entries.begin(), entries.end(),
              [](const Entry& x, const Entry& y) { return x.name < y.name; });
    const auto first = static_cast<uint32_t>(tree_->nodes.size());
    for (Entry& e : entries) {
      IMGFS_RETURN_IF_ERROR(AddEntry(dir, fd, path, std::move(e.name), e.error, e.sx));
    }
    tree_->nodes[dir].first_child = first;
    tree_->nodes[dir].child_count = static_cast<uint32_t>(tree_->nodes.size()) - first;
    return Status::Ok();
  }

  // `lsx` is the entry's own statx (not following a link), or `error`.
  Status AddEntry(uint32_t dir, int dir_fd, const std::string& dir_path, std::string name,
                  int error, const struct statx& lsx) {
    const std::string path = dir_path + "/" + name;
    if (error != 0) {
      Warn("cannot stat " + path + ": " + std::strerror(error) + "; skipped");
      return Status::Ok();
    }
    struct statx sx = lsx;
    if (S_ISLNK(lsx.stx_mode)) {
      if (::statx(dir_fd, name.c_str(), AT_NO_AUTOMOUNT, STATX_BASIC_STATS | STATX_BTIME, &sx) !=
          0) {
        Warn("cannot follow symbolic link " + path + ": " + std::strerror(errno) + "; skipped");
        return Status::Ok();
      }
      if (!LinkStaysInside(path)) {
        Warn("cannot follow symbolic link " + path + ": it leaves " + tree_->root_path +
             "; skipped");
        return Status::Ok();
      }
    }
    Node n;
    n.parent = dir;
    n.name = std::move(name);
    n.read_only = (sx.stx_mode & S_IWUSR) == 0;
    FillTimes(sx, &n);
    if (S_ISDIR(sx.stx_mode)) {
      if (IsAncestor(dir, IdOf(sx))) {
        Warn("cannot follow " + path + ": it loops back to a directory that contains it; skipped");
        return Status::Ok();
      }
      n.is_dir = true;
      n.read_only = false;  // FAT's read-only bit on a directory means nothing to most guests
      tree_->nodes.push_back(std::move(n));
      ids_.push_back(IdOf(sx));
      return Status::Ok();
    }
    if (!S_ISREG(sx.stx_mode)) {
      Warn("cannot show " + path + ": not a regular file or directory; skipped");
      return Status::Ok();
    }
    if (::faccessat(dir_fd, n.name.c_str(), R_OK, 0) != 0) {
      Warn("cannot read " + path + ": " + std::strerror(errno) + "; skipped");
      return Status::Ok();
    }
    const uint64_t size = sx.stx_size;
    if (size > kMaxFileBytes) {
      if (!options_.skip_large) {
        return UnsupportedError("vvfat: " + path + " is larger than FAT's 4 GiB - 1 file limit (" +
                                std::to_string(size) + " bytes); --skip-large leaves it out");
      }
      Warn("cannot show " + path + ": larger than FAT's 4 GiB - 1 file limit; skipped");
      return Status::Ok();
    }
    n.size_bytes = size;
    tree_->nodes.push_back(std::move(n));
    ids_.push_back({0, 0});
    return Status::Ok();
  }

  const ScanOptions& options_;
  Tree* tree_;
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

Result<Tree> ScanTree(const std::string& root, const ScanOptions& options) {
  Tree tree;
  tree.root_path = root;
  Scanner scanner(options, &tree);
  IMGFS_RETURN_IF_ERROR(scanner.Run());
  return tree;
}

}  // namespace imgfs::vvfat
