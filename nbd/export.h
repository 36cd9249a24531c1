// SPDX-License-Identifier: MIT
// What the nbdkit plugin serves, without nbdkit: the plugin's parameters
// (file=, format=, snapshot=, partition=, ...) and the one opened device
// every connection reads. plugin.cc is the C glue over this.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/block_device.h"
#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "core/result.h"
#include "core/status.h"
#include "formats/format_driver.h"

namespace imgfs::nbd {

// The plugin's parameters, as `nbdkit imgfs key=value ...` gives them.
struct ExportConfig {
  std::string file;                    // file= (required)
  OpenOptions options;                 // format=, no-backing=, confine-backing=
  std::string snapshot;                // snapshot=NAME: an internal snapshot; empty: the image
  std::optional<uint32_t> partition;   // partition=N: one partition (Linux numbering)
  uint64_t cache_bytes = 64ULL << 20;  // cache-size=; the CLI's default
};

// Sets one parameter. kInvalidArgument naming the key for an unknown key or
// a value that does not parse; passphrase-file= reads the file at once. Booleans take 1/0,
// true/false, yes/no, on/off; sizes take K/M/G suffixes (core/util/size.h).
Status SetParameter(ExportConfig* config, std::string_view key, std::string_view value);

// Checks that the parameters are complete (file= given).
Status CheckConfig(const ExportConfig& config);

// The help of the parameters, for `nbdkit imgfs --help` (config_help).
extern const char* const kParameterHelp;

// One opened image, the device shown (the image, one of its snapshots, or a
// partition of either) and what it needs: the cache and the worker pool.
// Read and Extents are safe from many threads at once.
class Export {
 public:
  // Opens config.file as config says. `pool_threads` workers read large
  // requests in parallel (0: none). Errors are one line naming the file.
  static Result<std::unique_ptr<Export>> Open(const ExportConfig& config, unsigned pool_threads);

  Export(const Export&) = delete;
  Export& operator=(const Export&) = delete;
  ~Export() = default;

  const BlockDevice& device() const { return *shown_; }
  uint64_t Size() const { return shown_->Size(); }

  // Reads dst.size() bytes at offset. kOutOfRange past the end.
  Status Read(uint64_t offset, std::span<std::byte> dst) const;

  // The allocation map of a non-empty prefix of [offset, offset + length),
  // as NBD block status: each run with NbdExtentFlags of its kind, adjacent
  // runs of the same flags merged.
  struct Run {
    uint64_t offset = 0;
    uint64_t length = 0;
    uint32_t flags = 0;
  };
  Status Extents(uint64_t offset, uint64_t length, std::vector<Run>* out) const;

 private:
  Export() = default;

  // Declared in the order they must be built; destroyed in reverse, so the
  // views go before the image, the image before the cache and the pool.
  std::optional<ThreadPool> pool_;
  std::unique_ptr<Cache> cache_;
  std::unique_ptr<BlockDevice> image_;
  std::unique_ptr<BlockDevice> snapshot_;   // reads image_
  std::unique_ptr<BlockDevice> partition_;  // a window of image_ or snapshot_
  const BlockDevice* shown_ = nullptr;
};

// NBD block status flags (NBD_STATE_HOLE = 1, NBD_STATE_ZERO = 2) of an
// extent kind, as qemu-nbd answers them: stored data is 0; zero and
// unallocated ranges are hole and zero.
inline constexpr uint32_t kNbdStateHole = 1;
inline constexpr uint32_t kNbdStateZero = 2;
uint32_t NbdExtentFlags(ExtentKind kind);

}  // namespace imgfs::nbd
