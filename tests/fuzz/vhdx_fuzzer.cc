// SPDX-License-Identifier: MIT
// libFuzzer target for the vhdx driver: opens the input from memory as
// vhdx with a small cache (headers, region table, metadata, log replay),
// reads the device (whole, or sampled when huge), walks its allocation map,
// describes and checks it. Parents are not followed (follow_backing =
// false), so a differencing image is read as its top layer and the target
// never touches the host.
//
// libFuzzer keeps inputs under 1 MiB, but a VHDX puts its log, metadata,
// BAT and blocks at 1 MiB boundaries past a 1 MiB header section. So the
// input is a compacted image (tests/formats/vhdx/make_vhdx_seeds.cc writes
// the seeds so): its first 320 KiB are the file's first 320 KiB (file type
// identifier, both headers, both region tables), and each following 72 KiB
// window is the start of the next MiB of the file (MiB 1, 2, ...); the rest
// of each MiB reads as zeros. Inputs of 320 KiB or less are the file itself.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/cache/cache.h"
#include "core/io/file.h"
#include "formats/open.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

// Small enough that eviction paths run on ordinary inputs, big enough for
// three 1 MiB sector bitmaps: at 1 MiB none fits, and every read of a
// partially present block reloaded its bitmap.
constexpr uint64_t kCacheBytes = 4u << 20;
constexpr size_t kHeadBytes = 320 << 10;
constexpr size_t kWindowBytes = 72 << 10;  // a 64 KiB table and its first items
constexpr size_t kMiB = 1 << 20;

// The compacted input seen as the file it stands for, without building that
// file: a fresh multi-MiB buffer per input cost more page faults than the
// whole driver's work and kept the target under the CI's floor of inputs.
class CompactedFile final : public imgfs::File {
 public:
  CompactedFile(const uint8_t* data, size_t size)
      : data_(reinterpret_cast<const std::byte*>(data), size),
        windows_(size <= kHeadBytes ? 0 : (size - kHeadBytes + kWindowBytes - 1) / kWindowBytes),
        size_(windows_ == 0 ? size : (windows_ + 1) * kMiB) {}

  imgfs::Result<size_t> ReadAt(uint64_t offset, std::span<std::byte> dst) const override {
    if (offset >= size_) {
      return size_t{0};
    }
    const size_t n = static_cast<size_t>(std::min<uint64_t>(dst.size(), size_ - offset));
    std::fill_n(dst.begin(), n, std::byte{0});
    const uint64_t end = offset + n;
    // Piece p of the file: [file_at, file_at + length) <- data_[data_at...].
    auto copy = [&](uint64_t file_at, size_t data_at, size_t length) {
      const uint64_t from = std::max(offset, file_at);
      const uint64_t to = std::min(end, file_at + length);
      if (from < to) {
        std::copy_n(data_.begin() + static_cast<ptrdiff_t>(data_at + (from - file_at)), to - from,
                    dst.begin() + static_cast<ptrdiff_t>(from - offset));
      }
    };
    if (windows_ == 0) {
      copy(0, 0, data_.size());
      return n;
    }
    copy(0, 0, kHeadBytes);
    const uint64_t first = offset / kMiB == 0 ? 0 : offset / kMiB - 1;
    for (uint64_t w = first; w < windows_ && (w + 1) * kMiB < end; ++w) {
      const size_t data_at = kHeadBytes + static_cast<size_t>(w) * kWindowBytes;
      copy((w + 1) * kMiB, data_at, std::min(kWindowBytes, data_.size() - data_at));
    }
    return n;
  }
  imgfs::Status WriteAt(uint64_t, std::span<const std::byte>) override {
    return imgfs::ReadOnlyError("fuzz input is read-only");
  }
  imgfs::Result<uint64_t> Size() const override { return uint64_t{size_}; }
  imgfs::Status Flush() override { return imgfs::Status(); }
  imgfs::Status Truncate(uint64_t) override {
    return imgfs::ReadOnlyError("fuzz input is read-only");
  }
  const std::string& name() const override { return name_; }

 private:
  std::span<const std::byte> data_;
  uint64_t windows_;
  uint64_t size_;
  std::string name_ = "fuzz.vhdx";
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imgfs::Cache cache(kCacheBytes);
  imgfs::OpenOptions options;
  options.format = "vhdx";
  options.follow_backing = false;
  auto dev = imgfs::OpenImageFile(std::make_unique<CompactedFile>(data, size), options, &cache);
  if (!dev.ok()) {
    return 0;
  }
  imgfs::fuzz::Exercise(**dev);
  return 0;
}
