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

Result<std::unique_ptr<BlockDevice>> Open(std::unique_ptr<File> file, const OpenContext& ctx) {
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file->Size());
  std::vector<std::byte> head(static_cast<size_t>(std::min<uint64_t>(kHeaderBytes, file_size)));
  IMGFS_RETURN_IF_ERROR(file->ReadExactAt(0, head, "qed: header"));
  IMGFS_ASSIGN_OR_RETURN(const Header h, DecodeHeader(head, file_size));
  TwoLevelImage image = TwoLevelImageFrom(std::move(file), file_size, ctx);
  if (h.has_backing()) {
    IMGFS_ASSIGN_OR_RETURN(image.backing, OpenBackingByName(ctx, *image.file, h.backing_name_offset,
                                                            h.backing_name_bytes,
                                                            (h.backing_raw() ? "raw" : ""), "qed"));
  }
  return NewDevice(h, std::move(image));
}

}  // namespace

FormatDriver Driver() {
  return FormatDriver{"qed", "QEMU enhanced disk: zero clusters, backing files", &Probe, &Open};
}

}  // namespace imgfs::qed
