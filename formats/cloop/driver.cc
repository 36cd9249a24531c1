// SPDX-License-Identifier: MIT
// The cloop driver: probing by the version signature in the head at the
// start of the file (or, for header-last images, in its last 136 bytes),
// opening an image and reading its whole index.
#include "formats/cloop/driver.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "formats/cloop/device.h"
#include "formats/cloop/header.h"

namespace imgfs::cloop {
namespace {

bool StartsWithShebang(std::span<const std::byte> bytes) {
  const size_t n = sizeof(kShebang) - 1;
  return bytes.size() >= n && std::equal(kShebang, kShebang + n, bytes.begin(),
                                         [](char c, std::byte b) { return std::byte(c) == b; });
}

// The signature after "#!/bin/sh\n#" at the start is certain; a header at
// the end alone is nearly so (an image's last bytes are rarely a script).
int Probe(const ProbeInput& in) {
  if (StartsWithShebang(in.head) && SignatureVersion(in.head) != 0) {
    return 100;
  }
  if (in.tail.size() >= kHeadBytes) {
    auto last = in.tail.last(kHeadBytes);
    if (StartsWithShebang(last) && SignatureVersion(last) != 0) {
      return 90;
    }
  }
  return 0;
}

Result<std::unique_ptr<BlockDevice>> Open(std::unique_ptr<File> file, const OpenContext& ctx) {
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file->Size());
  const size_t n = static_cast<size_t>(std::min<uint64_t>(kHeadBytes, file_size));
  std::vector<std::byte> first(n);
  std::vector<std::byte> last(n);
  IMGFS_RETURN_IF_ERROR(file->ReadExactAt(0, first, "cloop: header"));
  IMGFS_RETURN_IF_ERROR(file->ReadExactAt(file_size - n, last, "cloop: header"));
  Image image;
  IMGFS_ASSIGN_OR_RETURN(image.head, DecodeHead(first, last, file_size));
  // DecodeHead bounded the index by the file size and kMaxIndexBytes.
  std::vector<std::byte> index(static_cast<size_t>(image.head.index_bytes()));
  IMGFS_RETURN_IF_ERROR(file->ReadExactAt(image.head.index_offset, index, "cloop: index"));
  IMGFS_ASSIGN_OR_RETURN(image.blocks, DecodeIndex(image.head, index, file_size));
  image.file = std::move(file);
  image.cache = ctx.cache;
  if (ctx.options != nullptr) {
    image.pool = ctx.options->pool;
  }
  return NewDevice(std::move(image));
}

}  // namespace

FormatDriver Driver() {
  return FormatDriver{"cloop", "compressed loop image (cloop V2.0 and V4.0)", &Probe, &Open};
}

}  // namespace imgfs::cloop
