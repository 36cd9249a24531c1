// SPDX-License-Identifier: MIT
// FormatDriver: what a format contributes. Drivers are plain values listed in
// formats/registry.cc, never self-registered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/block_device.h"
#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "core/io/file.h"
#include "core/io/read_around.h"
#include "core/result.h"

namespace imgfs {

// How images are opened; one value per command line.
struct OpenOptions {
  std::string format;            // empty: probe by magic
  bool follow_backing = true;    // false: show only the top layer (--no-backing)
  bool confine_backing = false;  // refuse backing paths outside the image's dir
  int max_chain_depth = 64;      // qemu-img's own limit is in this range
  bool writable = false;
  // Workers for parallel decompression and read-ahead; null = do it on the
  // calling thread. Not owned; outlives every device opened with it.
  ThreadPool* pool = nullptr;
  // Host I/O: O_DIRECT read-ahead of image files (PosixFileOptions) and
  // read-around of small reads (ReadAroundMode). Measurements change them;
  // the CLI reads IMGFS_HOST_READAHEAD and IMGFS_READ_AROUND into them.
  bool direct_read_ahead = true;
  ReadAroundMode read_around = ReadAroundMode::kAuto;
};

// What a driver's Open gets besides the file. Backing images and external
// data files are opened through these callbacks, so that chain limits, loop
// detection and --confine-backing live in one place (formats/open.cc) and
// fuzzers can refuse them.
struct OpenContext {
  const OpenOptions* options = nullptr;
  Cache* cache = nullptr;  // never null
  std::string path;        // the image path as given (for messages and names)
  int depth = 0;           // 0 = top image of the chain

  // Opens `ref` (as written in the image) as a backing image of this one,
  // with format `fmt` (empty: probe). Returns kNotFound / kPermission /
  // kCorrupt / kInvalidArgument (loop, depth, confinement) with a message.
  std::function<Result<std::unique_ptr<BlockDevice>>(const std::string& ref,
                                                     const std::string& fmt)>
      open_backing;
  // Opens an auxiliary file (e.g. a qcow2 external data file) named `ref`
  // relative to this image.
  std::function<Result<std::unique_ptr<File>>(const std::string& ref)> open_aux_file;
  // Resolves `ref` against the image's directory (for info's full names).
  std::function<std::string(const std::string& ref)> resolve;
};

// What probing looks at: the first bytes, the last bytes (tail-magic
// formats) and the file size.
struct ProbeInput {
  std::span<const std::byte> head;  // up to kProbeHeadBytes
  std::span<const std::byte> tail;  // up to kProbeTailBytes
  uint64_t file_size = 0;
};
inline constexpr size_t kProbeHeadBytes = 4096;
inline constexpr size_t kProbeTailBytes = 512;

struct FormatDriver {
  std::string_view name;  // qemu-img spelling
  std::string_view description;
  // 0 = not this format, 100 = certain. raw answers 1.
  int (*probe)(const ProbeInput& in) = nullptr;
  Result<std::unique_ptr<BlockDevice>> (*open)(std::unique_ptr<File> file,
                                               const OpenContext& ctx) = nullptr;
};

}  // namespace imgfs
