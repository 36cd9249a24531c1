// SPDX-License-Identifier: MIT
// The qcow2 BlockDevice: an opened image (header, files, backing device,
// snapshot table) shared by the active view and its snapshot views.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/block_device.h"
#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "core/io/file.h"
#include "core/io/read_around.h"
#include "formats/qcow2/encryption.h"
#include "formats/qcow2/header.h"
#include "formats/qcow2/snapshots.h"
#include "formats/qcow2/tables.h"

namespace imgfs::qcow2 {

// Everything an open image is made of. Immutable after Open, so every view
// may read it from any thread without a lock.
struct Image {
  Header header;
  Geometry geometry;
  std::shared_ptr<const File> file;
  // The file holding guest data: `file` itself, or the external data file.
  std::shared_ptr<const File> data_file;
  // The backing device, or null (none, or --no-backing).
  std::shared_ptr<const BlockDevice> backing;
  std::vector<Snapshot> snapshots;
  Cache* cache = nullptr;  // outlives every view
  // Workers for large reads (parallel inflate and host reads), or null:
  // everything on the calling thread. Not owned; outlives every view.
  ThreadPool* pool = nullptr;
  // Whole-cluster read-around of `data_file` for small reads, or null.
  std::unique_ptr<const ReadAround> read_around;
  std::string full_backing_filename;
  // How data clusters decrypt, for an encrypted image (encryption.h).
  std::optional<Encryption> encryption;
};

// A view of `image` through the L1 table `l1` with guest size `size_bytes`:
// the active image (snapshot == nullopt) or snapshot number *snapshot.
// Read-only. Thread-safe for reads.
std::unique_ptr<BlockDevice> NewDevice(std::shared_ptr<const Image> image, std::vector<uint64_t> l1,
                                       uint64_t size_bytes, std::optional<size_t> snapshot);

struct CheckOptions {
  // Host clusters whose references are counted at once (4 bytes each, so
  // 64 MiB by default). Larger files are counted window by window, walking
  // the metadata once per window.
  uint64_t window_clusters = uint64_t{1} << 24;
};

// Checks the metadata of `image` whose active L1 table is `l1` (check.cc).
// Returns the findings; an error status only when the image cannot be read.
Result<CheckReport> CheckImage(const Image& image, const std::vector<uint64_t>& l1,
                               const CheckOptions& options = {});

// Reads the header and active L1 table of the qcow2 image in `file` and
// checks it like CheckImage. Opens no data file or backing file (the check
// needs neither). An error status when the header or L1 table cannot be read.
Result<CheckReport> CheckImageFile(std::shared_ptr<const File> file,
                                   const CheckOptions& options = {});

}  // namespace imgfs::qcow2
