// SPDX-License-Identifier: MIT
// FUSE low-level callbacks over a MountContext. No format logic lives here:
// every question is answered from BlockDevice (Size, Read, Extents).
#include "fuse/ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>

#include "core/util/hex.h"
#include "fuse/allocation.h"
#include "fuse/errno_map.h"
#include "fuse/mount_context.h"
#include "fuse/uring.h"

namespace imgfs::fusefs {
namespace {

// Images are read-only, so the kernel may cache names and attributes long.
constexpr double kCacheTimeoutSeconds = 3600.0;
constexpr blksize_t kPreferredIoBytes = kMaxIoBytes;

const MountContext& Ctx(fuse_req_t req) {
  return *static_cast<const MountContext*>(fuse_req_userdata(req));
}

// The view behind `ino`, or nullptr for the root directory or an unknown ino.
const RawView* ViewOf(const MountContext& ctx, fuse_ino_t ino) {
  if (ctx.root_is_file) {
    return ino == FUSE_ROOT_ID ? ctx.views.front().get() : nullptr;
  }
  if (ino < 2 || ino - 2 >= ctx.views.size()) {
    return nullptr;
  }
  return ctx.views[ino - 2].get();
}

bool IsRootDir(const MountContext& ctx, fuse_ino_t ino) {
  return !ctx.root_is_file && ino == FUSE_ROOT_ID;
}

void FillTimes(const NodeAttr& a, struct stat* st) {
  st->st_atim = a.atime;
  st->st_mtim = a.mtime;
  st->st_ctim = a.ctime;
  st->st_uid = a.uid;
  st->st_gid = a.gid;
}

struct stat ViewStat(const RawView& view, fuse_ino_t ino) {
  struct stat st {};
  st.st_ino = ino;
  st.st_mode = S_IFREG | (view.attr().perm & 0555);
  st.st_nlink = 1;
  st.st_size = static_cast<off_t>(view.device().Size());
  st.st_blocks = static_cast<blkcnt_t>(view.Blocks512());
  st.st_blksize = kPreferredIoBytes;
  FillTimes(view.attr(), &st);
  return st;
}

struct stat RootDirStat(const MountContext& ctx) {
  struct stat st {};
  st.st_ino = FUSE_ROOT_ID;
  st.st_mode = S_IFDIR | (ctx.root_attr.perm & 0555);
  st.st_nlink = 2;
  FillTimes(ctx.root_attr, &st);
  return st;
}

void ReplyCurrentException(fuse_req_t req, const char* op) noexcept {
  int e = ErrnoFromCurrentException();
  std::fprintf(stderr, "imgfs: cannot %s: %s\n", op,
               e == ENOMEM ? "out of memory" : "internal error");
  fuse_reply_err(req, e);
}

void LogError(const RawView& view, const char* what, uint64_t offset, const Status& s) noexcept {
  if (view.FirstError()) {
    std::fprintf(stderr, "imgfs: cannot %s %s at %s: %s\n", what, view.name().c_str(),
                 Hex(offset).c_str(), s.message().c_str());
  }
}

// Raises the kernel's read-ahead for this mount to kMaxIoBytes, so that a
// buffered sequential reader sends 1 MiB requests instead of 128 KiB ones.
// The kernel takes the smaller of the bdi setting and INIT's max_readahead,
// and INIT can only lower it, so the bdi is raised first, while the INIT
// reply is not sent yet. Needs root; silently keeps the default otherwise.
void RaiseReadAhead(const MountContext& ctx, fuse_conn_info* conn) noexcept {
  conn->max_readahead = kMaxIoBytes;
  if (ctx.read_ahead_path.empty()) {
    return;
  }
  std::FILE* f = std::fopen(ctx.read_ahead_path.c_str(), "we");
  if (f != nullptr) {
    std::fprintf(f, "%u\n", kMaxIoBytes / 1024);
    std::fclose(f);
  }
}

void OpInit(void* userdata, fuse_conn_info* conn) noexcept {
  // libfuse derives max_pages from max_write, so this asks for 1 MiB reads.
  conn->max_write = kMaxIoBytes;
  RaiseReadAhead(*static_cast<const MountContext*>(userdata), conn);
  // The image does not change under us: keep cached pages across opens and
  // attribute refreshes.
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_AUTO_INVAL_DATA);
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept try {
  const MountContext& ctx = Ctx(req);
  if (!IsRootDir(ctx, parent)) {
    fuse_reply_err(req, ctx.root_is_file ? ENOTDIR : ENOENT);
    return;
  }
  std::string_view wanted(name);
  for (size_t i = 0; i < ctx.views.size(); ++i) {
    if (ctx.views[i]->name() == wanted) {
      fuse_entry_param e{};
      e.ino = i + 2;
      e.generation = 1;
      e.attr = ViewStat(*ctx.views[i], e.ino);
      e.attr_timeout = kCacheTimeoutSeconds;
      e.entry_timeout = kCacheTimeoutSeconds;
      fuse_reply_entry(req, &e);
      return;
    }
  }
  fuse_reply_err(req, ENOENT);
} catch (...) {
  ReplyCurrentException(req, "look up");
}

void OpGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* /*fi*/) noexcept try {
  const MountContext& ctx = Ctx(req);
  struct stat st {};
  if (IsRootDir(ctx, ino)) {
    st = RootDirStat(ctx);
  } else if (const RawView* view = ViewOf(ctx, ino)) {
    st = ViewStat(*view, ino);
  } else {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fuse_reply_attr(req, &st, kCacheTimeoutSeconds);
} catch (...) {
  ReplyCurrentException(req, "stat");
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept {
  const MountContext& ctx = Ctx(req);
  if (ViewOf(ctx, ino) == nullptr) {
    fuse_reply_err(req, IsRootDir(ctx, ino) ? EISDIR : ENOENT);
    return;
  }
  if ((fi->flags & O_ACCMODE) != O_RDONLY) {
    fuse_reply_err(req, EROFS);
    return;
  }
  fi->keep_cache = 1;
  fuse_reply_open(req, fi);
}

// A per-thread buffer of at least `bytes` for read replies: no allocation
// per request. It grows to the largest request the thread served (the
// kernel sends at most max_read, 1 MiB) and lives as long as the thread.
// On an io_uring thread the reply is built in the ring's own payload buffer
// instead, so it is not copied there afterwards (fuse/uring.h).
std::span<std::byte> ReplyBuffer(size_t bytes) {
  if (std::span<std::byte> ring = UringTransport::ReplySpace(bytes); !ring.empty()) {
    return ring;
  }
  thread_local std::unique_ptr<std::byte[]> buffer;
  thread_local size_t capacity = 0;
  if (capacity < bytes) {
    buffer.reset();
    buffer = std::make_unique_for_overwrite<std::byte[]>(bytes);
    capacity = bytes;
  }
  return {buffer.get(), bytes};
}

void OpRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* /*fi*/) noexcept
    try {
  const RawView* view = ViewOf(Ctx(req), ino);
  if (view == nullptr) {
    fuse_reply_err(req, EBADF);
    return;
  }
  const uint64_t dev_size = view->device().Size();
  if (off < 0) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  const auto offset = static_cast<uint64_t>(off);
  if (offset >= dev_size || size == 0) {
    fuse_reply_buf(req, nullptr, 0);
    return;
  }
  const auto n = static_cast<size_t>(std::min<uint64_t>(size, dev_size - offset));
  std::span<std::byte> buf = ReplyBuffer(n);
  Status s = view->device().Read(offset, buf);
  if (!s.ok()) {
    LogError(*view, "read", offset, s);
    fuse_reply_err(req, ErrnoFromStatus(s));
    return;
  }
  fuse_reply_buf(req, reinterpret_cast<const char*>(buf.data()), n);
} catch (...) {
  ReplyCurrentException(req, "read");
}

void OpLseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info* /*fi*/) noexcept
    try {
  const RawView* view = ViewOf(Ctx(req), ino);
  if (view == nullptr) {
    fuse_reply_err(req, EBADF);
    return;
  }
  if ((whence != SEEK_DATA && whence != SEEK_HOLE) || off < 0) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  const auto offset = static_cast<uint64_t>(off);
  auto found = SeekAllocation(view->device(), offset, whence == SEEK_DATA);
  if (!found.ok()) {
    LogError(*view, "map", offset, found.status());
    fuse_reply_err(req, ErrnoFromStatus(found.status()));
    return;
  }
  if (!found->has_value()) {
    fuse_reply_err(req, ENXIO);
    return;
  }
  fuse_reply_lseek(req, static_cast<off_t>(**found));
} catch (...) {
  ReplyCurrentException(req, "seek");
}

void OpOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept {
  const MountContext& ctx = Ctx(req);
  if (!IsRootDir(ctx, ino)) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  fi->cache_readdir = 1;
  fi->keep_cache = 1;
  fuse_reply_open(req, fi);
}

// Adds entry number `index` (0 ".", 1 "..", then the views) to `buf`;
// returns false when it does not fit.
bool AddDirEntry(fuse_req_t req, const MountContext& ctx, size_t index, std::string& buf,
                 size_t max_bytes) {
  struct stat st {};
  const char* name = nullptr;
  if (index < 2) {
    st = RootDirStat(ctx);
    name = index == 0 ? "." : "..";
  } else {
    st.st_ino = index;
    st.st_mode = S_IFREG;
    name = ctx.views[index - 2]->name().c_str();
  }
  size_t used = buf.size();
  size_t need = fuse_add_direntry(req, nullptr, 0, name, nullptr, 0);
  if (used + need > max_bytes) {
    return false;
  }
  buf.resize(used + need);
  fuse_add_direntry(req, buf.data() + used, need, name, &st, static_cast<off_t>(index + 1));
  return true;
}

void OpReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
               fuse_file_info* /*fi*/) noexcept try {
  const MountContext& ctx = Ctx(req);
  if (!IsRootDir(ctx, ino)) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  std::string buf;
  const size_t count = ctx.views.size() + 2;
  for (auto i = static_cast<size_t>(std::max<off_t>(off, 0)); i < count; ++i) {
    if (!AddDirEntry(req, ctx, i, buf, size)) {
      break;
    }
  }
  fuse_reply_buf(req, buf.data(), buf.size());
} catch (...) {
  ReplyCurrentException(req, "list");
}

void OpStatfs(fuse_req_t req, fuse_ino_t /*ino*/) noexcept {
  const MountContext& ctx = Ctx(req);
  struct statvfs sv {};
  sv.f_bsize = 512;
  sv.f_frsize = 512;
  for (const auto& view : ctx.views) {
    sv.f_blocks += (view->device().Size() + 511) / 512;
  }
  sv.f_files = ctx.views.size() + 1;
  sv.f_namemax = 255;
  fuse_reply_statfs(req, &sv);
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops{};
  ops.init = OpInit;
  ops.lookup = OpLookup;
  ops.getattr = OpGetattr;
  ops.open = OpOpen;
  ops.read = OpRead;
  ops.lseek = OpLseek;
  ops.opendir = OpOpendir;
  ops.readdir = OpReaddir;
  ops.statfs = OpStatfs;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& LowlevelOps() {
  static const fuse_lowlevel_ops kOps = MakeOps();
  return kOps;
}

uint64_t RawView::Blocks512() const {
  std::call_once(blocks_once_, [this] {
    auto data = DataBytes(*device_);
    uint64_t bytes = data.ok() ? *data : device_->Size();
    blocks512_ = (bytes + 511) / 512;
  });
  return blocks512_;
}

}  // namespace imgfs::fusefs
