// SPDX-License-Identifier: MIT
#include "core/convert/convert.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "core/util/hex.h"

namespace imgfs {
namespace {

// Extents are asked for in windows so that a huge, fragmented device never
// needs its whole allocation map in memory at once.
constexpr uint64_t kExtentWindowBytes = uint64_t{1} << 30;

class RawConverter {
 public:
  RawConverter(const BlockDevice& src, File& out, const ConvertProgressFn& progress)
      : src_(src), out_(out), progress_(progress), buffer_(kConvertChunkBytes) {}

  Result<ConvertStats> Run() {
    const uint64_t size = src_.Size();
    IMGFS_RETURN_IF_ERROR(out_.Truncate(size));
    uint64_t pos = 0;
    while (pos < size) {
      uint64_t window = std::min(kExtentWindowBytes, size - pos);
      std::vector<Extent> extents;
      IMGFS_RETURN_IF_ERROR(CollectExtents(src_, pos, window, &extents));
      for (const Extent& e : extents) {
        IMGFS_RETURN_IF_ERROR(CopyExtent(e, size));
      }
      pos += window;
    }
    IMGFS_RETURN_IF_ERROR(out_.Flush());
    Report(size, size);
    return stats_;
  }

 private:
  Status CopyExtent(const Extent& e, uint64_t size) {
    if (e.kind != ExtentKind::kData) {
      stats_.hole_bytes += e.length;
      Report(e.offset + e.length, size);
      return Status::Ok();
    }
    uint64_t end = e.offset + e.length;
    for (uint64_t pos = e.offset; pos < end;) {
      uint64_t n = std::min(kConvertChunkBytes, end - pos);
      std::span<std::byte> chunk(buffer_.data(), static_cast<size_t>(n));
      Status s = src_.Read(pos, chunk);
      if (!s.ok()) {
        return s.Annotate("cannot read source at " + Hex(pos));
      }
      IMGFS_RETURN_IF_ERROR(WriteNonZero(pos, chunk));
      pos += n;
      Report(pos, size);
    }
    return Status::Ok();
  }

  // Writes the runs of `chunk` that are not all-zero blocks.
  Status WriteNonZero(uint64_t offset, std::span<const std::byte> chunk) {
    size_t run_start = 0;
    size_t run_len = 0;
    for (size_t b = 0; b < chunk.size(); b += kConvertZeroBlockBytes) {
      size_t n = std::min<size_t>(kConvertZeroBlockBytes, chunk.size() - b);
      if (IsAllZero(chunk.subspan(b, n))) {
        IMGFS_RETURN_IF_ERROR(Flush(offset, chunk, run_start, run_len));
        run_len = 0;
        stats_.zero_skipped_bytes += n;
        continue;
      }
      if (run_len == 0) {
        run_start = b;
      }
      run_len += n;
    }
    return Flush(offset, chunk, run_start, run_len);
  }

  Status Flush(uint64_t offset, std::span<const std::byte> chunk, size_t start, size_t len) {
    if (len == 0) {
      return Status::Ok();
    }
    Status s = out_.WriteAt(offset + start, chunk.subspan(start, len));
    if (!s.ok()) {
      return s.Annotate("cannot write output at " + Hex(offset + start));
    }
    stats_.written_bytes += len;
    return Status::Ok();
  }

  void Report(uint64_t done, uint64_t total) const {
    if (progress_) {
      progress_(done, total);
    }
  }

  const BlockDevice& src_;
  File& out_;
  const ConvertProgressFn& progress_;
  std::vector<std::byte> buffer_;
  ConvertStats stats_;
};

}  // namespace

bool IsAllZero(std::span<const std::byte> data) {
  // Compare 8 bytes at a time; the tail byte by byte.
  size_t i = 0;
  for (; i + sizeof(uint64_t) <= data.size(); i += sizeof(uint64_t)) {
    uint64_t word;
    std::memcpy(&word, data.data() + i, sizeof word);
    if (word != 0) {
      return false;
    }
  }
  for (; i < data.size(); ++i) {
    if (data[i] != std::byte{0}) {
      return false;
    }
  }
  return true;
}

Result<ConvertStats> ConvertToRaw(const BlockDevice& src, File& out,
                                  const ConvertProgressFn& progress) {
  RawConverter converter(src, out, progress);
  return converter.Run();
}

}  // namespace imgfs
