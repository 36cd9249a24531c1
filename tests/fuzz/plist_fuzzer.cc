// SPDX-License-Identifier: MIT
// libFuzzer target for the bounded XML plist parser and the blkx entries
// read from it (the UDIF resource plist and sparse bundle Info.plist).
// Small caps make the limit paths reachable on ordinary inputs.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "formats/dmg/image.h"
#include "formats/dmg/plist.h"
#include "formats/dmg/sparsebundle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view xml(reinterpret_cast<const char*>(data), size);
  imgfs::dmg::plist::Limits limits;
  limits.max_depth = 16;
  limits.max_elements = 4096;
  limits.max_data_bytes = 1 << 16;
  (void)imgfs::dmg::plist::Parse(xml, limits);
  (void)imgfs::dmg::BlkxFromPlist(xml);
  (void)imgfs::dmg::ParseSparseBundleInfo(xml);
  return 0;
}
