// SPDX-License-Identifier: MIT
// Writes the VHDX fuzz seeds into DIR (scripts/make-fuzz-corpus.sh runs
// it): builder-made images for every block state, 4096-byte sectors, a log
// to replay and a differencing image with a sector bitmap, and each IMAGE
// named after DIR (qemu-made ones). Every seed is compacted the way
// tests/fuzz/vhdx_fuzzer.cc expands it: the first 320 KiB, then the first
// 72 KiB of each later MiB, so a seed stays under libFuzzer's 1 MiB.
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/formats/vhdx/test_vhdx_builder.h"

namespace {

using imgfs::testing::VhdxBuilder;

constexpr size_t kHeadBytes = 320 << 10;
constexpr size_t kWindowBytes = 72 << 10;  // a 64 KiB table and its first items

// The compacted form of a VHDX file (see the file comment); trailing
// all-zero windows are dropped.
std::string Compact(const std::string& file) {
  std::string out = file.substr(0, kHeadBytes);
  std::string windows;
  for (size_t at = VhdxBuilder::kMiB; at < file.size(); at += VhdxBuilder::kMiB) {
    std::string w = file.substr(at, kWindowBytes);
    w.resize(kWindowBytes, '\0');
    windows += w;
  }
  const size_t last = windows.find_last_not_of('\0');
  windows.resize(last == std::string::npos ? 0 : (last / kWindowBytes + 1) * kWindowBytes);
  return out + windows;
}

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << Compact(bytes);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: make_vhdx_seeds DIR [IMAGE...]\n";
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
  for (int i = 2; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    const std::string image((std::istreambuf_iterator<char>(in)), {});
    const std::string path = argv[i];
    Write(dir + "/" + path.substr(path.find_last_of('/') + 1), image);
  }
  return 0;
}
