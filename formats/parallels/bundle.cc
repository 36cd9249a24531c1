// SPDX-License-Identifier: MIT
// Opening a Parallels bundle (see bundle.h and descriptor.h): the descriptor
// says which .hds files make each storage's layers; each is opened through
// the OpenContext (so --confine-backing applies) and the layers are stacked
// into one parallels Device.
#include "formats/parallels/bundle.h"

#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <utility>
#include <vector>

#include "core/io/file.h"
#include "core/util/sector.h"
#include "formats/parallels/descriptor.h"
#include "formats/parallels/device.h"
#include "formats/parallels/xml.h"

namespace imgfs::parallels {
namespace {

namespace fs = std::filesystem;

std::string RealPathOf(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) != nullptr ? std::string(buf) : path;
}

bool HasDescriptor(const std::string& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::is_regular_file(dir + "/" + kDescriptorName, ec);
}

// The .hdd directory of a .pvm (the first by name), or "" when none.
std::string HddInPvm(const std::string& pvm) {
  std::error_code ec;
  if (fs::path(pvm).extension() != ".pvm" || !fs::is_directory(pvm, ec)) {
    return "";
  }
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(pvm, ec)) {
    if (e.path().extension() == ".hdd" && HasDescriptor(e.path().string())) {
      found.push_back(e.path().string());
    }
  }
  std::sort(found.begin(), found.end());
  return found.empty() ? "" : found.front();
}

Result<std::string> ReadDescriptor(const std::string& dir) {
  const std::string path = dir + "/" + kDescriptorName;
  IMGFS_ASSIGN_OR_RETURN(std::unique_ptr<File> f,
                         OpenPosixFile(path, {.direct_read_ahead = false}));
  IMGFS_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  if (size > xml::kMaxInputBytes) {
    return CorruptError("parallels: " + path + " of " + std::to_string(size) +
                        " bytes is larger than 1 MiB");
  }
  std::string s(static_cast<size_t>(size), '\0');
  IMGFS_RETURN_IF_ERROR(f->ReadExactAt(0, std::as_writable_bytes(std::span(s)), path.c_str()));
  return s;
}

// Opens image `entry` of the bundle in `dir` (absolute).
Result<Layer> OpenLayer(const std::string& dir, const ImageEntry& entry, const OpenContext& ctx) {
  const std::string path = entry.file.front() == '/' ? entry.file : dir + "/" + entry.file;
  if (ctx.options != nullptr && ctx.options->confine_backing) {
    const std::string real = RealPathOf(path);
    const std::string root = RealPathOf(dir);
    if (real.size() <= root.size() || real.compare(0, root.size(), root) != 0 ||
        real[root.size()] != '/') {
      return PermissionError("parallels: image file '" + entry.file + "' lies outside the bundle " +
                             dir + " (--confine-backing)");
    }
  }
  Layer layer;
  layer.name = entry.file;
  layer.guid = entry.guid;
  layer.plain = entry.plain;
  auto file = ctx.open_aux_file ? ctx.open_aux_file(path)
                                : OpenPosixFile(path, {.direct_read_ahead = false});
  if (!file.ok()) {
    return file.status().Annotate("parallels: image file '" + entry.file + "'");
  }
  layer.file = std::move(*file);
  if (layer.plain) {
    IMGFS_ASSIGN_OR_RETURN(layer.file_size, layer.file->Size());
  } else {
    Status st = ReadLayerHeader(&layer);
    if (!st.ok()) {
      return st.Annotate("parallels: image file '" + entry.file + "'");
    }
  }
  return layer;
}

nlohmann::json SnapshotData(const Descriptor& d) {
  nlohmann::json shots = nlohmann::json::array();
  for (const Shot& s : d.shots) {
    const bool in_chain = std::find(d.chain.begin(), d.chain.end(), s.guid) != d.chain.end();
    shots.push_back({{"guid", s.guid},
                     {"parent", s.parent},
                     {"current", s.guid == d.top_guid},
                     {"in-current-chain", in_chain}});
  }
  return nlohmann::json{{"bundle", true},
                        {"top-guid", d.top_guid},
                        {"disk-sectors", d.disk_sectors},
                        {"snapshots", shots}};
}

Status AddStorage(const std::string& dir, const Descriptor& d, const StorageEntry& entry,
                  const OpenContext& ctx, Disk* disk) {
  Storage& s = disk->storages.emplace_back();
  s.start_bytes = entry.start_sectors * kSectorBytes;
  s.end_bytes = entry.end_sectors * kSectorBytes;
  const bool follow = ctx.options == nullptr || ctx.options->follow_backing;
  for (const std::string& guid : d.chain) {
    const auto it = std::find_if(entry.images.begin(), entry.images.end(),
                                 [&](const ImageEntry& e) { return e.guid == guid; });
    IMGFS_ASSIGN_OR_RETURN(Layer layer, OpenLayer(dir, *it, ctx));
    if (!layer.plain && entry.block_sectors != 0 &&
        layer.header.cluster_sectors != entry.block_sectors) {
      disk->notes.push_back("parallels: " + layer.name + " has clusters of " +
                            std::to_string(layer.header.cluster_sectors) +
                            " sectors, the descriptor says " + std::to_string(entry.block_sectors));
    }
    s.layers.push_back(std::move(layer));
    if (!follow) {
      break;
    }
  }
  return Status::Ok();
}

}  // namespace

bool IsBundle(const std::string& path) { return HasDescriptor(path) || !HddInPvm(path).empty(); }

Result<std::unique_ptr<BlockDevice>> OpenBundle(const std::string& path, const OpenContext& ctx) {
  std::string dir = path;
  Disk disk;
  if (!HasDescriptor(dir)) {
    dir = HddInPvm(path);
    if (dir.empty()) {
      return NotFoundError("parallels: " + path + " holds no " + kDescriptorName);
    }
    disk.notes.push_back("parallels: opened " + fs::path(dir).filename().string() + " in " + path);
  }
  std::error_code ec;
  const fs::path abs = fs::absolute(dir, ec);
  const std::string abs_dir = ec ? dir : abs.lexically_normal().string();
  IMGFS_ASSIGN_OR_RETURN(std::string text, ReadDescriptor(dir));
  IMGFS_ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor(text));
  if (ctx.options != nullptr &&
      d.chain.size() > static_cast<size_t>(ctx.options->max_chain_depth)) {
    return InvalidArgumentError("parallels: " + path + ": snapshot chain is deeper than " +
                                std::to_string(ctx.options->max_chain_depth) + " images");
  }
  disk.path = path;
  disk.bundle = true;
  disk.size_bytes = d.disk_sectors * kSectorBytes;
  disk.cache = ctx.cache;
  if (ctx.options != nullptr) {
    disk.pool = ctx.options->pool;
    disk.read_around = ctx.options->read_around;
    if (!ctx.options->follow_backing && d.chain.size() > 1) {
      disk.notes.push_back("parallels: only the top snapshot's images are read (--no-backing)");
    }
  }
  for (const StorageEntry& entry : d.storages) {
    IMGFS_RETURN_IF_ERROR(AddStorage(abs_dir, d, entry, ctx, &disk));
  }
  disk.bundle_data = SnapshotData(d);
  // The snapshot list: each Shot's GUID, named by its image in the first
  // storage ("current" marks the top in format-specific data).
  for (const Shot& shot : d.shots) {
    SnapshotInfo info;
    info.id = shot.guid;
    for (const ImageEntry& e : d.storages.front().images) {
      if (e.guid == shot.guid) {
        info.name = e.file;
      }
    }
    info.virtual_size = disk.size_bytes;
    disk.snapshots.push_back(std::move(info));
  }
  return NewDevice(std::move(disk));
}

}  // namespace imgfs::parallels
