// SPDX-License-Identifier: MIT
#include "tests/formats/dmg/test_segments.h"

#include <algorithm>

#include "core/util/crc32.h"

namespace imgfs::dmg::testing {

Result<std::vector<std::vector<std::byte>>> SplitIntoSegments(std::span<const std::byte> dmg,
                                                              std::span<const uint64_t> cuts) {
  if (dmg.size() < kKolyBytes) {
    return InvalidArgumentError("split: no koly");
  }
  IMGFS_ASSIGN_OR_RETURN(Koly whole, DecodeKoly(dmg.subspan(dmg.size() - kKolyBytes)));
  if (whole.data_fork_offset != 0 || whole.segment_count != 1) {
    return InvalidArgumentError("split: data fork not at 0, or already segmented");
  }
  std::vector<uint64_t> bounds{0};
  bounds.insert(bounds.end(), cuts.begin(), cuts.end());
  bounds.push_back(whole.data_fork_length);
  for (size_t i = 1; i < bounds.size(); ++i) {
    if (bounds[i] <= bounds[i - 1]) {
      return InvalidArgumentError("split: cuts must increase inside the data fork");
    }
  }
  const std::array<uint8_t, 16> id = {0x5e, 0x67, 0x11, 0xd0, 0x2b, 0x4c, 0x4e, 0x8a,
                                      0x91, 0x3f, 0x0c, 0x77, 0xa1, 0x52, 0xe9, 0x04};
  const auto count = static_cast<uint32_t>(bounds.size() - 1);
  std::vector<std::vector<std::byte>> out;
  for (uint32_t s = 0; s < count; ++s) {
    const uint64_t from = bounds[s];
    const uint64_t length = bounds[s + 1] - from;
    std::vector<std::byte> file(dmg.begin() + static_cast<ptrdiff_t>(from),
                                dmg.begin() + static_cast<ptrdiff_t>(from + length));
    Koly k = whole;
    k.segment_number = s + 1;
    k.segment_count = count;
    k.segment_id = id;
    k.running_data_fork_offset = from;
    k.data_fork_offset = 0;
    k.data_fork_length = length;
    k.data_checksum = UdifChecksum{};
    if (whole.data_checksum.type == kChecksumCrc32) {
      k.data_checksum.type = kChecksumCrc32;
      k.data_checksum.bit_count = 32;
      k.data_checksum.data[0] = Crc32(std::span<const std::byte>(file));
    }
    k.xml_offset = k.xml_length = k.rsrc_fork_offset = k.rsrc_fork_length = 0;
    if (s == 0) {
      // The plist (or resource fork) follows segment 1's part of the fork.
      const bool xml = whole.xml_length > 0;
      const uint64_t at = xml ? whole.xml_offset : whole.rsrc_fork_offset;
      const uint64_t len = xml ? whole.xml_length : whole.rsrc_fork_length;
      file.insert(file.end(), dmg.begin() + static_cast<ptrdiff_t>(at),
                  dmg.begin() + static_cast<ptrdiff_t>(at + len));
      (xml ? k.xml_offset : k.rsrc_fork_offset) = length;
      (xml ? k.xml_length : k.rsrc_fork_length) = len;
    }
    std::array<std::byte, kKolyBytes> trailer = EncodeKoly(k);
    file.insert(file.end(), trailer.begin(), trailer.end());
    out.push_back(std::move(file));
  }
  return out;
}

}  // namespace imgfs::dmg::testing
