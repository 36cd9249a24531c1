// SPDX-License-Identifier: MIT
// imgfs mount: opens every image first (any failure stops here, before
// anything is mounted), then mounts them as raw views and serves.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/partition/partition_table.h"
#include "formats/open.h"
#include "formats/registry.h"
#include "fuse/cli/commands.h"
#include "fuse/cli/common.h"
#include "fuse/cli/mount_plan.h"
#include "fuse/session.h"

namespace imgfs::cli {
namespace {

using fusefs::MountContext;
using fusefs::NodeAttr;
using fusefs::RawView;

// The help before --as and after it; the --as formats come from the
// registry's virtual views.
constexpr const char* kMountHelpHead =
    "usage: imgfs mount [options] IMAGE... MOUNTPOINT\n"
    "\n"
    "Shows each IMAGE as a read-only raw file. When MOUNTPOINT is a directory\n"
    "each image appears as MOUNTPOINT/<stem>.raw (disk.raw, disk-2.raw, ...).\n"
    "When MOUNTPOINT is a regular file and there is one IMAGE, that file\n"
    "itself becomes the raw view. An IMAGE that is a directory contributes\n"
    "its regular files (not recursively) that either end in .img, .raw or\n"
    ".iso, or whose first bytes carry an image signature; files that cannot\n"
    "be read are skipped with a warning. Each view shows the image file's\n"
    "owner and mode without write bits, and the kernel enforces them.\n"
    "\n"
    "  -f                  stay in the foreground\n"
    "  -d                  debug: log every FUSE request (implies -f)\n"
    "  -o OPT[,OPT...]     FUSE mount options (allow_other, ...)\n"
    "  --format FMT        do not probe; open every IMAGE as FMT\n"
    "  --cache-size SIZE   cache of metadata and decompressed data shared by\n"
    "                      all images (K/M/G suffixes; default 64M)\n"
    "  --readonly          read-only views (the default)\n"
    "  --rw                writable views (not available yet)\n"
    "  --no-backing        show only the top layer of backing chains\n"
    "  --confine-backing   refuse backing files outside the image's directory\n"
    "  --snapshots         also show each internal snapshot as\n"
    "                      <stem>@<snapshot name>.raw\n"
    "  --partitions        also show each partition (MBR, GPT or Apple map) as\n"
    "                      <stem>.p<N>.raw, numbered as Linux numbers them;\n"
    "                      a damaged table leaves just the whole disk, with a\n"
    "                      warning (needs a directory MOUNTPOINT)\n";
constexpr const char* kMountHelpTail =
    "  -h, --help          show this help\n"
    "\n"
    "Unmount with 'imgfs umount MOUNTPOINT', or stop the process (SIGINT or\n"
    "SIGTERM unmounts cleanly).\n";

constexpr OptionSpec kSpecs[] = {
    {"foreground", 'f', false},
    {"debug", 'd', false},
    {"options", 'o', true},
    {"format", 0, true},
    {"cache-size", 0, true},
    {"readonly", 0, false},
    {"rw", 0, false},
    {"no-backing", 0, false},
    {"confine-backing", 0, false},
    {"snapshots", 0, false},
    {"partitions", 0, false},
    {"help", 'h', false},
    {"as", 0, true},
    IMGFS_CLI_KEY_OPTION_SPECS,
};

// What --as accepts: raw and every format with a virtual view.
std::vector<std::string_view> Presentations() { return RawAnd(VirtualViewNames()); }

std::string MountHelp() {
  constexpr size_t kHelpColumn = 22;  // where option descriptions start
  std::string as = "  --as " + JoinNames(Presentations(), "|");
  as.resize(std::max(as.size() + 1, kHelpColumn), ' ');
  std::string help = kMountHelpHead + as +
                     "how to show each image: raw (the default),\n"
                     "                      or as <stem>.FMT, an image of format FMT\n"
                     "                      computed on the fly (not with --partitions):\n";
  for (std::string_view name : VirtualViewNames()) {
    AppendIndented(std::string(name) + ": " + std::string(FindVirtualView(name)->help),
                   "                        ", &help);
  }
  return help + kMountHelpTail + std::string(kKeyOptionsHelp);
}

// How a view presents its device: the raw bytes, or a format's virtual view
// of them (--as FMT).
struct Presentation {
  const VirtualView* view = nullptr;  // null: raw
  std::string suffix = ".raw";
  Result<std::unique_ptr<BlockDevice>> Wrap(std::unique_ptr<BlockDevice> dev) const {
    if (view == nullptr) {
      return dev;
    }
    return view->make(std::move(dev));
  }
};

NodeAttr AttrFromStat(const struct stat& st) {
  NodeAttr a;
  a.uid = st.st_uid;
  a.gid = st.st_gid;
  a.perm = st.st_mode & 0555;
  a.atime = st.st_atim;
  a.mtime = st.st_mtim;
  a.ctime = st.st_ctim;
  return a;
}

// Adds <stem>@<name>.raw views for the internal snapshots of `dev`.
Status AddSnapshotViews(const BlockDevice& dev, const std::string& stem, const NodeAttr& attr,
                        const Presentation& how, UniqueNamer& namer, MountContext* ctx) {
  for (const SnapshotInfo& snap : dev.Describe().snapshots) {
    const std::string& key = snap.name.empty() ? snap.id : snap.name;
    IMGFS_ASSIGN_OR_RETURN(std::unique_ptr<BlockDevice> view, dev.OpenSnapshot(key));
    IMGFS_ASSIGN_OR_RETURN(view, how.Wrap(std::move(view)));
    ctx->views.push_back(
        std::make_unique<RawView>(namer.Take(stem + "@" + key, how.suffix), std::move(view), attr));
  }
  return Status::Ok();
}

// Adds <stem>.p<N>.raw windows for the partitions of `disk`, named after
// the disk's own view ("disk-2.raw" gives "disk-2.p1.raw"). A table that cannot be read is a
// warning, not a failure: the whole disk stays mounted (the other images too) and is what a user
// needs to look at a damaged table. Notes are printed as they are.
void AddPartitionViews(const std::string& path, const RawView& disk, const NodeAttr& attr,
                       UniqueNamer& namer, MountContext* ctx) {
  auto table = ReadPartitionTable(disk.device());
  if (!table.ok()) {
    std::fprintf(stderr,
                 "imgfs: warning: %s: cannot read partition table: %s; showing the whole "
                 "disk only\n",
                 path.c_str(), table.status().message().c_str());
    return;
  }
  for (const std::string& note : table->notes) {
    std::fprintf(stderr, "imgfs: note: %s: %s\n", path.c_str(), note.c_str());
  }
  if (table->scheme == PartitionScheme::kNone) {
    std::fprintf(stderr, "imgfs: note: %s: no partition table; showing the whole disk only\n",
                 path.c_str());
  }
  for (const Partition& p : table->partitions) {
    ctx->views.push_back(std::make_unique<RawView>(
        namer.Take(PartitionStem(disk.name(), p.number), ".raw"),
        NewSliceDevice(&disk.device(), p.start_bytes, p.length_bytes), attr));
  }
}

// --as FMT: <stem>.FMT (and <stem>@<snapshot>.FMT) over `dev`. Snapshots
// open from the image's own device before it is wrapped; the image's view
// stays ahead of them in the list, as with raw views.
Status AddVirtualViews(std::unique_ptr<BlockDevice> dev, const std::string& stem,
                       const NodeAttr& attr, bool snapshots, const Presentation& how,
                       UniqueNamer& namer, MountContext* ctx) {
  std::string name = namer.Take(stem, how.suffix);
  const size_t first = ctx->views.size();
  if (snapshots) {
    Status s = AddSnapshotViews(*dev, stem, attr, how, namer, ctx);
    if (!s.ok()) {
      return s.Annotate("cannot open snapshot");
    }
  }
  IMGFS_ASSIGN_OR_RETURN(std::unique_ptr<BlockDevice> shown, how.Wrap(std::move(dev)));
  ctx->views.insert(ctx->views.begin() + static_cast<std::ptrdiff_t>(first),
                    std::make_unique<RawView>(std::move(name), std::move(shown), attr));
  return Status::Ok();
}

// Opens every image into ctx; prints the one-line error and returns the
// exit status on the first failure, kExitOk when all opened. A passphrase
// typed for one image stays in `options` for the next.
int OpenViews(const std::vector<std::string>& paths, OpenOptions* options, bool snapshots,
              bool partitions, const Presentation& how, MountContext* ctx) {
  UniqueNamer namer;
  for (const std::string& path : paths) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      PrintError(path, IOError(std::string("cannot stat: ") + std::strerror(errno), errno));
      return kExitFailure;
    }
    auto dev = OpenImageAsking(path, options, ctx->cache.get());
    if (!dev.ok()) {
      PrintError(path, dev.status());
      return OpenFailureExit(dev.status());
    }
    NodeAttr attr = AttrFromStat(st);
    std::string stem = StemOf(path);
    if (how.view != nullptr) {
      Status s = AddVirtualViews(std::move(*dev), stem, attr, snapshots, how, namer, ctx);
      if (!s.ok()) {
        PrintError(path, s);
        return kExitFailure;
      }
      continue;
    }
    auto view = std::make_unique<RawView>(namer.Take(stem, ".raw"), std::move(*dev), attr);
    const RawView& disk = *view;
    const BlockDevice& device = view->device();
    ctx->views.push_back(std::move(view));
    if (partitions) {
      AddPartitionViews(path, disk, attr, namer, ctx);
    }
    if (snapshots) {
      Status s = AddSnapshotViews(device, stem, attr, how, namer, ctx);
      if (!s.ok()) {
        PrintError(path, s.Annotate("cannot open snapshot"));
        return kExitFailure;
      }
    }
  }
  return kExitOk;
}

// IMGFS_FUSE_LOOP=single|multi[:N] overrides the request loop; it exists
// for the measurements in fuse/LOOP.md.
void ApplyLoopOverride(fusefs::SessionOptions* o) {
  // IMGFS_FUSE_URING=0 keeps every request on /dev/fuse (fuse/uring.h).
  if (const char* u = std::getenv("IMGFS_FUSE_URING"); u != nullptr && std::string(u) == "0") {
    o->uring = false;
  }
  const char* env = std::getenv("IMGFS_FUSE_LOOP");
  if (env == nullptr) {
    return;
  }
  std::string v(env);
  if (v == "single") {
    o->loop = fusefs::LoopKind::kSingle;
  } else if (v.starts_with("multi")) {
    o->loop = fusefs::LoopKind::kMulti;
    if (v.size() > 6 && v[5] == ':') {
      o->threads = static_cast<unsigned>(std::max(1, std::atoi(v.c_str() + 6)));
    }
  }
}

int Mount(const ParsedArgs& args, uint64_t cache_bytes) {
  std::vector<std::string> images(args.positional.begin(), args.positional.end() - 1);
  const std::string& mountpoint = args.positional.back();
  struct stat mst {};
  if (::stat(mountpoint.c_str(), &mst) != 0) {
    PrintError(mountpoint,
               IOError("cannot use as mountpoint: " + std::string(std::strerror(errno)), errno));
    return kExitFailure;
  }
  bool file_mode = S_ISREG(mst.st_mode);
  if (!file_mode && !S_ISDIR(mst.st_mode)) {
    PrintError(mountpoint,
               InvalidArgumentError("mountpoint must be a directory or a regular file"));
    return kExitFailure;
  }
  auto paths = ExpandImageArgs(images);
  if (!paths.ok()) {
    PrintError(paths.status().message());
    return kExitFailure;
  }
  if (file_mode && args.Has("partitions")) {
    PrintError(mountpoint,
               InvalidArgumentError("--partitions needs a directory mountpoint, not a file"));
    return kExitFailure;
  }
  if (file_mode && paths->size() != 1) {
    PrintError(mountpoint,
               InvalidArgumentError("a regular-file mountpoint takes exactly one image"));
    return kExitFailure;
  }
  OpenOptions options;
  options.format = args.Value("format").value_or("");
  options.follow_backing = !args.Has("no-backing");
  options.confine_backing = args.Has("confine-backing");
  ApplyHostIoEnvironment(&options);
  if (Status keys = ApplyKeyOptions(args, &options); !keys.ok()) {
    PrintError(keys.message());
    return kExitFailure;
  }
  if (!options.detached_header.empty() && paths->size() != 1) {
    PrintError(InvalidArgumentError("--header applies to exactly one image").message());
    return kExitFailure;
  }
  auto ctx = std::make_unique<MountContext>();
  ctx->cache = std::make_unique<Cache>(cache_bytes);
  if (unsigned threads = PoolThreads(); threads > 0) {
    options.pool = &ctx->pool.emplace(threads);
  }
  Presentation how;
  if (auto as = args.Value("as"); as && *as != "raw") {
    how.view = FindVirtualView(*as);
    how.suffix = "." + *as;
  }
  if (int rc = OpenViews(*paths, &options, args.Has("snapshots") && !file_mode,
                         args.Has("partitions"), how, ctx.get());
      rc != kExitOk) {
    return rc;
  }
  ctx->root_is_file = file_mode;
  ctx->root_attr = AttrFromStat(mst);
  fusefs::SessionOptions so;
  so.mountpoint = mountpoint;
  so.debug = args.Has("debug");
  so.foreground = args.Has("foreground") || so.debug;
  so.fuse_options = args.Values("options");
  ApplyLoopOverride(&so);
  Status s = fusefs::MountAndServe(std::move(ctx), so);
  if (!s.ok()) {
    PrintError(mountpoint, s);
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

int RunMount(std::span<char* const> args) {
  auto parsed = ParseArgs(args, kSpecs);
  if (!parsed.ok()) {
    return UsageError("mount", parsed.status().message());
  }
  if (parsed->Has("help")) {
    std::fputs(MountHelp().c_str(), stdout);
    return kExitOk;
  }
  if (parsed->Has("rw")) {
    PrintError("--rw: writable mounts come in a later release");
    return kExitUsage;
  }
  if (parsed->positional.size() < 2) {
    return UsageError("mount", "expected IMAGE... MOUNTPOINT");
  }
  if (auto as = parsed->Value("as"); as && *as != "raw") {
    if (FindVirtualView(*as) == nullptr) {
      return UsageError("mount",
                        "--as: '" + *as + "' is not " + JoinNames(Presentations(), " or "));
    }
    if (parsed->Has("partitions")) {
      return UsageError("mount", "--partitions shows raw windows; it does not go with --as " + *as);
    }
  }
  uint64_t cache_bytes = kDefaultCacheBytes;
  if (auto text = parsed->Value("cache-size")) {
    auto size = ParseSize(*text);
    if (!size.ok()) {
      return UsageError("mount", "--cache-size: " + size.status().message());
    }
    cache_bytes = *size;
  }
  return Mount(*parsed, cache_bytes);
}

}  // namespace imgfs::cli
