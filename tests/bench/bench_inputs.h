// SPDX-License-Identifier: MIT
// Benchmark inputs: a deterministic "disk-like" data generator and images
// built from it with qemu-img in a temporary directory. Shared by the
// tests/bench programs; nothing here is timed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/block_device.h"
#include "core/cache/cache.h"

namespace imgfs::bench {

// Fills `dst` with data that compresses roughly 2x with zlib/zstd, like a
// used disk: per 4 KiB block, 25% random bytes, 10% zeros, 30% text-like
// bytes (a 16-letter alphabet) and 35% a 256-byte text record repeated.
// The same (seed, offset) always gives the same bytes, so images are
// reproducible. REQUIRES: offset and dst.size() are multiples of 4096.
void FillDiskLikeData(uint64_t seed, uint64_t offset, std::span<std::byte> dst);

// The image variants the read benchmarks compare: qcow2 ones, and a vmdk
// streamOptimized disk (zlib-compressed 64 KiB grains with markers).
enum class Variant { kRaw, kQcow2, kQcow2Zlib, kQcow2Zstd, kVmdkStream };
const char* VariantName(Variant v);

// The process-wide set of generated images. Built on first use in a fresh
// temporary directory ($TMPDIR or /tmp) that is removed at exit, or reused
// from $IMGFS_BENCH_DIR when set (files there are kept and regenerated only
// when missing). The image size is $IMGFS_BENCH_MIB MiB (default 256).
// Thread-safe.
class Inputs {
 public:
  static Inputs& Get();
  Inputs(const Inputs&) = delete;
  Inputs& operator=(const Inputs&) = delete;

  // The path of `v`'s image, or the reason it could not be made (e.g.
  // "qemu-img not found in PATH"), for state.SkipWithError.
  struct PathOrError {
    std::string path;
    std::string error;
  };
  PathOrError PathFor(Variant v);

  uint64_t image_bytes() const { return image_bytes_; }

 private:
  Inputs();
  ~Inputs();
  std::string MakeRaw();
  std::string MakeConverted(Variant v);

  std::string dir_;
  bool remove_dir_ = false;
  uint64_t image_bytes_ = 0;
};

// An opened image with its own cache. Opening fails (error set) when the
// file cannot be opened or is not in the expected format (e.g. a qcow2 file
// probed as raw because the qcow2 driver is not built).
struct OpenedImage {
  // Declared before device, so it is destroyed after it. Do not move-assign
  // an OpenedImage: that replaces the cache first.
  std::unique_ptr<Cache> cache;
  std::unique_ptr<BlockDevice> device;
  std::string error;
};
OpenedImage OpenForBench(Variant v, uint64_t cache_bytes);

// Drops the host page cache for `path` (posix_fadvise DONTNEED); used by
// cold benchmarks when $IMGFS_BENCH_DROP_PAGE_CACHE=1.
void DropPageCache(const std::string& path);
bool DropPageCacheRequested();

// Random 4 KiB-aligned offsets inside [0, size - 4096], from a fixed seed.
std::vector<uint64_t> RandomOffsets(uint64_t size_bytes, size_t count, uint64_t seed);

// Bytes of disk-like data the codec benchmarks compress and decode:
// $IMGFS_BENCH_CODEC_MIB MiB (default 32).
size_t CodecDataBytes();

}  // namespace imgfs::bench
