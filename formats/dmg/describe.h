// SPDX-License-Identifier: MIT
// What `imgfs info` shows of a UDIF image: variant, checksums, segments and
// every blkx with its name and compression kinds.
#pragma once

#include <nlohmann/json.hpp>

#include "formats/dmg/image.h"

namespace imgfs::dmg {

// The "format-specific" object of ImageInfo for `image`.
nlohmann::json DescribeUdif(const UdifImage& image);

}  // namespace imgfs::dmg
