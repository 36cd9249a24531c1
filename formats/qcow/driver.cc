// SPDX-License-Identifier: MIT
// The qcow driver: probing by magic and version, opening an image and its
// backing file. qcow names its backing file but not its format, so the
// backing image is probed; it is opened through open_backing so that the
// chain rules (depth, loops, --confine-backing, --no-backing) apply.
#include "formats/qcow/driver.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "core/util/endian.h"
#include "formats/qcow/device.h"
#include "formats/qcow/header.h"

namespace imgfs::qcow {
namespace {

int Probe(const ProbeInput& in) {
  return in.head.size() >= 8 && LoadBE32(in.head.data() + kMagicOffset) == kMagic &&
                 LoadBE32(in.head.data() + kVersionOffset) == kVersion
             ? 100
             : 0;
}

Status OpenBacking(const OpenContext& ctx, Image* image) {
  const Header& h = image->header;
  if (!h.has_backing()) {
    return Status::Ok();
  }
  std::string name(h.backing_name_bytes, '\0');
  IMGFS_RETURN_IF_ERROR(image->file->ReadExactAt(
      h.backing_name_offset, std::as_writable_bytes(std::span(name)), "qcow: backing file name"));
  image->backing_name = name;
  image->full_backing_name = ctx.resolve ? ctx.resolve(name) : name;
  if (ctx.options != nullptr && !ctx.options->follow_backing) {
    return Status::Ok();
  }
  if (!ctx.open_backing) {
    return UnsupportedError("qcow: backing file '" + name + "' cannot be opened in this context");
  }
  IMGFS_ASSIGN_OR_RETURN(image->backing, ctx.open_backing(name, ""));
  return Status::Ok();
}

Result<std::unique_ptr<BlockDevice>> Open(std::unique_ptr<File> file, const OpenContext& ctx) {
  Image image;
  IMGFS_ASSIGN_OR_RETURN(image.file_size, file->Size());
  std::vector<std::byte> head(
      static_cast<size_t>(std::min<uint64_t>(kHeaderBytes, image.file_size)));
  IMGFS_RETURN_IF_ERROR(file->ReadExactAt(0, head, "qcow: header"));
  IMGFS_ASSIGN_OR_RETURN(image.header, DecodeHeader(head, image.file_size));
  image.file = std::move(file);
  image.cache = ctx.cache;
  if (ctx.options != nullptr) {
    image.pool = ctx.options->pool;
    image.read_around = ctx.options->read_around;
  }
  IMGFS_RETURN_IF_ERROR(OpenBacking(ctx, &image));
  return NewDevice(std::move(image));
}

}  // namespace

FormatDriver Driver() {
  return FormatDriver{"qcow", "QEMU copy-on-write image, version 1 (compressed clusters, backing)",
                      &Probe, &Open};
}

}  // namespace imgfs::qcow
