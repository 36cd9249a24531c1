// SPDX-License-Identifier: MIT
// Tiny qcow (version 1) and qed writers for tests: geometries qemu-img
// never makes (every cluster_bits and l2_bits qemu opens, qed header and
// table sizes), compressed qcow clusters, qed zero clusters and feature
// bits. Written from the layouts of QEMU's block/qcow.c header comments and
// docs/interop/qed_spec.rst with their own byte stores, sharing no code
// with formats/qcow or formats/qed, and checked against qemu-img by the
// oracle tests. Test code: it checks nothing and writes what it is told,
// so tests can also break images.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

namespace imgfs::testing {

struct QcowSpec {
  uint32_t cluster_bits = 12;
  uint32_t l2_bits = 9;
  uint64_t size_bytes = 0;
  uint32_t crypt_method = 0;
  std::string backing;  // backing file name; empty: none
  // Guest cluster -> contents (zero-padded to a cluster).
  std::map<uint64_t, std::string> clusters;
  std::set<uint64_t> compressed;  // of those, stored as raw deflate
};

struct QedSpec {
  uint32_t cluster_bytes = 4096;
  uint32_t table_clusters = 1;
  uint32_t header_clusters = 1;
  uint64_t image_bytes = 0;
  uint64_t features = 0;  // the backing bit is added when `backing` is set
  uint64_t compat_features = 0;
  std::string backing;
  std::map<uint64_t, std::string> clusters;
  std::set<uint64_t> zero_clusters;  // L2 entry 1
};

// The image file, and the disk it must read as (over `below`, the backing
// disk's bytes, for unallocated clusters; zeros past its end).
std::string BuildQcow(const QcowSpec& spec);
std::string ExpectedQcowDisk(const QcowSpec& spec, const std::string& below = "");
std::string BuildQed(const QedSpec& spec);
std::string ExpectedQedDisk(const QedSpec& spec, const std::string& below = "");

// `n` bytes of a pattern that differs per seed and compresses somewhat.
std::string Pattern(size_t n, uint32_t seed);

}  // namespace imgfs::testing
