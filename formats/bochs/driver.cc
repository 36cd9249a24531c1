// SPDX-License-Identifier: MIT
// The bochs driver: probing by the magic and "Redolog" type, opening a
// growing image. Undoable and volatile redologs (which need a base image
// Bochs names only in its configuration) are refused by Open, by name.
#include "formats/bochs/driver.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "formats/bochs/device.h"
#include "formats/bochs/header.h"

namespace imgfs::bochs {
namespace {

int Probe(const ProbeInput& in) { return HasMagic(in.head) ? 100 : 0; }

Result<std::unique_ptr<BlockDevice>> Open(std::unique_ptr<File> file, const OpenContext& ctx) {
  Image image;
  IMGFS_ASSIGN_OR_RETURN(image.file_size, file->Size());
  std::vector<std::byte> head(std::min<uint64_t>(kHeaderBytes, image.file_size));
  IMGFS_RETURN_IF_ERROR(file->ReadExactAt(0, head, "bochs: header"));
  IMGFS_ASSIGN_OR_RETURN(image.header, DecodeHeader(head, image.file_size));
  image.file = std::move(file);
  image.cache = ctx.cache;
  if (ctx.options != nullptr) {
    image.pool = ctx.options->pool;
    image.read_around = ctx.options->read_around;
  }
  return NewDevice(std::move(image));
}

}  // namespace

FormatDriver Driver() {
  return FormatDriver{"bochs", "Bochs growing disk image (redolog v1 and v2)", &Probe, &Open};
}

}  // namespace imgfs::bochs
