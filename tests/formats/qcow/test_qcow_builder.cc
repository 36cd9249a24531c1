// SPDX-License-Identifier: MIT
// The qcow and qed test writers (see test_qcow_builder.h).
#include "tests/formats/qcow/test_qcow_builder.h"

#include <algorithm>

#include "tests/testing/zlib_stream.h"

namespace imgfs::testing {
namespace {

void Put(std::string& s, size_t at, uint64_t v, int bytes, bool big) {
  if (s.size() < at + static_cast<size_t>(bytes)) {
    s.resize(at + static_cast<size_t>(bytes));
  }
  for (int i = 0; i < bytes; ++i) {
    const int shift = big ? 8 * (bytes - 1 - i) : 8 * i;
    s[at + static_cast<size_t>(i)] = static_cast<char>(v >> shift);
  }
}

uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

std::string Padded(const std::string& s, uint64_t n) {
  std::string out = s.substr(0, n);
  out.resize(n);
  return out;
}

std::string Expected(uint64_t size, uint64_t cluster, const std::map<uint64_t, std::string>& data,
                     const std::set<uint64_t>& zeros, const std::string& below) {
  std::string disk = below.substr(0, size);
  disk.resize(size);
  for (const auto& [c, bytes] : data) {
    if (c * cluster < size) {
      disk.replace(c * cluster, std::min(cluster, size - c * cluster), Padded(bytes, cluster), 0,
                   std::min(cluster, size - c * cluster));
    }
  }
  for (uint64_t c : zeros) {
    if (c * cluster < size) {
      disk.replace(c * cluster, std::min(cluster, size - c * cluster),
                   std::min(cluster, size - c * cluster), '\0');
    }
  }
  return disk;
}

}  // namespace

std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    if (i % 16 == 0) {
      x = x * 1103515245u + 12345u;
    }
    s[i] = static_cast<char>((x >> 16) % 7 + 'a');
  }
  return s;
}

std::string BuildQcow(const QcowSpec& spec) {
  const uint64_t cluster = uint64_t{1} << spec.cluster_bits;
  const uint64_t coverage = cluster << spec.l2_bits;
  const uint64_t l1_entries = (spec.size_bytes + coverage - 1) / coverage;
  std::string f(48, '\0');
  Put(f, 0, 0x514649fb, 4, true);
  Put(f, 4, 1, 4, true);
  if (!spec.backing.empty()) {
    Put(f, 8, 48, 8, true);
    Put(f, 16, spec.backing.size(), 4, true);
    f += spec.backing;
  }
  Put(f, 24, spec.size_bytes, 8, true);
  f[32] = static_cast<char>(spec.cluster_bits);
  f[33] = static_cast<char>(spec.l2_bits);
  Put(f, 36, spec.crypt_method, 4, true);
  const uint64_t l1 = AlignUp(f.size(), 512);
  Put(f, 40, l1, 8, true);
  f.resize(AlignUp(l1 + l1_entries * 8, cluster));
  std::map<uint64_t, uint64_t> l2_of;  // L1 index -> L2 offset
  for (const auto& [c, bytes] : spec.clusters) {
    const uint64_t l1_index = c >> spec.l2_bits;
    if (!l2_of.count(l1_index)) {
      l2_of[l1_index] = f.size();
      Put(f, l1 + l1_index * 8, f.size(), 8, true);
      f.resize(AlignUp(f.size() + (uint64_t{8} << spec.l2_bits), cluster));
    }
    const uint64_t entry_at = l2_of[l1_index] + (c & ((uint64_t{1} << spec.l2_bits) - 1)) * 8;
    if (spec.compressed.count(c)) {
      const std::string z = ZlibDeflate(Padded(bytes, cluster));
      Put(f, entry_at,
          (uint64_t{1} << 63) | (uint64_t{z.size()} << (63 - spec.cluster_bits)) | f.size(), 8,
          true);
      f += z;
    } else {
      f.resize(AlignUp(f.size(), cluster));
      Put(f, entry_at, f.size(), 8, true);
      f += Padded(bytes, cluster);
    }
  }
  return f;
}

std::string ExpectedQcowDisk(const QcowSpec& spec, const std::string& below) {
  return Expected(spec.size_bytes / 512 * 512, uint64_t{1} << spec.cluster_bits, spec.clusters, {},
                  below);
}

std::string BuildQed(const QedSpec& spec) {
  const uint64_t cluster = spec.cluster_bytes;
  const uint64_t table = cluster * spec.table_clusters;
  const uint64_t entries = table / 8;
  std::string f(cluster * spec.header_clusters, '\0');
  Put(f, 0, 0x00444551, 4, false);
  Put(f, 4, cluster, 4, false);
  Put(f, 8, spec.table_clusters, 4, false);
  Put(f, 12, spec.header_clusters, 4, false);
  Put(f, 16, spec.features | (spec.backing.empty() ? 0 : 1), 8, false);
  Put(f, 24, spec.compat_features, 8, false);
  const uint64_t l1 = f.size();
  Put(f, 40, l1, 8, false);
  Put(f, 48, spec.image_bytes, 8, false);
  if (!spec.backing.empty()) {
    Put(f, 56, 64, 4, false);
    Put(f, 60, spec.backing.size(), 4, false);
    f.replace(64, spec.backing.size(), spec.backing);
  }
  f.resize(l1 + table);
  std::map<uint64_t, uint64_t> l2_of;
  auto entry_at = [&](uint64_t c) {
    const uint64_t l1_index = c / entries;
    if (!l2_of.count(l1_index)) {
      l2_of[l1_index] = f.size();
      Put(f, l1 + l1_index * 8, f.size(), 8, false);
      f.resize(f.size() + table);
    }
    return l2_of[l1_index] + (c % entries) * 8;
  };
  for (uint64_t c : spec.zero_clusters) {
    Put(f, entry_at(c), 1, 8, false);
  }
  for (const auto& [c, bytes] : spec.clusters) {
    const uint64_t at = entry_at(c);
    Put(f, at, f.size(), 8, false);
    f += Padded(bytes, cluster);
  }
  return f;
}

std::string ExpectedQedDisk(const QedSpec& spec, const std::string& below) {
  return Expected(spec.image_bytes, spec.cluster_bytes, spec.clusters, spec.zero_clusters, below);
}

}  // namespace imgfs::testing
