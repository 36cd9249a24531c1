// SPDX-License-Identifier: MIT
// Probing and opening Apple disk images (see driver.h); the writer and the
// virtual view are defined next to them, in writer.cc and virtual_dmg.cc.
#include "formats/dmg/driver.h"

#include <cstring>

#include "core/util/endian.h"
#include "formats/dmg/device.h"
#include "formats/dmg/encrypted.h"
#include "formats/dmg/image.h"
#include "formats/dmg/segments.h"
#include "formats/dmg/sparsebundle.h"
#include "formats/dmg/sparseimage.h"

namespace imgfs::dmg {
namespace {

// The koly trailer ends the file: signature, version 4, header size 512.
// An encrypted image (encrcdsa) starts with its own magic instead.
int Probe(const ProbeInput& in) {
  if (IsEncrcdsa(in.head)) {
    return 100;
  }
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
  std::byte magic[8] = {};
  IMGFS_ASSIGN_OR_RETURN(const size_t got, file->ReadAt(0, magic));
  if (IsEncrcdsa(std::span(magic, got))) {
    return OpenEncrypted(std::move(file), ctx);
  }
  IMGFS_ASSIGN_OR_RETURN(std::shared_ptr<const UdifImage> image,
                         LoadUdif(std::shared_ptr<const File>(std::move(file)), &ctx));
  ThreadPool* pool = ctx.options != nullptr ? ctx.options->pool : nullptr;
  return NewUdifDevice(std::move(image), ctx.cache, pool);
}

// NAME.002.dmgpart and later segments are read through segment 1.
std::optional<std::string> SegmentOwner(const std::string& path, const ProbeInput& in) {
  if (!IsLaterSegmentTail(in.tail)) {
    return std::nullopt;
  }
  const size_t slash = path.rfind('/');
  return FirstSegmentName(slash == std::string::npos ? path : path.substr(slash + 1)).value_or("");
}

Result<std::unique_ptr<BlockDevice>> OpenSparse(std::unique_ptr<File> file,
                                                const OpenContext& ctx) {
  return OpenSparseImage(std::move(file), ctx.cache);
}

Result<std::unique_ptr<BlockDevice>> OpenBundle(const std::string& path,
                                                const OpenContext& /*ctx*/) {
  return OpenSparseBundle(path);
}

}  // namespace

FormatDriver Driver() {
  FormatDriver d{"dmg",
                 "Apple UDIF disk image (UDRW/UDRO/UDCO/UDZO/UDBZ/ULFO/ULMO; encrcdsa-encrypted "
                 "too), read-only",
                 &Probe, &Open};
  d.companion_of = &SegmentOwner;
  d.writer = &Writer();
  d.view = &VirtualDmgView();
  return d;
}

FormatDriver SparseImageDriver() {
  return FormatDriver{"sparseimage", "Apple sparse disk image (UDSP .sparseimage), read-only",
                      &ProbeSparseImage, &OpenSparse};
}

FormatDriver SparseBundleDriver() {
  FormatDriver d{"sparsebundle", "Apple sparse bundle (UDSB .sparsebundle directory), read-only"};
  d.claims_path = &IsSparseBundle;
  d.open_path = &OpenBundle;
  return d;
}

}  // namespace imgfs::dmg
