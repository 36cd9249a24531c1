// SPDX-License-Identifier: MIT
// The cloop read path (see device.h): block = offset / block_size, then the
// chunk engine. The image is immutable and File reads are positional, so
// the device takes no lock.
#include "formats/cloop/device.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "core/chunk/chunk_engine.h"
#include "core/codec/codec.h"
#include "core/util/hex.h"

namespace imgfs::cloop {
namespace {

class Device final : public BlockDevice, private ChunkSource {
 public:
  explicit Device(Image image)
      : image_(std::move(image)),
        cache_id_(image_.cache->NewId()),
        engine_(this, EngineOptions(image_, cache_id_)) {}
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  ~Device() override {
    engine_.Close();
    image_.cache->EraseDevice(cache_id_);
  }

  uint64_t Size() const override { return image_.head.disk_bytes(); }
  Status Read(uint64_t offset, std::span<std::byte> dst) const override;
  Status Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const override;
  ImageInfo Describe() const override;
  Result<CheckReport> Check() const override;

 private:
  static ChunkEngine::Options EngineOptions(const Image& image, uint64_t cache_id) {
    ChunkEngine::Options o;
    o.cache = image.cache;
    o.pool = image.pool;
    o.cache_id = cache_id;
    o.max_chunk_bytes = image.head.block_bytes;
    return o;
  }
  ChunkInfo Info(uint64_t block) const {
    const uint64_t n = image_.head.block_bytes;
    return ChunkInfo{.index = block, .first_byte = block * n, .decoded_bytes = n};
  }
  // ChunkSource:
  Status Decode(const ChunkInfo& chunk, std::span<std::byte> out) const override;
  void ForEachChunkIn(uint64_t from_bytes, uint64_t to_bytes,
                      const std::function<bool(const ChunkInfo&)>& visit) const override;

  const Image image_;
  const uint64_t cache_id_;
  ChunkEngine engine_;  // calls Decode and ForEachChunkIn until closed
};

Status Device::Decode(const ChunkInfo& chunk, std::span<std::byte> out) const {
  const Block& b = image_.blocks[static_cast<size_t>(chunk.index)];
  if (b.compressor == Compressor::kNone) {
    return image_.file->ReadExactAt(b.offset, out, "cloop: uncompressed block");
  }
  ChunkInputBuffer in(static_cast<size_t>(b.stored_bytes));
  std::span<std::byte> stored = in.bytes();
  IMGFS_RETURN_IF_ERROR(image_.file->ReadExactAt(b.offset, stored, "cloop: block"));
  // DecodeIndex let only decodable compressors through.
  Status s =
      codec::Decompress(CompressorCodec(b.compressor).value_or(codec::Codec::kZlib), stored, out);
  return s.ok() ? s
                : s.Annotate("cloop: " + CompressorName(b.compressor) + " block " +
                             std::to_string(chunk.index) + " at " + Hex(b.offset));
}

void Device::ForEachChunkIn(uint64_t from_bytes, uint64_t to_bytes,
                            const std::function<bool(const ChunkInfo&)>& visit) const {
  const uint64_t n = image_.head.block_bytes;
  const uint64_t last = std::min<uint64_t>(image_.blocks.size(), (to_bytes + n - 1) / n);
  for (uint64_t block = (from_bytes + n - 1) / n; block < last; ++block) {
    if (!visit(Info(block))) {
      return;
    }
  }
}

Status Device::Read(uint64_t offset, std::span<std::byte> dst) const {
  IMGFS_RETURN_IF_ERROR(CheckRange(offset, dst.size(), Size()));
  const uint64_t n = image_.head.block_bytes;
  std::vector<ChunkPiece> pieces;
  pieces.reserve(dst.size() / n + 2);
  for (size_t done = 0; done < dst.size();) {
    const uint64_t pos = offset + done;
    const uint64_t in_block = pos % n;
    const size_t len = static_cast<size_t>(std::min<uint64_t>(n - in_block, dst.size() - done));
    pieces.push_back(ChunkPiece{Info(pos / n), in_block, dst.subspan(done, len)});
    done += len;
  }
  return engine_.Read(offset, dst.size(), pieces);
}

// All data: compressed blocks, and uncompressed V4.0 blocks with their host
// offset. cloop has no holes.
Status Device::Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const {
  IMGFS_RETURN_IF_ERROR(CheckRange(offset, length, Size()));
  if (length == 0) {
    return InvalidArgumentError("cloop: extent query of zero length");
  }
  const uint64_t n = image_.head.block_bytes;
  const size_t first = out->size();
  const uint64_t end = offset + length;
  uint64_t pos = offset;
  for (size_t count = 0; pos < end && count < 4096; ++count) {
    const Block& b = image_.blocks[static_cast<size_t>(pos / n)];
    const uint64_t stop = std::min(end, (pos / n + 1) * n);
    Extent e{pos, stop - pos, ExtentKind::kData, 0, std::nullopt, true};
    if (b.compressor == Compressor::kNone) {
      e.compressed = false;
      e.host_offset = b.offset + pos % n;
    }
    out->push_back(e);
    pos = stop;
  }
  CoalesceExtents(out, first);
  return Status::Ok();
}

ImageInfo Device::Describe() const {
  const Head& h = image_.head;
  ImageInfo info = FileImageInfo("cloop", *image_.file, Size());
  // qemu-img shows no format-specific data for cloop; these are the head's
  // own fields and the compressors the blocks use.
  nlohmann::json data;
  data["version"] = h.version == 4 ? "4.0" : "2.0";
  data["header"] = h.placement == Placement::kHeaderFirst ? "first" : "last";
  data["block-size"] = h.block_bytes;
  data["blocks"] = h.block_count;
  nlohmann::json compressors = nlohmann::json::array();
  for (int c = 0; c <= static_cast<int>(Compressor::kLzo); ++c) {
    const auto comp = static_cast<Compressor>(c);
    if (std::any_of(image_.blocks.begin(), image_.blocks.end(),
                    [&](const Block& b) { return b.compressor == comp; })) {
      compressors.push_back(CompressorName(comp));
    }
  }
  data["compressors"] = compressors;
  info.format_specific = nlohmann::json{{"type", "cloop"}, {"data", data}};
  return info;
}

// Every block decodes to exactly block_size bytes.
Result<CheckReport> Device::Check() const {
  CheckReport report;
  std::vector<std::byte> out(image_.head.block_bytes);
  size_t bad = 0;
  for (uint64_t i = 0; i < image_.blocks.size(); ++i) {
    Status s = Decode(Info(i), out);
    if (!s.ok() && ++bad <= 50) {
      report.errors.push_back(s.message());
    }
  }
  if (bad > 50) {
    report.errors.push_back("cloop: " + std::to_string(bad - 50) + " more errors not listed");
  }
  report.checked.push_back("cloop: " + std::to_string(image_.blocks.size()) +
                           " blocks decoded to " + std::to_string(image_.head.block_bytes) +
                           " bytes each");
  return report;
}

}  // namespace

std::unique_ptr<BlockDevice> NewDevice(Image image) {
  return std::make_unique<Device>(std::move(image));
}

}  // namespace imgfs::cloop
