// SPDX-License-Identifier: MIT
// Writes the seSparse fuzz seeds for tests/fuzz/vmdk_fuzzer.cc into DIR
// (scripts/make-fuzz-corpus.sh runs it): builder-made extents in the
// compact layout (ESXi's puts the grain directory at 2 MiB), small enough
// for libFuzzer: allocated, zero, unmapped and unallocated grains, grains
// stored out of order, an empty grain table, and a cluster number above
// 4095 (both parts of the split field) past the end of the file.
#include <fstream>
#include <iostream>
#include <string>

#include "tests/formats/vmdk/test_sesparse_builder.h"

namespace {

using imgfs::vmdk::testing::BuildSeSparse;
using imgfs::vmdk::testing::SePattern;
using imgfs::vmdk::testing::SeSparseSpec;

void Write(const std::string& path, const SeSparseSpec& spec) {
  std::ofstream(path, std::ios::binary) << BuildSeSparse(spec);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_sesparse_seeds DIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  SeSparseSpec s;
  s.compact = true;
  s.capacity_sectors = 2 * 32768 + 100;  // two full tables and a partial one
  s.grains = {{0, SePattern(4096, 1)}, {1, SePattern(4096, 2)}, {4097, SePattern(1000, 3)}};
  s.zero_grains = {2};
  s.unmapped_grains = {3};
  Write(dir + "/sesparse.vmdk", s);
  s.reverse_storage = true;
  s.empty_tables = {2};
  Write(dir + "/sesparse-reverse.vmdk", s);
  // A cluster number above 4095 (both parts of the split field) lies 16 MiB
  // into the grains region: the seed keeps the metadata only, so the grain
  // is past the end of the file.
  SeSparseSpec high;
  high.compact = true;
  high.capacity_sectors = 2048;
  high.grains = {{5, SePattern(4096, 4)}};
  high.first_cluster = 4097;
  imgfs::vmdk::testing::SeSparseLayout layout;
  const std::string bytes = BuildSeSparse(high, &layout);
  std::ofstream(dir + "/sesparse-grain-past-end.vmdk", std::ios::binary)
      << bytes.substr(0, layout.grains_sector * 512);
  return 0;
}
