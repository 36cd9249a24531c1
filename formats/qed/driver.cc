// SPDX-License-Identifier: MIT
// The qed driver: probing by magic, opening an image and its backing file
// (docs/interop/qed_spec.rst). The backing file is probed unless the
// "backing format no probe" feature says it is raw; it is opened through
// open_backing so that the chain rules (depth, loops, --confine-backing,
// --no-backing) apply.
#include "formats/qed/driver.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "core/util/endian.h"
#include "formats/qed/device.h"
#include "formats/qed/header.h"

namespace imgfs::qed {
namespace {

int Probe(const ProbeInput& in) {
  return in.head.size() >= 4 && LoadLE32(in.head.data() + kMagicOffset) == kMagic ? 100 : 0;
}

Status OpenBacking(const OpenContext& ctx, Image* image) {
  const Header& h = image->header;
  if (!h.has_backing()) {
    return Status::Ok();
  }
  std::string name(h.backing_name_bytes, '\0');
  IMGFS_RETURN_IF_ERROR(image->file->ReadExactAt(
      h.backing_name_offset, std::as_writable_bytes(std::span(name)), "qed: backing file name"));
  image->backing_name = name;
  image->full_backing_name = ctx.resolve ? ctx.resolve(name) : name;
  if (ctx.options != nullptr && !ctx.options->follow_backing) {
    return Status::Ok();
  }
  if (!ctx.open_backing) {
    return UnsupportedError("qed: backing file '" + name + "' cannot be opened in this context");
  }
  IMGFS_ASSIGN_OR_RETURN(image->backing, ctx.open_backing(name, h.backing_raw() ? "raw" : ""));
  return Status::Ok();
}

Result<std::unique_ptr<BlockDevice>> Open(std::unique_ptr<File> file, const OpenContext& ctx) {
  Image image;
  IMGFS_ASSIGN_OR_RETURN(image.file_size, file->Size());
  std::vector<std::byte> head(
      static_cast<size_t>(std::min<uint64_t>(kHeaderBytes, image.file_size)));
  IMGFS_RETURN_IF_ERROR(file->ReadExactAt(0, head, "qed: header"));
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
  return FormatDriver{"qed", "QEMU enhanced disk: zero clusters, backing files", &Probe, &Open};
}

}  // namespace imgfs::qed
