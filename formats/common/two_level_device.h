// SPDX-License-Identifier: MIT
// What the qcow (version 1) and qed drivers share beyond the table walk
// (core/blockmap/two_level_table.h): both name a backing file by a string
// stored in the image and map clusters through an L1/L2 pair, so both
// devices are a TwoLevelDevice that owns the file, the table, the cache
// entries and the backing device, and differs only in what an entry means
// (TwoLevelEntries), its header and what `info` and `check` say.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/block_device.h"
#include "core/blockmap/block_map_device.h"
#include "core/blockmap/two_level_table.h"
#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "core/io/file.h"
#include "core/io/read_around.h"
#include "formats/format_driver.h"

namespace imgfs {

// A backing file as the image names it, and the device opened for it.
struct BackingLink {
  std::string name;                     // as stored; empty without one
  std::string full_name;                // resolved against the image's directory
  std::unique_ptr<BlockDevice> device;  // null: none, or --no-backing
};

// Reads the backing file name of `bytes` bytes at `offset` of `file` and,
// unless --no-backing, opens it through ctx.open_backing with format
// `backing_format` (empty: probe), so that the chain rules apply. Errors
// from reading the name or opening the file; kUnsupported without
// open_backing. `format` prefixes messages.
Result<BackingLink> OpenBackingByName(const OpenContext& ctx, const File& file, uint64_t offset,
                                      uint32_t bytes, const std::string& backing_format,
                                      std::string_view format);

// Everything the shared part of an open image is made of.
struct TwoLevelImage {
  std::unique_ptr<File> file;
  uint64_t file_size = 0;
  BackingLink backing;
  Cache* cache = nullptr;      // not owned; outlives the device
  ThreadPool* pool = nullptr;  // not owned; null: reads on the caller
  ReadAroundMode read_around = ReadAroundMode::kAuto;
};

// The file, cache, pool and read-around options of an open, from `ctx`.
TwoLevelImage TwoLevelImageFrom(std::unique_ptr<File> file, uint64_t file_size,
                                const OpenContext& ctx);

// A BlockMapDevice whose Map is a TwoLevelTable walk over the derived
// class's TwoLevelEntries. Read-only; reads and Extents are thread-safe.
class TwoLevelDevice : public BlockMapDevice, protected TwoLevelEntries {
 public:
  // REQUIRES: image.cache is set; layout.format outlives the device.
  TwoLevelDevice(TwoLevelImage image, const TwoLevelLayout& layout);
  ~TwoLevelDevice() override;

  const BlockDevice* backing() const override { return image_.backing.device.get(); }

 protected:
  Result<Mapping> Map(uint64_t offset, uint64_t max_length) const override {
    return table_.Map(offset, max_length);
  }

  // info's common fields: format, file name, sizes, cluster size, backing.
  ImageInfo BaseInfo(uint64_t cluster_bytes) const;
  // Walks every L2 entry (TwoLevelTable::Walk) and lists the findings in
  // `report`, at most 50 one by one.
  Status WalkForCheck(const std::function<void(uint64_t cluster, uint64_t entry)>& visit,
                      std::vector<std::string>* errors, CheckReport* report) const;

  const TwoLevelImage& image() const { return image_; }
  const TwoLevelTable& table() const { return table_; }
  uint64_t cache_id() const { return cache_id_; }

 private:
  TwoLevelDevice(TwoLevelImage&& image, const TwoLevelLayout& layout,
                 std::unique_ptr<const ReadAround> read_around);

  const char* const format_;
  const TwoLevelImage image_;
  const std::unique_ptr<const ReadAround> read_around_;
  const uint64_t cache_id_;
  const TwoLevelTable table_;
};

}  // namespace imgfs
