// SPDX-License-Identifier: MIT
// Splits a one-file UDIF image into a segmented set the way
// `hdiutil segment` lays one out (no Linux tool writes them): the data fork
// is cut at the given byte positions; segment 1 keeps the XML plist (or
// resource fork) after its part of the fork; every segment ends with its own
// koly: segment number, the shared count and segment id, its own data fork
// length and CRC-32, and running_data_fork_offset = where its part starts
// in the whole fork. Test code: the input must have its data fork at 0.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "formats/dmg/udif.h"

namespace imgfs::dmg::testing {

// The segment files in order (segment 1 first). `cuts` are strictly
// increasing byte positions inside the data fork.
Result<std::vector<std::vector<std::byte>>> SplitIntoSegments(std::span<const std::byte> dmg,
                                                              std::span<const uint64_t> cuts);

// Rewrites the koly trailer at the end of `file` through `edit`.
template <typename Edit>
Status EditKoly(std::vector<std::byte>* file, Edit edit) {
  std::span<std::byte> tail(file->data() + file->size() - kKolyBytes, kKolyBytes);
  IMGFS_ASSIGN_OR_RETURN(Koly k, DecodeKoly(tail));
  edit(k);
  std::array<std::byte, kKolyBytes> bytes = EncodeKoly(k);
  std::copy(bytes.begin(), bytes.end(), tail.begin());
  return Status::Ok();
}

}  // namespace imgfs::dmg::testing
