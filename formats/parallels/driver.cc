// SPDX-License-Identifier: MIT
// The parallels driver: probing by either magic at 0, opening one
// expandable image, and bundles by path (formats/parallels/bundle.h).
#include "formats/parallels/driver.h"

#include <utility>

#include "formats/parallels/bundle.h"
#include "formats/parallels/device.h"
#include "formats/parallels/header.h"

namespace imgfs::parallels {
namespace {

int Probe(const ProbeInput& in) { return HasMagic(in.head) ? 100 : 0; }

Result<std::unique_ptr<BlockDevice>> Open(std::unique_ptr<File> file, const OpenContext& ctx) {
  Layer layer;
  layer.name = ctx.path;
  layer.file = std::move(file);
  IMGFS_RETURN_IF_ERROR(ReadLayerHeader(&layer));
  Disk disk;
  disk.path = ctx.path;
  disk.size_bytes = layer.header.disk_bytes();
  disk.cache = ctx.cache;
  if (ctx.options != nullptr) {
    disk.pool = ctx.options->pool;
    disk.read_around = ctx.options->read_around;
  }
  Storage& s = disk.storages.emplace_back();
  s.end_bytes = disk.size_bytes;
  s.layers.push_back(std::move(layer));
  if (disk.size_bytes == 0) {
    // An empty disk has no storage to map; Map is never asked.
    s.end_bytes = 0;
  }
  return NewDevice(std::move(disk));
}

}  // namespace

FormatDriver Driver() {
  FormatDriver d{"parallels",
                 "Parallels expandable image (.hds) and .hdd bundle with snapshots, read-only",
                 &Probe, &Open};
  d.claims_path = &IsBundle;
  d.open_path = &OpenBundle;
  return d;
}

}  // namespace imgfs::parallels
