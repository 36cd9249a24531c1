// SPDX-License-Identifier: MIT
#include "formats/open.h"

#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "core/forwarding_device.h"
#include "formats/dmg/sparsebundle.h"
#include "formats/registry.h"

namespace imgfs {
namespace {

namespace fs = std::filesystem;

// The state one chain shares while it is being opened.
struct Chain {
  OpenOptions options;
  Cache* cache = nullptr;
  std::string confine_dir;           // realpath of the top image's directory
  std::vector<std::string> visited;  // realpaths, top first
};

std::string DirOf(const std::string& path) {
  fs::path p(path);
  fs::path parent = p.parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

std::string Resolve(const std::string& image_path, const std::string& ref) {
  if (!ref.empty() && ref[0] == '/') {
    return ref;
  }
  std::string dir = DirOf(image_path);
  return dir == "." ? ref : dir + "/" + ref;
}

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    return path;
  }
  return buf;
}

bool IsWithin(const std::string& path, const std::string& dir) {
  if (dir == "/") {
    return true;
  }
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

Result<std::unique_ptr<BlockDevice>> OpenWithDriver(std::unique_ptr<File> file,
                                                    const std::string& format,
                                                    const OpenContext& ctx) {
  IMGFS_ASSIGN_OR_RETURN(ProbeBuffers probe, ReadProbeBuffers(*file));
  const FormatDriver* driver = nullptr;
  std::string note;
  if (!format.empty()) {
    driver = FindFormat(format);
    if (driver == nullptr) {
      return InvalidArgumentError("unknown format '" + format + "'");
    }
  } else {
    IMGFS_ASSIGN_OR_RETURN(ProbeResult pr, ProbeFormat(probe.input(), ctx.path));
    driver = pr.driver;
    note = pr.note;
  }
  auto dev = driver->open(std::move(file), ctx);
  if (!dev.ok()) {
    return dev.status();
  }
  if (!note.empty()) {
    // Notes travel through Describe(); wrap to add ours without touching the driver.
    struct Noted final : ForwardingBlockDevice {
      Noted(std::unique_ptr<BlockDevice> inner, std::string n)
          : ForwardingBlockDevice(std::move(inner)), note(std::move(n)) {}
      ImageInfo Describe() const override {
        ImageInfo i = target().Describe();
        i.notes.push_back(note);
        return i;
      }
      std::string note;
    };
    auto noted = std::make_unique<Noted>(std::move(*dev), note);
    return std::unique_ptr<BlockDevice>(std::move(noted));
  }
  return dev;
}

Result<std::unique_ptr<BlockDevice>> OpenInChain(const std::string& path, const std::string& format,
                                                 const std::shared_ptr<Chain>& chain, int depth);

OpenContext MakeContext(const std::string& path, const std::shared_ptr<Chain>& chain, int depth) {
  OpenContext ctx;
  ctx.options = &chain->options;
  ctx.cache = chain->cache;
  ctx.path = path;
  ctx.depth = depth;
  ctx.resolve = [path](const std::string& ref) { return Resolve(path, ref); };
  ctx.open_backing = [path, chain, depth](
                         const std::string& ref,
                         const std::string& fmt) -> Result<std::unique_ptr<BlockDevice>> {
    if (ref.rfind("json:", 0) == 0 || ref.find("://") != std::string::npos) {
      return UnsupportedError(path + ": backing file '" + ref +
                              "' is a protocol or json: name, which imgfs does not open");
    }
    if (depth + 1 >= chain->options.max_chain_depth) {
      return InvalidArgumentError(path + ": backing chain is deeper than " +
                                  std::to_string(chain->options.max_chain_depth) + " images");
    }
    std::string resolved = Resolve(path, ref);
    std::string real = RealPath(resolved);
    if (chain->options.confine_backing && !IsWithin(real, chain->confine_dir)) {
      return PermissionError(path + ": backing file '" + ref + "' lies outside " +
                             chain->confine_dir + " (--confine-backing)");
    }
    if (std::find(chain->visited.begin(), chain->visited.end(), real) != chain->visited.end()) {
      return InvalidArgumentError(path + ": backing chain loops back to " + resolved);
    }
    auto dev = OpenInChain(resolved, fmt, chain, depth + 1);
    if (!dev.ok()) {
      return dev.status().Annotate("cannot open backing file of " + path);
    }
    return dev;
  };
  ctx.open_aux_file = [path, chain](const std::string& ref) -> Result<std::unique_ptr<File>> {
    std::string resolved = Resolve(path, ref);
    if (chain->options.confine_backing && !IsWithin(RealPath(resolved), chain->confine_dir)) {
      return PermissionError(path + ": file '" + ref + "' lies outside " + chain->confine_dir +
                             " (--confine-backing)");
    }
    return OpenPosixFile(resolved, {.writable = chain->options.writable,
                                    .direct_read_ahead = chain->options.direct_read_ahead});
  };
  return ctx;
}

Result<std::unique_ptr<BlockDevice>> OpenInChain(const std::string& path, const std::string& format,
                                                 const std::shared_ptr<Chain>& chain, int depth) {
  // A sparse bundle is a directory, so it is recognised by path, not probed.
  if (format == "sparsebundle" || (format.empty() && dmg::IsSparseBundle(path))) {
    return dmg::OpenSparseBundle(path);
  }
  // Backing images are always opened read-only.
  IMGFS_ASSIGN_OR_RETURN(
      std::unique_ptr<File> file,
      OpenPosixFile(path, {.writable = depth == 0 && chain->options.writable,
                           .direct_read_ahead = chain->options.direct_read_ahead}));
  chain->visited.push_back(RealPath(path));
  OpenContext ctx = MakeContext(path, chain, depth);
  auto dev = OpenWithDriver(std::move(file), format, ctx);
  chain->visited.pop_back();
  return dev;
}

}  // namespace

ProbeInput ProbeBuffers::input() const {
  return ProbeInput{std::as_bytes(std::span(head)), std::as_bytes(std::span(tail)), file_size};
}

Result<ProbeBuffers> ReadProbeBuffers(const File& file) {
  ProbeBuffers b;
  IMGFS_ASSIGN_OR_RETURN(b.file_size, file.Size());
  b.head.resize(std::min<uint64_t>(kProbeHeadBytes, b.file_size));
  IMGFS_RETURN_IF_ERROR(
      file.ReadExactAt(0, std::as_writable_bytes(std::span(b.head)), "probe header"));
  uint64_t tail_len = std::min<uint64_t>(kProbeTailBytes, b.file_size);
  b.tail.resize(tail_len);
  IMGFS_RETURN_IF_ERROR(file.ReadExactAt(
      b.file_size - tail_len, std::as_writable_bytes(std::span(b.tail)), "probe trailer"));
  return b;
}

Result<std::unique_ptr<BlockDevice>> OpenImage(const std::string& path, const OpenOptions& options,
                                               Cache* cache) {
  auto chain = std::make_shared<Chain>();
  chain->options = options;
  chain->cache = cache;
  chain->confine_dir = RealPath(DirOf(path));
  return OpenInChain(path, options.format, chain, 0);
}

Result<std::unique_ptr<BlockDevice>> OpenImageFile(std::unique_ptr<File> file,
                                                   const OpenOptions& options, Cache* cache) {
  auto chain = std::make_shared<Chain>();
  chain->options = options;
  chain->cache = cache;
  OpenContext ctx;
  ctx.options = &chain->options;
  ctx.cache = cache;
  ctx.path = file->name();
  ctx.resolve = [](const std::string& ref) { return ref; };
  ctx.open_backing = [name = ctx.path](const std::string& ref,
                                       const std::string&) -> Result<std::unique_ptr<BlockDevice>> {
    return UnsupportedError(name + ": backing file '" + ref + "' not opened for in-memory images");
  };
  ctx.open_aux_file = [name = ctx.path](const std::string& ref) -> Result<std::unique_ptr<File>> {
    return UnsupportedError(name + ": file '" + ref + "' not opened for in-memory images");
  };
  return OpenWithDriver(std::move(file), options.format, ctx);
}

}  // namespace imgfs
