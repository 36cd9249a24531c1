// SPDX-License-Identifier: MIT
// libFuzzer target for the LUKS1 header: decodes the input as a LUKS1
// header and opens it as luks without a passphrase (metadata only), so the
// parser, the cipher-name parsing and Describe run but no key derivation.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/cache/cache.h"
#include "core/io/file.h"
#include "formats/luks/header.h"
#include "formats/open.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto bytes = std::as_bytes(std::span(data, size));
  (void)imgfs::luks::DecodeLuks1(bytes, size);
  imgfs::Cache cache(1 << 20);
  imgfs::OpenOptions options;
  options.format = "luks";
  options.metadata_only = true;
  auto dev = imgfs::OpenImageFile(
      imgfs::NewMemoryFile("fuzz.luks", std::string(reinterpret_cast<const char*>(data), size)),
      options, &cache);
  if (dev.ok()) {
    (void)(*dev)->Describe();
  }
  return 0;
}
