// SPDX-License-Identifier: MIT
// Writes the builder-made VHDX fuzz seeds into the directory given as the
// only argument (scripts/make-fuzz-corpus.sh runs it): every block state,
// 4096-byte sectors, a log to replay, a differencing image with a sector
// bitmap. Block contents are short, so the files stay mostly zeros.
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "tests/formats/vhdx/test_vhdx_builder.h"

namespace {

using imgfs::testing::VhdxBuilder;

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_vhdx_seeds DIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  constexpr uint64_t kMiB = VhdxBuilder::kMiB;
  VhdxBuilder states(5 * kMiB + 512);
  states.WriteBlock(0, std::string(600, 'a'));
  states.SetState(1, 2);
  states.SetState(2, 3);
  states.SetState(3, 1);
  Write(dir + "/states.vhdx", states.Build());

  VhdxBuilder large(3 * kMiB, 1 << 20, 4096);
  large.WriteBlock(2, std::string(5000, 'b'));
  Write(dir + "/sector4k.vhdx", large.Build());

  VhdxBuilder dirty(2 * kMiB);
  dirty.WriteBlock(1, std::string(700, 'c'));
  Write(dir + "/dirty-log.vhdx", dirty.BuildDirty({dirty.bat_offset()}, '\0', 1, 0, true));

  VhdxBuilder child(2 * kMiB);
  child.SetParent({{"parent_linkage", "{01234567-89ab-cdef-0123-456789abcdef}"},
                   {"relative_path", ".\\parent.vhdx"},
                   {"absolute_win32_path", "C:\\parent.vhdx"}});
  std::vector<bool> present(kMiB / 512);
  present[1] = present[2] = present[9] = true;
  child.WritePartial(0, std::string(5120, 'd'), present);
  Write(dir + "/differencing.avhdx", child.Build());
  return 0;
}
