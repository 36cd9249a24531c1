// SPDX-License-Identifier: MIT
// imgfs fat: a host directory as a read-only FAT disk, MOUNTPOINT/disk.img.
// The layout is computed once here (vvfat/), then the disk is served by the
// same FUSE machinery as `imgfs mount`, as one raw view.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/exec/thread_pool.h"
#include "fuse/cli/commands.h"
#include "fuse/cli/common.h"
#include "fuse/session.h"
#include "vvfat/device.h"

namespace imgfs::cli {
namespace {

constexpr const char* kFatHelp =
    "usage: imgfs fat [options] DIR MOUNTPOINT\n"
    "\n"
    "Shows DIR's tree as MOUNTPOINT/disk.img, a read-only disk with one FAT\n"
    "file system (an MBR and one partition, unless --no-mbr or --floppy),\n"
    "ready for 'qemu -drive file=MOUNTPOINT/disk.img,format=raw', mtools or\n"
    "'mount -o loop,ro'. The layout is computed once at mount and is fixed:\n"
    "file contents are read from DIR at read time, and a file that shrinks\n"
    "afterwards reads as zeros past its new end (logged). Names FAT cannot\n"
    "hold are changed (bad characters and trailing dots or spaces become '_',\n"
    "names equal but for case get '~2', '~3' ...). Symbolic links are\n"
    "followed while they stay inside DIR; links that leave DIR, dangle or\n"
    "loop, special files and unreadable files are skipped with a warning.\n"
    "\n"
    "  --fat-type 12|16|32  the FAT type (default: by the disk's size, as\n"
    "                       Microsoft's format chooses); the cluster count\n"
    "                       always matches the type\n"
    "  --size SIZE          the disk's size (K/M/G/T suffixes; default: the\n"
    "                       tree plus 1 MiB plus 1/8 of its file bytes)\n"
    "  --floppy[=SIZE]      a standard floppy without MBR: 360K, 720K, 1.2M,\n"
    "                       1.44M (the default) or 2.88M\n"
    "  --no-mbr             the FAT volume alone, without a partition table\n"
    "  --label LABEL        volume label (up to 11 characters)\n"
    "  --cluster-size SIZE  cluster size, a power of two from 512 to 64K\n"
    "  --skip-large         leave out files over 4 GiB - 1 (listed) instead\n"
    "                       of refusing the tree\n"
    "  -d                   list every name shown differently from the host's\n"
    "  -f                   stay in the foreground\n"
    "  -o OPT[,OPT...]      FUSE mount options (allow_other, ...)\n"
    "  -h, --help           show this help\n"
    "\n"
    "Unmount with 'imgfs umount MOUNTPOINT'.\n";

constexpr OptionSpec kSpecs[] = {
    {"fat-type", 0, true},      {"size", 0, true},        {"floppy", 0, false},
    {"floppy-size", 0, true},   {"no-mbr", 0, false},     {"label", 0, true},
    {"cluster-size", 0, true},  {"skip-large", 0, false}, {"list-names", 'd', false},
    {"foreground", 'f', false}, {"options", 'o', true},   {"help", 'h', false},
};

Result<uint64_t> ParseFloppy(const std::string& text) {
  static constexpr std::pair<const char*, uint64_t> kNames[] = {
      {"360K", 368640},   {"720K", 737280},   {"1.2M", 1228800},  {"1200K", 1228800},
      {"1.44M", 1474560}, {"1440K", 1474560}, {"2.88M", 2949120}, {"2880K", 2949120},
  };
  for (const auto& [name, bytes] : kNames) {
    if (text == name) {
      return bytes;
    }
  }
  return InvalidArgumentError("--floppy: '" + text + "' is not 360K, 720K, 1.2M, 1.44M or 2.88M");
}

// Options to DiskOptions; a usage error message on failure.
Result<vvfat::DiskOptions> ToDiskOptions(const ParsedArgs& a) {
  vvfat::DiskOptions o;
  if (auto t = a.Value("fat-type")) {
    if (*t == "12") {
      o.plan.type = vvfat::FatType::kFat12;
    } else if (*t == "16") {
      o.plan.type = vvfat::FatType::kFat16;
    } else if (*t == "32") {
      o.plan.type = vvfat::FatType::kFat32;
    } else {
      return InvalidArgumentError("--fat-type: '" + *t + "' is not 12, 16 or 32");
    }
  }
  if (auto s = a.Value("size")) {
    auto bytes = ParseSize(*s);
    if (!bytes.ok()) {
      return bytes.status().Annotate("--size");
    }
    o.plan.disk_bytes = *bytes;
  }
  if (auto c = a.Value("cluster-size")) {
    auto bytes = ParseSize(*c);
    if (!bytes.ok() || *bytes > UINT32_MAX) {
      return InvalidArgumentError("--cluster-size: '" + *c + "' is not a size");
    }
    o.plan.cluster_bytes = static_cast<uint32_t>(*bytes);
  }
  if (a.Has("floppy")) {
    auto bytes = ParseFloppy(a.Value("floppy-size").value_or("1.44M"));
    if (!bytes.ok()) {
      return bytes.status();
    }
    if (a.Has("size") || a.Has("cluster-size") ||
        (o.plan.type && *o.plan.type != vvfat::FatType::kFat12)) {
      return InvalidArgumentError(
          "--floppy sets the size and type; it goes without --size, "
          "--cluster-size and --fat-type 16/32");
    }
    o.plan.floppy_bytes = *bytes;
    o.plan.mbr = false;
  }
  if (a.Has("no-mbr")) {
    o.plan.mbr = false;
  }
  o.label = a.Value("label").value_or("");
  o.skip_large = a.Has("skip-large");
  return o;
}

// "--floppy=SIZE" becomes "--floppy --floppy-size SIZE": the option parser
// has no options with optional values.
std::vector<std::string> SplitFloppy(std::span<char* const> args) {
  std::vector<std::string> out;
  for (std::string_view arg : args) {
    if (arg.starts_with("--floppy=")) {
      out.emplace_back("--floppy");
      out.emplace_back("--floppy-size");
      out.emplace_back(arg.substr(9));
    } else {
      out.emplace_back(arg);
    }
  }
  return out;
}

int Serve(const ParsedArgs& args, vvfat::DiskOptions options) {
  const std::string& dir = args.positional[0];
  const std::string& mountpoint = args.positional[1];
  struct stat mst {};
  if (::stat(mountpoint.c_str(), &mst) != 0) {
    PrintError(mountpoint,
               IOError("cannot use as mountpoint: " + std::string(std::strerror(errno)), errno));
    return kExitFailure;
  }
  if (!S_ISDIR(mst.st_mode)) {
    PrintError(mountpoint, InvalidArgumentError("cannot use as mountpoint: not a directory"));
    return kExitFailure;
  }
  size_t renamed = 0;
  const bool list = args.Has("list-names");
  options.warn = [](const std::string& w) {
    std::fprintf(stderr, "imgfs: warning: %s\n", w.c_str());
  };
  options.renamed = [&renamed, list, &dir](const std::string& r) {
    ++renamed;
    if (list) {
      std::fprintf(stderr, "imgfs: note: %s/%s\n", dir.c_str(), r.c_str());
    }
  };
  // Workers for the scan only, gone before the mount daemonizes (forks);
  // the calling thread takes part (PoolThreads: cores - 1).
  std::optional<ThreadPool> pool;
  if (const unsigned threads = PoolThreads(); threads > 0) {
    options.pool = &pool.emplace(threads);
  }
  auto disk = vvfat::OpenFatDisk(dir, options, [](const std::string& msg) {
    std::fprintf(stderr, "imgfs: warning: %s\n", msg.c_str());
  });
  pool.reset();
  options.pool = nullptr;
  if (!disk.ok()) {
    PrintError(dir, disk.status());
    return kExitFailure;
  }
  if (renamed > 0 && !list) {
    std::fprintf(stderr, "imgfs: note: %s: %zu names are shown changed for FAT (-d lists them)\n",
                 dir.c_str(), renamed);
  }
  struct stat dst {};
  (void)::stat(dir.c_str(), &dst);
  auto ctx = std::make_unique<fusefs::MountContext>();
  ctx->cache = std::make_unique<Cache>(kDefaultCacheBytes);
  fusefs::NodeAttr attr;
  attr.uid = dst.st_uid;
  attr.gid = dst.st_gid;
  attr.perm = 0444;
  attr.atime = dst.st_atim;
  attr.mtime = dst.st_mtim;
  attr.ctime = dst.st_ctim;
  ctx->views.push_back(std::make_unique<fusefs::RawView>("disk.img", std::move(*disk), attr));
  ctx->root_attr = attr;
  ctx->root_attr.perm = 0555;
  fusefs::SessionOptions so;
  so.mountpoint = mountpoint;
  so.foreground = args.Has("foreground");
  so.fuse_options = args.Values("options");
  Status s = fusefs::MountAndServe(std::move(ctx), so);
  if (!s.ok()) {
    PrintError(mountpoint, s);
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

int RunFat(std::span<char* const> args) {
  std::vector<std::string> split = SplitFloppy(args);
  std::vector<char*> argv;
  for (std::string& a : split) {
    argv.push_back(a.data());
  }
  auto parsed = ParseArgs(argv, kSpecs);
  if (!parsed.ok()) {
    return UsageError("fat", parsed.status().message());
  }
  if (parsed->Has("help")) {
    std::fputs(kFatHelp, stdout);
    return kExitOk;
  }
  if (parsed->positional.size() != 2) {
    return UsageError("fat", "expected DIR MOUNTPOINT");
  }
  auto options = ToDiskOptions(*parsed);
  if (!options.ok()) {
    return UsageError("fat", options.status().message());
  }
  return Serve(*parsed, std::move(*options));
}

}  // namespace imgfs::cli
