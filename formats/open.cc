// SPDX-License-Identifier: MIT
#include "formats/open.h"

#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "core/forwarding_device.h"
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

// Up to `max_names` regular files in the directory of `image_path` (the
// image itself left out), in the order the directory lists them, sorted.
Result<std::vector<std::string>> ListSiblings(const std::string& image_path, size_t max_names) {
  const std::string dir = DirOf(image_path);
  const fs::path self = fs::path(image_path).filename();
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end && names.size() < max_names;
       it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && it->path().filename() != self) {
      names.push_back(it->path().filename().string());
    }
  }
  if (ec) {
    return IOError("cannot list " + dir + ": " + ec.message(), ec.value());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The driver --format names; kInvalidArgument listing the known names.
Result<const FormatDriver*> NamedFormat(const std::string& format) {
  if (const FormatDriver* d = FindFormat(format)) {
    return d;
  }
  std::string known;
  for (const FormatDriver& d : AllFormats()) {
    known += (known.empty() ? "" : ", ") + std::string(d.name);
  }
  return InvalidArgumentError("unknown format '" + format + "' (known: " + known + ")");
}

Result<std::unique_ptr<BlockDevice>> OpenWithDriver(std::unique_ptr<File> file,
                                                    const std::string& format,
                                                    const OpenContext& ctx) {
  IMGFS_ASSIGN_OR_RETURN(ProbeBuffers probe, ReadProbeBuffers(*file));
  const FormatDriver* driver = nullptr;
  std::string note;
  if (!format.empty()) {
    IMGFS_ASSIGN_OR_RETURN(driver, NamedFormat(format));
    if (driver->open == nullptr) {
      return UnsupportedError(ctx.path + ": " + std::string(driver->name) +
                              " images are opened by path, not from one file");
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
  ctx.list_siblings = [path](size_t max_names) { return ListSiblings(path, max_names); };
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

// The driver that opens `path` by path rather than as one file: the one
// --format names when it has an open_path hook and either no file opener or
// a claim on the path, else the first driver in registry order that claims
// the path. nullptr: open the path as a file.
Result<const FormatDriver*> PathDriver(const std::string& path, const std::string& format) {
  if (format.empty()) {
    return FindPathFormat(path);
  }
  IMGFS_ASSIGN_OR_RETURN(const FormatDriver* d, NamedFormat(format));
  bool by_path = d->open_path != nullptr &&
                 (d->open == nullptr || (d->claims_path != nullptr && d->claims_path(path)));
  return by_path ? d : nullptr;
}

Result<std::unique_ptr<BlockDevice>> OpenInChain(const std::string& path, const std::string& format,
                                                 const std::shared_ptr<Chain>& chain, int depth) {
  IMGFS_ASSIGN_OR_RETURN(const FormatDriver* by_path, PathDriver(path, format));
  std::unique_ptr<File> file;
  if (by_path == nullptr) {
    // Backing images are always opened read-only.
    IMGFS_ASSIGN_OR_RETURN(
        file, OpenPosixFile(path, {.writable = depth == 0 && chain->options.writable,
                                   .direct_read_ahead = chain->options.direct_read_ahead}));
  }
  chain->visited.push_back(RealPath(path));
  OpenContext ctx = MakeContext(path, chain, depth);
  auto dev = by_path != nullptr ? by_path->open_path(path, ctx)
                                : OpenWithDriver(std::move(file), format, ctx);
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
  // A detached LUKS header (--header) leaves the image itself all payload,
  // with no signature to probe: the header decides the format.
  const std::string format =
      options.format.empty() && !options.detached_header.empty() ? "luks" : options.format;
  return OpenInChain(path, format, chain, 0);
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
  ctx.list_siblings = [name = ctx.path](size_t) -> Result<std::vector<std::string>> {
    return UnsupportedError(name + ": no directory to search beside in-memory images");
  };
  return OpenWithDriver(std::move(file), options.format, ctx);
}

}  // namespace imgfs
