// SPDX-License-Identifier: MIT
// The whole layout of a vvfat disk, computed once: the host tree, the
// geometry, the sectors held in memory (MBR, reserved area, directories)
// and a sorted map from cluster runs to the nodes whose bytes they hold.
// Files are contiguous runs; their bytes stay in the host files.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "vvfat/boot.h"
#include "vvfat/fat.h"
#include "vvfat/geometry.h"
#include "vvfat/tree.h"

namespace imgfs::vvfat {

struct DiskOptions {
  PlanOptions plan;
  std::string label;        // volume label; empty: none ("NO NAME" in the BPB)
  bool skip_large = false;  // leave out files over 4 GiB - 1 instead of failing
  // Warnings (skipped files) and, for each name shown differently from the
  // host's, "<path>: shown as <name>".
  std::function<void(const std::string&)> warn;
  std::function<void(const std::string&)> renamed;
  // The tree is scanned and named on this pool when set (the same layout
  // without one).
  ThreadPool* pool = nullptr;
};

// One cluster run of the data area.
struct DataRun {
  uint32_t first_cluster = 0;
  uint32_t cluster_count = 0;
  uint32_t node = 0;                    // index into tree.nodes
  uint32_t dir_index = kNotADirectory;  // index into Layout::dirs, for directories
  static constexpr uint32_t kNotADirectory = 0xffffffff;
};

struct Layout {
  Geometry geometry;
  Tree tree;
  uint32_t serial = 0;
  std::vector<std::byte> mbr;                // one sector, or empty without an MBR
  std::vector<std::byte> reserved;           // the volume's reserved sectors
  std::vector<std::byte> root_dir;           // FAT12/16's fixed root directory
  std::vector<std::vector<std::byte>> dirs;  // directory clusters (FAT32 root first)
  std::vector<DataRun> runs;                 // ascending first_cluster
  std::unique_ptr<FatTable> fat;
  uint32_t first_free_cluster = kFirstCluster;

  // The run that holds `cluster`, or nullptr (free).
  const DataRun* FindRun(uint32_t cluster) const;
};

// Validates and pads a volume label: at most 11 characters that a short
// name may hold, stored upper case. kInvalidArgument otherwise.
Result<VolumeLabel> ParseVolumeLabel(const std::string& label);

// Scans `dir` and lays it out. Fails with a one-line message naming the
// problem: dir missing or not a directory, a file too large, a directory
// with more than 65536 entries, a root directory that overflows, a tree
// that does not fit the size or type asked.
Result<std::unique_ptr<Layout>> BuildLayout(const std::string& dir, const DiskOptions& options);

}  // namespace imgfs::vvfat
