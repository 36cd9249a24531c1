// SPDX-License-Identifier: MIT
// LZFSE stream framing; see lzfse.h. (Milestone 1: not implemented yet.)
#include "formats/dmg/lzfse/lzfse.h"

namespace imgfs::dmg {

Status LzfseDecompress(std::span<const std::byte> /*in*/, std::span<std::byte> /*out*/) {
  return UnsupportedError("dmg: lzfse chunks are not supported yet");
}

std::vector<std::byte> LzfseCompress(std::span<const std::byte> /*in*/) { return {}; }

}  // namespace imgfs::dmg
