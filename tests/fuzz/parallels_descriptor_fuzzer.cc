// SPDX-License-Identifier: MIT
// libFuzzer target for DiskDescriptor.xml: the bounded XML reader and the
// descriptor's rules (storages, snapshot chain, images).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "formats/parallels/descriptor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)imgfs::parallels::ParseDescriptor(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
