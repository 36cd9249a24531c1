// SPDX-License-Identifier: MIT
// Computing a vvfat disk's layout (see layout.h).
#include "vvfat/layout.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string_view>

#include "core/exec/thread_pool.h"
#include "core/util/checked.h"
#include "vvfat/dirent.h"
#include "vvfat/names.h"

namespace imgfs::vvfat {
namespace {

const std::array<char, 11> kDot = {'.', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
const std::array<char, 11> kDotDot = {'.', '.', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

// IMGFS_FAT_TRACE=1: the time each phase of the layout takes (wall clock,
// and the CPU time of all the process's threads), on stderr.
class PhaseTrace {
 public:
  PhaseTrace() : on_(std::getenv("IMGFS_FAT_TRACE") != nullptr) { Now(&wall_, &cpu_); }
  void Mark(const char* phase) {
    if (!on_) {
      return;
    }
    double wall = 0;
    double cpu = 0;
    Now(&wall, &cpu);
    std::fprintf(stderr, "imgfs: trace: %-8s %8.3f s wall %8.3f s cpu\n", phase, wall - wall_,
                 cpu - cpu_);
    wall_ = wall;
    cpu_ = cpu;
  }

 private:
  static void Now(double* wall, double* cpu) {
    struct timespec ts {};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    *wall = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    *cpu = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }

  bool on_;
  double wall_ = 0;
  double cpu_ = 0;
};

// FNV-1a, for the volume serial number: the same tree gives the same one.
class Fnv {
 public:
  void Add(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      h_ = (h_ ^ p[i]) * 16777619U;
    }
  }
  void Add(uint64_t v) { Add(&v, sizeof v); }
  uint32_t value() const { return h_; }

 private:
  uint32_t h_ = 2166136261U;
};

class Builder {
 public:
  Builder(const DiskOptions& o, Layout* out) : o_(o), out_(out) {}

  Status Run(const std::string& dir) {
    IMGFS_ASSIGN_OR_RETURN(label_, ParseVolumeLabel(o_.label));
    ScanOptions so;
    so.skip_large = o_.skip_large;
    so.warn = o_.warn;
    so.pool = o_.pool;
    PhaseTrace trace;
    IMGFS_ASSIGN_OR_RETURN(out_->tree, ScanTree(dir, so));
    trace.Mark("scan");
    const std::vector<Node>& nodes = out_->tree.nodes;
    names_.resize(nodes.size());
    entries_.assign(nodes.size(), 0);
    std::vector<uint32_t> dirs;
    for (uint32_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i].is_dir) {
        dirs.push_back(i);
      }
    }
    // Each directory's names are made on the pool; they are reported and
    // counted in the tree's order.
    ParallelFor(o_.pool, dirs.size(), [&](size_t k) { MangleChildren(dirs[k]); });
    for (uint32_t d : dirs) {
      IMGFS_RETURN_IF_ERROR(NameChildren(d));
    }
    trace.Mark("names");
    IMGFS_ASSIGN_OR_RETURN(out_->geometry, PlanGeometry(o_.plan, MakeNeeds()));
    trace.Mark("plan");
    Allocate();
    trace.Mark("allocate");
    Encode();
    trace.Mark("encode");
    return Status::Ok();
  }

 private:
  // The names of a directory's children, into names_. Thread-safe for
  // different directories.
  void MangleChildren(uint32_t dir) {
    const Node& d = out_->tree.nodes[dir];
    std::vector<std::string_view> host(d.child_count);
    for (uint32_t k = 0; k < d.child_count; ++k) {
      host[k] = out_->tree.nodes[d.first_child + k].name;
    }
    std::vector<FatName> names = MangleDirectory(std::span<const std::string_view>(host));
    for (uint32_t k = 0; k < d.child_count; ++k) {
      names_[d.first_child + k] = std::move(names[k]);
    }
  }

  // Reports a directory's changed names and counts its entries.
  Status NameChildren(uint32_t dir) {
    const Node& d = out_->tree.nodes[dir];
    uint64_t count = dir == 0 ? (o_.label.empty() ? 0 : 1) : 2;
    for (uint32_t k = 0; k < d.child_count; ++k) {
      const FatName& name = names_[d.first_child + k];
      if (name.changed && o_.renamed) {
        o_.renamed(out_->tree.RelativePath(d.first_child + k) + ": shown as " + name.shown);
      }
      count += EntryCount(name);
    }
    if (count > kMaxDirEntries) {
      return UnsupportedError("vvfat: directory " + out_->tree.HostPath(dir) + " needs " +
                              std::to_string(count) + " entries; FAT allows " +
                              std::to_string(kMaxDirEntries) + " in one directory");
    }
    entries_[dir] = static_cast<uint32_t>(count);
    return Status::Ok();
  }

  Needs MakeNeeds() const {
    Needs n;
    for (const Node& node : out_->tree.nodes) {
      n.data_bytes += node.size_bytes;
    }
    n.root_entries = entries_[0];
    n.clusters = [this](uint64_t cluster_bytes) {
      uint64_t total = 0;
      const std::vector<Node>& nodes = out_->tree.nodes;
      for (size_t i = 1; i < nodes.size(); ++i) {
        total += DivRoundUp(
            nodes[i].is_dir ? uint64_t{entries_[i]} * kDirEntryBytes : nodes[i].size_bytes,
            cluster_bytes);
      }
      return total;
    };
    return n;
  }

  uint32_t DirClusters(uint32_t node) const {
    const uint64_t bytes = uint64_t{entries_[node]} * kDirEntryBytes;
    return static_cast<uint32_t>(
        std::max<uint64_t>(1, DivRoundUp(bytes, out_->geometry.cluster_bytes())));
  }

  void AddRun(uint32_t node, uint32_t clusters, bool is_dir) {
    DataRun r;
    r.first_cluster = next_;
    r.cluster_count = clusters;
    r.node = node;
    if (is_dir) {
      r.dir_index = static_cast<uint32_t>(out_->dirs.size());
      out_->dirs.emplace_back(size_t{clusters} * out_->geometry.cluster_bytes());
    }
    first_cluster_[node] = next_;
    out_->runs.push_back(r);
    next_ += clusters;
  }

  void Allocate() {
    const std::vector<Node>& nodes = out_->tree.nodes;
    const uint64_t cb = out_->geometry.cluster_bytes();
    first_cluster_.assign(nodes.size(), 0);
    if (out_->geometry.type == FatType::kFat32) {
      AddRun(0, DirClusters(0), true);
    } else {
      out_->root_dir.resize(size_t{out_->geometry.root_entries} * kDirEntryBytes);
    }
    for (uint32_t i = 1; i < nodes.size(); ++i) {
      if (nodes[i].is_dir) {
        AddRun(i, DirClusters(i), true);
      } else if (nodes[i].size_bytes > 0) {
        AddRun(i, static_cast<uint32_t>(DivRoundUp(nodes[i].size_bytes, cb)), false);
      }
    }
    out_->first_free_cluster = next_;
  }

  EntryFields Fields(uint32_t node) const {
    const Node& n = out_->tree.nodes[node];
    EntryFields f;
    f.attr = n.is_dir ? kAttrDirectory : kAttrArchive;
    if (n.read_only) {
      f.attr |= kAttrReadOnly;
    }
    f.first_cluster = first_cluster_[node];
    f.size_bytes = static_cast<uint32_t>(n.size_bytes);
    f.mtime = n.mtime;
    f.atime = n.atime;
    f.btime = n.btime;
    return f;
  }

  void EncodeDir(uint32_t dir, std::span<std::byte> out) {
    const Node& d = out_->tree.nodes[dir];
    size_t at = 0;
    if (dir == 0) {
      if (!o_.label.empty()) {
        EntryFields f = Fields(0);
        f.attr = kAttrVolumeId;
        f.first_cluster = 0;
        EncodeShortEntry(label_, 0, f, out.data());
        at += kDirEntryBytes;
      }
    } else {
      EncodeShortEntry(kDot, 0, Fields(dir), out.data());
      // ".." of a first-level directory points to cluster 0, even on FAT32.
      EntryFields parent = Fields(d.parent);
      if (d.parent == 0) {
        parent.first_cluster = 0;
      }
      EncodeShortEntry(kDotDot, 0, parent, out.data() + kDirEntryBytes);
      at = 2 * kDirEntryBytes;
    }
    for (uint32_t k = 0; k < d.child_count; ++k) {
      const uint32_t child = d.first_child + k;
      at += EncodeEntries(names_[child], Fields(child), out.subspan(at));
      names_[child] = FatName();  // not needed any more
    }
  }

  void Encode() {
    Geometry& g = out_->geometry;
    std::vector<uint32_t> ends;
    ends.reserve(out_->runs.size());
    for (const DataRun& r : out_->runs) {
      ends.push_back(r.first_cluster + r.cluster_count - 1);
      if (r.dir_index != DataRun::kNotADirectory) {
        EncodeDir(r.node, out_->dirs[r.dir_index]);
      }
    }
    if (g.type != FatType::kFat32) {
      EncodeDir(0, out_->root_dir);
    }
    out_->fat = std::make_unique<FatTable>(g, std::move(ends), next_);
    Fnv h;
    for (const Node& n : out_->tree.nodes) {
      h.Add(n.name.data(), n.name.size());
      h.Add(n.parent);
      h.Add(n.size_bytes);
      h.Add(static_cast<uint64_t>(n.mtime.tv_sec));
    }
    h.Add(g.volume_sectors);
    out_->serial = h.value();
    const uint32_t free_clusters = g.cluster_count + kFirstCluster - next_;
    const uint32_t next_free = free_clusters > 0 ? next_ : 0xffffffff;
    out_->reserved = EncodeReservedArea(g, out_->serial, label_, free_clusters, next_free);
    if (g.partition_start > 0) {
      const Sector mbr = EncodeMbr(g, out_->serial);
      out_->mbr.assign(mbr.begin(), mbr.end());
    }
  }

  const DiskOptions& o_;
  Layout* out_;
  VolumeLabel label_{};
  std::vector<FatName> names_;           // by node, until its directory is encoded
  std::vector<uint32_t> entries_;        // directories: 32-byte entries they hold
  std::vector<uint32_t> first_cluster_;  // by node
  uint32_t next_ = kFirstCluster;
};

}  // namespace

const DataRun* Layout::FindRun(uint32_t cluster) const {
  auto it = std::upper_bound(runs.begin(), runs.end(), cluster,
                             [](uint32_t c, const DataRun& r) { return c < r.first_cluster; });
  if (it == runs.begin()) {
    return nullptr;
  }
  --it;
  return cluster - it->first_cluster < it->cluster_count ? &*it : nullptr;
}

Result<VolumeLabel> ParseVolumeLabel(const std::string& label) {
  VolumeLabel out;
  out.fill(' ');
  if (label.size() > out.size()) {
    return InvalidArgumentError("vvfat: volume label '" + label + "' is longer than 11 characters");
  }
  for (size_t i = 0; i < label.size(); ++i) {
    const char c = label[i];
    const char u = c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    if (static_cast<unsigned char>(u) >= 0x80 || !IsShortNameChar(static_cast<unsigned char>(u)) ||
        (i == 0 && u == ' ')) {
      return InvalidArgumentError("vvfat: volume label '" + label +
                                  "' holds a character FAT labels cannot (use A-Z, 0-9, space "
                                  "and !#$%&'()-@^_`{}~)");
    }
    out[i] = u;
  }
  if (label.empty()) {
    const char kNoName[] = "NO NAME    ";
    std::copy(kNoName, kNoName + out.size(), out.begin());
  }
  return out;
}

Result<std::unique_ptr<Layout>> BuildLayout(const std::string& dir, const DiskOptions& options) {
  auto layout = std::make_unique<Layout>();
  Builder b(options, layout.get());
  IMGFS_RETURN_IF_ERROR(b.Run(dir));
  return layout;
}

}  // namespace imgfs::vvfat
