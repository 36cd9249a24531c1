// SPDX-License-Identifier: MIT
// libFuzzer target for LUKS2 headers. The input is an image prefix; the
// checksums of both header copies are recomputed before parsing (when the
// copy's size field is sane), so mutations reach the JSON decoder instead
// of stopping at the checksum. Inputs whose first byte is '{' go to the
// JSON decoder directly. Opened metadata-only: no key derivation runs.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "core/cache/cache.h"
#include "core/crypto/kdf.h"
#include "core/io/file.h"
#include "core/util/endian.h"
#include "formats/luks/header.h"
#include "formats/open.h"

namespace {

void FixChecksum(std::string& img, uint64_t off) {
  if (off > img.size() || img.size() - off < 4096) {
    return;
  }
  auto* p = reinterpret_cast<std::byte*>(img.data() + off);
  const uint64_t hdr_size = imgfs::LoadBE64(p + 8);
  if (hdr_size < 4096 || hdr_size > img.size() - off) {
    return;
  }
  std::memset(p + 448, 0, 64);
  imgfs::crypto::Hash("sha256", std::span(p, hdr_size), std::span(p + 448, 32));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string img(reinterpret_cast<const char*>(data), size);
  if (!img.empty() && img[0] == '{') {
    imgfs::luks::Luks2Header h;
    h.hdr_size = 16384;
    (void)imgfs::luks::DecodeLuks2Json(img, &h);
    return 0;
  }
  FixChecksum(img, 0);
  if (img.size() >= 16) {
    FixChecksum(img, imgfs::LoadBE64(reinterpret_cast<const std::byte*>(img.data()) + 8));
  }
  imgfs::Cache cache(1 << 20);
  imgfs::OpenOptions options;
  options.format = "luks";
  options.metadata_only = true;
  auto dev =
      imgfs::OpenImageFile(imgfs::NewMemoryFile("fuzz.luks", std::move(img)), options, &cache);
  if (dev.ok()) {
    (void)(*dev)->Describe();
  }
  return 0;
}
