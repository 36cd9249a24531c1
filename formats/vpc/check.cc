// SPDX-License-Identifier: MIT
// `check` for VHD images: the footer and its copy, the checksums and the
// BAT (blocks past the end of the file, blocks that overlap each other or
// the metadata).
#include <algorithm>
#include <utility>
#include <vector>

#include "core/util/hex.h"
#include "formats/vpc/device.h"

namespace imgfs::vpc {
namespace {

void CheckFooter(const Image& im, CheckReport* r) {
  r->checked.push_back("footer");
  if (im.footer_source == FooterSource::kHead) {
    r->errors.push_back("footer at the end of the file is damaged (" + im.tail_problem +
                        "); the copy at offset 0 was read");
  }
  if (!im.footer.checksum_ok) {
    r->errors.push_back("footer checksum " + Hex(im.footer.checksum) + " does not match");
  }
  if (im.type == DiskType::kFixed || im.footer_source == FooterSource::kHead) {
    return;
  }
  if (!im.head_copy) {
    r->warnings.push_back("no valid footer copy at offset 0");
  } else if (EncodeFooter(*im.head_copy) != EncodeFooter(im.footer)) {
    r->warnings.push_back("footer copy at offset 0 differs from the footer at the end");
  }
}

// (first byte, end) of every allocated block with its index, sorted.
struct Span {
  uint64_t start;
  uint64_t end;
  uint64_t block;
};

void CheckBat(const Image& im, CheckReport* r) {
  r->checked.push_back("dynamic disk header");
  if (!im.header.checksum_ok) {
    r->errors.push_back("dynamic disk header checksum " + Hex(im.header.checksum) +
                        " does not match");
  }
  r->checked.push_back("block allocation table (" + std::to_string(im.bat.size()) + " entries)");
  const uint64_t block_bytes = im.header.block_bytes;
  const uint64_t bat_end = im.header.table_offset + 4 * uint64_t{im.header.max_table_entries};
  std::vector<Span> spans;
  for (size_t i = 0; i < im.bat.size(); ++i) {
    if (im.bat[i] == kUnallocatedBlock) {
      continue;
    }
    const uint64_t start = uint64_t{im.bat[i]} * 512;
    const uint64_t end = BlockDataOffset(im.bat[i], im.header.block_bytes) + block_bytes;
    if (end > im.file_size) {
      r->errors.push_back("block " + std::to_string(i) + " at " + Hex(start) +
                          " extends past the end of the file (size " + Hex(im.file_size) + ")");
    } else if (start < bat_end && end > im.header.table_offset) {
      r->errors.push_back("block " + std::to_string(i) + " at " + Hex(start) + " overlaps the BAT");
    } else if (start < 512 + kDynamicHeaderBytes) {
      r->errors.push_back("block " + std::to_string(i) + " at " + Hex(start) +
                          " overlaps the footer copy or the dynamic disk header");
    }
    spans.push_back(Span{start, end, i});
  }
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.start < b.start; });
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].start < spans[i - 1].end) {
      r->errors.push_back("blocks " + std::to_string(spans[i - 1].block) + " and " +
                          std::to_string(spans[i].block) + " overlap at " + Hex(spans[i].start));
    }
  }
}

}  // namespace

CheckReport CheckImage(const Image& im) {
  CheckReport r;
  CheckFooter(im, &r);
  if (im.type != DiskType::kFixed) {
    CheckBat(im, &r);
  }
  return r;
}

}  // namespace imgfs::vpc
