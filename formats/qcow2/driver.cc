// SPDX-License-Identifier: MIT
// The qcow2 driver: probing by magic and opening an image with its external
// data file, backing device and snapshot table (QEMU docs/interop/qcow2.txt).
#include "formats/qcow2/driver.h"

#include <algorithm>

#include "core/util/endian.h"
#include "core/util/hex.h"
#include "formats/qcow2/device.h"

namespace imgfs::qcow2 {
namespace {

int Probe(const ProbeInput& in) {
  if (in.head.size() < 8 || LoadBE32(in.head.data() + kMagicOffset) != kMagic) {
    return 0;
  }
  // Version 1 is the older qcow format. Later versions are still claimed,
  // so that Open refuses them by name instead of showing them as raw.
  uint32_t version = LoadBE32(in.head.data() + kVersionOffset);
  return version >= 2 ? 100 : 0;
}

Status OpenDataFile(const OpenContext& ctx, Image* image) {
  const Header& h = image->header;
  if (!h.has_data_file()) {
    image->data_file = image->file;
    return Status::Ok();
  }
  if (h.data_file.empty()) {
    return InvalidArgumentError(
        "qcow2: image uses an external data file (incompatible bit 2) but its header names "
        "none; imgfs cannot tell which file holds the data");
  }
  if (!ctx.open_aux_file) {
    return UnsupportedError("qcow2: external data file '" + h.data_file +
                            "' cannot be opened in this context");
  }
  auto data = ctx.open_aux_file(h.data_file);
  if (!data.ok()) {
    return data.status().Annotate("qcow2: cannot open external data file '" + h.data_file + "'");
  }
  image->data_file = std::shared_ptr<const File>(std::move(*data));
  return Status::Ok();
}

Status OpenBacking(const OpenContext& ctx, Image* image) {
  const Header& h = image->header;
  if (h.backing_file.empty()) {
    return Status::Ok();
  }
  image->full_backing_filename = ctx.resolve ? ctx.resolve(h.backing_file) : h.backing_file;
  if (ctx.options != nullptr && !ctx.options->follow_backing) {
    return Status::Ok();
  }
  if (!ctx.open_backing) {
    return UnsupportedError("qcow2: backing file '" + h.backing_file +
                            "' cannot be opened in this context");
  }
  IMGFS_ASSIGN_OR_RETURN(std::unique_ptr<BlockDevice> backing,
                         ctx.open_backing(h.backing_file, h.backing_format));
  image->backing = std::shared_ptr<const BlockDevice>(std::move(backing));
  return Status::Ok();
}

Result<std::unique_ptr<BlockDevice>> Open(std::unique_ptr<File> file, const OpenContext& ctx) {
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file->Size());
  IMGFS_ASSIGN_OR_RETURN(std::vector<std::byte> head, ReadHeaderCluster(*file, file_size));
  auto image = std::make_shared<Image>();
  IMGFS_ASSIGN_OR_RETURN(image->header, DecodeHeader(head, file_size));
  image->geometry = GeometryOf(image->header);
  image->cache = ctx.cache;
  image->pool = ctx.options != nullptr ? ctx.options->pool : nullptr;
  image->file = std::shared_ptr<const File>(std::move(file));
  const Header& h = image->header;
  IMGFS_ASSIGN_OR_RETURN(image->snapshots, ReadSnapshotTable(*image->file, h));
  IMGFS_ASSIGN_OR_RETURN(
      std::vector<uint64_t> l1,
      LoadL1(*image->file, image->geometry, h.l1_table_offset, h.l1_size, "L1 table"));
  IMGFS_ASSIGN_OR_RETURN(image->encryption, OpenEncryption(*image->file, h, ctx));
  IMGFS_RETURN_IF_ERROR(OpenDataFile(ctx, image.get()));
  // Read around whole clusters, but no more than 64 KiB: a 2 MiB cluster read
  // for one 4 KiB block would cost far more than it could save.
  image->read_around = ReadAround::ForFile(
      *image->data_file, std::min(image->geometry.cluster_bits, 16u),
      ctx.options != nullptr ? ctx.options->read_around : ReadAroundMode::kAuto);
  IMGFS_RETURN_IF_ERROR(OpenBacking(ctx, image.get()));
  uint64_t size = h.size_bytes;
  return NewDevice(std::move(image), std::move(l1), size, std::nullopt);
}

}  // namespace

FormatDriver Driver() {
  return FormatDriver{"qcow2", "QEMU copy-on-write image, versions 2 and 3", &Probe, &Open};
}

}  // namespace imgfs::qcow2
