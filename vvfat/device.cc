// SPDX-License-Identifier: MIT
// Serving a vvfat layout (see device.h).
#include "vvfat/device.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/io/file.h"
#include "core/util/mutex.h"

namespace imgfs::vvfat {
namespace {

// Host files kept open between reads: a guest reads a file in many pieces.
constexpr size_t kOpenFiles = 16;

class FatDevice final : public BlockDevice {
 public:
  FatDevice(std::unique_ptr<Layout> layout, std::function<void(const std::string&)> log)
      : l_(std::move(layout)), log_(std::move(log)), warned_(l_->tree.nodes.size()) {
    const Geometry& g = l_->geometry;
    const uint64_t vol = g.volume_offset();
    fat_offset_ = vol + uint64_t{g.fat_start()} * kSectorBytes;
    fat_bytes_ = uint64_t{g.fat_sectors} * kSectorBytes;
    root_offset_ = vol + uint64_t{g.root_start()} * kSectorBytes;
    data_offset_ = vol + uint64_t{g.data_start()} * kSectorBytes;
    used_end_ = data_offset_ + uint64_t{l_->first_free_cluster - kFirstCluster} * g.cluster_bytes();
  }

  uint64_t Size() const override { return l_->geometry.disk_bytes(); }

  Status Read(uint64_t offset, std::span<std::byte> dst) const override {
    IMGFS_RETURN_IF_ERROR(CheckRange(offset, dst.size(), Size()));
    while (!dst.empty()) {
      IMGFS_ASSIGN_OR_RETURN(size_t n, ReadPiece(offset, dst));
      offset += n;
      dst = dst.subspan(n);
    }
    return Status::Ok();
  }

  Status Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const override {
    IMGFS_RETURN_IF_ERROR(CheckRange(offset, length, Size()));
    const uint64_t end = offset + length;
    if (offset < used_end_) {
      out->push_back({offset, std::min(end, used_end_) - offset, ExtentKind::kData, 0, {}, false});
    }
    if (end > used_end_) {
      const uint64_t from = std::max(offset, used_end_);
      out->push_back({from, end - from, ExtentKind::kZero, 0, {}, false});
    }
    return Status::Ok();
  }

  ImageInfo Describe() const override {
    const Geometry& g = l_->geometry;
    ImageInfo info;
    info.format = "vvfat";
    info.filename = l_->tree.root_path;
    info.virtual_size = Size();
    info.actual_size = 0;
    info.cluster_size = g.cluster_bytes();
    info.format_specific = {{"type", "vvfat"},
                            {"data",
                             {{"fat-type", FatTypeName(g.type)},
                              {"clusters", g.cluster_count},
                              {"used-clusters", l_->first_free_cluster - kFirstCluster},
                              {"mbr", g.partition_start > 0},
                              {"entries", l_->tree.nodes.size() - 1}}}};
    return info;
  }

 private:
  // Reads from the start of dst up to the end of the structure that holds
  // `offset`; returns the bytes done.
  Result<size_t> ReadPiece(uint64_t offset, std::span<std::byte> dst) const {
    const Geometry& g = l_->geometry;
    const uint64_t vol = g.volume_offset();
    if (offset < vol) {
      return CopyFrom(l_->mbr, offset, vol, dst);
    }
    if (offset < fat_offset_) {
      return CopyFrom(l_->reserved, offset - vol, fat_offset_ - vol, dst);
    }
    if (offset < root_offset_) {
      const uint64_t in_fat = (offset - fat_offset_) % fat_bytes_;
      const size_t n = static_cast<size_t>(std::min<uint64_t>(dst.size(), fat_bytes_ - in_fat));
      l_->fat->Read(in_fat, dst.first(n));
      return n;
    }
    if (offset < data_offset_) {
      return CopyFrom(l_->root_dir, offset - root_offset_, data_offset_ - root_offset_, dst);
    }
    if (offset >= used_end_) {
      std::memset(dst.data(), 0, dst.size());
      return dst.size();
    }
    return ReadData(
        offset, dst.first(static_cast<size_t>(std::min<uint64_t>(dst.size(), used_end_ - offset))));
  }

  // Copies from an in-memory region [0, region_bytes) whose bytes past
  // `bytes.size()` are zeros.
  static size_t CopyFrom(const std::vector<std::byte>& bytes, uint64_t at, uint64_t region_bytes,
                         std::span<std::byte> dst) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(dst.size(), region_bytes - at));
    const size_t have = at < bytes.size() ? std::min(n, static_cast<size_t>(bytes.size() - at)) : 0;
    if (have > 0) {
      std::memcpy(dst.data(), bytes.data() + at, have);
    }
    std::memset(dst.data() + have, 0, n - have);
    return n;
  }

  Result<size_t> ReadData(uint64_t offset, std::span<std::byte> dst) const {
    const uint64_t cb = l_->geometry.cluster_bytes();
    const uint64_t rel = offset - data_offset_;
    const auto cluster = static_cast<uint32_t>(rel / cb + kFirstCluster);
    const DataRun* run = l_->FindRun(cluster);
    if (run == nullptr) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(dst.size(), cb - rel % cb));
      std::memset(dst.data(), 0, n);
      return n;
    }
    const uint64_t in_run = rel - uint64_t{run->first_cluster - kFirstCluster} * cb;
    const uint64_t run_bytes = uint64_t{run->cluster_count} * cb;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(dst.size(), run_bytes - in_run));
    std::span<std::byte> piece = dst.first(n);
    if (run->dir_index != DataRun::kNotADirectory) {
      return CopyFrom(l_->dirs[run->dir_index], in_run, run_bytes, piece);
    }
    IMGFS_RETURN_IF_ERROR(ReadHost(run->node, in_run, piece));
    return n;
  }

  // File bytes from the host; past the size seen at mount, or past the
  // file's current end when it shrank since, zeros.
  Status ReadHost(uint32_t node, uint64_t at, std::span<std::byte> dst) const {
    const uint64_t size = l_->tree.nodes[node].size_bytes;
    const size_t want =
        at < size ? static_cast<size_t>(std::min<uint64_t>(dst.size(), size - at)) : 0;
    size_t got = 0;
    if (want > 0) {
      auto opened = HostFile(node);
      if (!opened.ok() && opened.status().sys_errno() == ENOENT) {
        // Removed since the mount: like a file that shrank to nothing.
        LogShort(node, size);
        std::memset(dst.data(), 0, dst.size());
        return Status::Ok();
      }
      IMGFS_ASSIGN_OR_RETURN(std::shared_ptr<File> f, std::move(opened));
      while (got < want) {
        IMGFS_ASSIGN_OR_RETURN(size_t n, f->ReadAt(at + got, dst.subspan(got, want - got)));
        if (n == 0) {
          break;
        }
        got += n;
      }
      if (got < want) {
        LogShort(node, size);
      }
    }
    std::memset(dst.data() + got, 0, dst.size() - got);
    return Status::Ok();
  }

  void LogShort(uint32_t node, uint64_t size) const {
    if (!warned_[node].exchange(true) && log_) {
      log_("vvfat: " + l_->tree.HostPath(node) + " is shorter than at mount (" +
           std::to_string(size) + " bytes) or gone; its missing bytes read as zeros");
    }
  }

  Result<std::shared_ptr<File>> HostFile(uint32_t node) const {
    {
      MutexLock lock(&mu_);
      for (OpenFile& o : open_) {
        if (o.file && o.node == node) {
          o.last_use = ++clock_;
          return o.file;
        }
      }
    }
    PosixFileOptions po;
    po.direct_read_ahead = false;
    auto opened = OpenPosixFile(l_->tree.HostPath(node), po);
    if (!opened.ok()) {
      return opened.status().Annotate("vvfat: cannot read a file of the disk");
    }
    std::shared_ptr<File> file(std::move(*opened));
    MutexLock lock(&mu_);
    auto victim = std::min_element(open_.begin(), open_.end(), [](const auto& a, const auto& b) {
      return a.last_use < b.last_use;
    });
    victim->node = node;
    victim->file = file;
    victim->last_use = ++clock_;
    return file;
  }

  struct OpenFile {
    uint32_t node = 0;
    std::shared_ptr<File> file;
    uint64_t last_use = 0;
  };

  std::unique_ptr<Layout> l_;
  std::function<void(const std::string&)> log_;
  mutable std::vector<std::atomic<bool>> warned_;  // by node: shrink logged once
  uint64_t fat_offset_ = 0;
  uint64_t fat_bytes_ = 0;
  uint64_t root_offset_ = 0;
  uint64_t data_offset_ = 0;
  uint64_t used_end_ = 0;
  mutable Mutex mu_;
  mutable std::array<OpenFile, kOpenFiles> open_ IMGFS_GUARDED_BY(mu_);
  mutable uint64_t clock_ IMGFS_GUARDED_BY(mu_) = 0;
};

}  // namespace

std::unique_ptr<BlockDevice> NewFatDevice(std::unique_ptr<Layout> layout,
                                          std::function<void(const std::string&)> log) {
  return std::make_unique<FatDevice>(std::move(layout), std::move(log));
}

Result<std::unique_ptr<BlockDevice>> OpenFatDisk(const std::string& dir, const DiskOptions& options,
                                                 std::function<void(const std::string&)> log) {
  IMGFS_ASSIGN_OR_RETURN(std::unique_ptr<Layout> layout, BuildLayout(dir, options));
  return NewFatDevice(std::move(layout), std::move(log));
}

}  // namespace imgfs::vvfat
