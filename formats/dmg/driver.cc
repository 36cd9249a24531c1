// SPDX-License-Identifier: MIT
// Probing and opening Apple disk images (see driver.h).
#include "formats/dmg/driver.h"

#include <cstring>

#include "core/util/endian.h"
#include "formats/dmg/device.h"
#include "formats/dmg/image.h"
#include "formats/dmg/sparseimage.h"

namespace imgfs::dmg {
namespace {

// The koly trailer ends the file: signature, version 4, header size 512.
int Probe(const ProbeInput& in) {
  if (in.tail.size() < kKolyBytes) {
    return 0;
  }
  const std::byte* p = in.tail.data() + in.tail.size() - kKolyBytes;
  if (std::memcmp(p, "koly", 4) != 0) {
    return 0;
  }
  // A wrong version or size is still claimed, so Open refuses it by name.
  return LoadBE32(p + 4) == 4 && LoadBE32(p + 8) == kKolyBytes ? 100 : 90;
}

Result<std::unique_ptr<BlockDevice>> Open(std::unique_ptr<File> file, const OpenContext& ctx) {
  IMGFS_ASSIGN_OR_RETURN(std::shared_ptr<const UdifImage> image,
                         LoadUdif(std::shared_ptr<const File>(std::move(file)), &ctx));
  ThreadPool* pool = ctx.options != nullptr ? ctx.options->pool : nullptr;
  return NewUdifDevice(std::move(image), ctx.cache, pool);
}

Result<std::unique_ptr<BlockDevice>> OpenSparse(std::unique_ptr<File> file,
                                                const OpenContext& ctx) {
  return OpenSparseImage(std::move(file), ctx.cache);
}

}  // namespace

FormatDriver Driver() {
  return FormatDriver{"dmg",
                      "Apple UDIF disk image (UDRW/UDRO/UDCO/UDZO/UDBZ/ULFO/ULMO), read-only",
                      &Probe, &Open};
}

FormatDriver SparseImageDriver() {
  return FormatDriver{"sparseimage", "Apple sparse disk image (UDSP .sparseimage), read-only",
                      &ProbeSparseImage, &OpenSparse};
}

}  // namespace imgfs::dmg
