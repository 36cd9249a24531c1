// SPDX-License-Identifier: MIT
#include "fuse/cli/mount_plan.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>

#include "core/io/file.h"
#include "formats/open.h"
#include "formats/registry.h"
#include "fuse/cli/common.h"

namespace imgfs::cli {
namespace {

namespace fs = std::filesystem;

bool HasRawImageExtension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".img" || ext == ".raw" || ext == ".iso";
}

// True when probing `path` finds anything but the raw fallback. Returns an
// error only when the file cannot be read at all.
Result<bool> ProbesAsImage(const std::string& path) {
  // Read once for its probe: no read-ahead descriptor.
  IMGFS_ASSIGN_OR_RETURN(std::unique_ptr<File> file,
                         OpenPosixFile(path, {.direct_read_ahead = false}));
  IMGFS_ASSIGN_OR_RETURN(ProbeBuffers buffers, ReadProbeBuffers(*file));
  if (CompanionOf(path, buffers.input())) {
    return false;  // e.g. a .dmgpart, read through its set's .dmg
  }
  auto probed = ProbeFormat(buffers.input(), path);
  if (!probed.ok()) {
    return probed.status().code() != StatusCode::kIOError;
  }
  return probed->driver != nullptr && probed->driver->name != "raw";
}

Status ExpandDirectory(const std::string& dir, std::vector<std::string>* out) {
  std::error_code ec;
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    std::error_code type_ec;
    if (entry.is_regular_file(type_ec)) {
      names.push_back(entry.path().string());
    } else if (entry.is_directory(type_ec) && FindPathFormat(entry.path().string()) != nullptr) {
      names.push_back(entry.path().string());  // e.g. a .sparsebundle is one image
    }
  }
  if (ec) {
    return IOError("cannot list directory: " + ec.message(), ec.value());
  }
  std::sort(names.begin(), names.end());
  size_t before = out->size();
  for (const std::string& name : names) {
    std::error_code dir_ec;
    if (HasRawImageExtension(name) || fs::is_directory(name, dir_ec) ||
        FindPathFormat(name) != nullptr) {
      out->push_back(name);
      continue;
    }
    auto is_image = ProbesAsImage(name);
    if (!is_image.ok()) {
      std::fprintf(stderr, "imgfs: warning: skipping %s: %s\n", name.c_str(),
                   is_image.status().message().c_str());
    } else if (*is_image) {
      out->push_back(name);
    }
  }
  if (out->size() == before) {
    return NotFoundError("directory holds no image files (see imgfs mount --help)");
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<std::string>> ExpandImageArgs(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const std::string& arg : args) {
    std::error_code ec;
    fs::file_status st = fs::status(arg, ec);
    if (ec || !fs::exists(st)) {
      return NotFoundError(arg + ": no such file or directory");
    }
    if (fs::is_directory(st) && FindPathFormat(arg) == nullptr) {
      Status s = ExpandDirectory(arg, &out);
      if (!s.ok()) {
        return s.Annotate(arg);
      }
    } else {
      out.push_back(arg);
    }
  }
  return out;
}

std::string UniqueNamer::Take(std::string_view stem, std::string_view suffix) {
  std::string safe(stem);
  std::replace(safe.begin(), safe.end(), '/', '_');
  std::replace(safe.begin(), safe.end(), '\0', '_');
  if (safe.empty() || safe == "." || safe == "..") {
    safe = "image";
  }
  std::string name = safe + std::string(suffix);
  for (int n = 2; used_.count(name) != 0; ++n) {
    name = safe + "-" + std::to_string(n) + std::string(suffix);
  }
  used_.insert(name);
  return name;
}

std::string StemOf(const std::string& path) { return fs::path(path).filename().stem().string(); }

std::string PartitionStem(std::string_view disk_view_name, uint32_t number) {
  std::string_view stem = disk_view_name;
  if (stem.ends_with(".raw")) {
    stem.remove_suffix(4);
  }
  return std::string(stem) + ".p" + std::to_string(number);
}

}  // namespace imgfs::cli
