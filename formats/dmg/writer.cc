// SPDX-License-Identifier: MIT
// Where each field's value comes from (hdiutil-made images, field by field
// in formats/dmg/WRITER.md):
//   koly  version 4, header 512, flags 1 (flattened), data fork at 0, no
//         resource fork (offset and length 0 in XML-only images), segment
//         number/count 0/0 with a zero segment ID and no data-fork checksum
//         (the newer of hdiutil's two forms, see WriteTrailer), XML
//         offset/length, master checksum (see MasterChecksum), variant 1
//         for a partitioned device and 2 for a bare volume, sector count.
//   mish  version 1, data offset 0 (chunk offsets are absolute in the data
//         fork), buffers-needed per codec (BuffersNeeded), the region's
//         block descriptor (layout.h), CRC-32 of the blkx's sectors with
//         ignore chunks left out, chunks in sector order, then a terminator
//         (0xffffffff at the blkx's end sector, offset and length 0).
//   chunks zero runs as AppendZeroChunks shapes them (zero-fill within one
//         chunk cell, ignore for whole cells and free space); a chunk whose
//         compressed form is not smaller is stored raw.
#include "formats/dmg/writer.h"

#include <algorithm>
#include <array>
#include <deque>
#include <future>
#include <memory>

#include "core/util/checked.h"
#include "core/util/crc32.h"
#include "core/util/hex.h"
#include "formats/dmg/codec.h"
#include "formats/dmg/plist_writer.h"

namespace imgfs::dmg {
namespace {

constexpr size_t kOutputBufferBytes = size_t{4} << 20;
// Appends of at least this many bytes (a compressed 1 MiB chunk is 0.3 to
// 1 MiB) are written from the caller's memory: copying them through the
// buffer cost a memmove of the whole data fork to save one write() a chunk.
constexpr size_t kDirectWriteBytes = size_t{64} << 10;
// hdiutil's documented default zlib-level for UDZO.
constexpr int kUdzoDefaultLevel = 1;
// koly flags: bit 0, "flattened", is set in every hdiutil-made image.
constexpr uint32_t kKolyFlagsFlattened = 1;

struct FormatInfo {
  DmgFormat format;
  std::string_view name;
  std::optional<ChunkType> codec;
};
constexpr FormatInfo kFormats[] = {
    {DmgFormat::kUdzo, "UDZO", ChunkType::kZlib}, {DmgFormat::kUdbz, "UDBZ", ChunkType::kBzip2},
    {DmgFormat::kUlmo, "ULMO", ChunkType::kLzma}, {DmgFormat::kUlfo, "ULFO", ChunkType::kLzfse},
    {DmgFormat::kUdco, "UDCO", ChunkType::kAdc},  {DmgFormat::kUdro, "UDRO", std::nullopt},
    {DmgFormat::kUdrw, "UDRW", std::nullopt},
};

const FormatInfo& Info(DmgFormat format) {
  for (const FormatInfo& f : kFormats) {
    if (f.format == format) {
      return f;
    }
  }
  return kFormats[0];
}

// The data fork, written front to back through a buffer. Skip leaves a
// hole (UDRW's zero chunks).
class ForkWriter {
 public:
  explicit ForkWriter(File& out) : out_(out) { buffer_.reserve(kOutputBufferBytes); }

  uint64_t offset() const { return end_; }

  Status Append(std::span<const std::byte> bytes) {
    if (buffer_.size() + bytes.size() > kOutputBufferBytes || bytes.size() >= kDirectWriteBytes) {
      IMGFS_RETURN_IF_ERROR(Flush());
    }
    if (bytes.size() >= kDirectWriteBytes) {
      IMGFS_RETURN_IF_ERROR(WriteAt(end_, bytes));
      buffer_start_ = end_ + bytes.size();
    } else {
      buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
    }
    end_ += bytes.size();
    return Status::Ok();
  }

  Status Skip(uint64_t length) {
    IMGFS_RETURN_IF_ERROR(Flush());
    end_ += length;
    buffer_start_ = end_;
    return Status::Ok();
  }

  Status Flush() {
    if (!buffer_.empty()) {
      IMGFS_RETURN_IF_ERROR(WriteAt(buffer_start_, buffer_));
      buffer_.clear();
    }
    buffer_start_ = end_;
    return Status::Ok();
  }

 private:
  Status WriteAt(uint64_t offset, std::span<const std::byte> bytes) {
    Status s = out_.WriteAt(offset, bytes);
    return s.ok() ? s : s.Annotate("dmg: cannot write data fork at " + Hex(offset));
  }

  File& out_;
  std::vector<std::byte> buffer_;
  uint64_t buffer_start_ = 0;  // file offset of buffer_[0]
  uint64_t end_ = 0;           // logical end of the data fork
};

// One chunk's worth of work: read, test for zeros, compress, checksum.
struct Job {
  size_t region = 0;
  uint64_t first_sector = 0;  // absolute
  uint64_t sector_count = 0;
  bool read = false;  // false: known zeros (a hole), nothing to read
  // The sectors read, not zero-filled first (a memset of every chunk).
  // Allocated by the worker (glibc gives it back the memory it used last):
  // recycling buffers through the writing thread, which moves them between
  // the workers' cores, measured 5 % slower in dmg_convert_bench.
  std::unique_ptr<std::byte[]> input;
  // Results, valid once `done` is ready.
  Status status;
  ChunkType type = ChunkType::kZeroFill;  // kZeroFill also for all-zero data
  std::vector<std::byte> packed;          // the compressed form, when smaller
  std::span<const std::byte> bytes;       // what the data fork stores: packed or input
  uint32_t data_crc = 0;                  // over the uncompressed sectors
  std::promise<void> promise;
  std::future<void> done = promise.get_future();
};

// The blkx being filled.
struct RegionState {
  size_t index = 0;
  BlkxTable table;
  uint32_t crc = 0;
  // A zero run not yet written as chunks: [zero_begin, zero_end) relative
  // to the region's first sector; empty when equal.
  uint64_t zero_begin = 0;
  uint64_t zero_end = 0;
};

struct FinishedBlkx {
  std::string name;
  int32_t id = -1;
  std::vector<std::byte> mish;
  UdifChecksum checksum;
};

class DmgWriter {
 public:
  DmgWriter(const BlockDevice& src, File& out, const DmgWriteOptions& options)
      : src_(src),
        out_(out),
        options_(options),
        codec_(FormatCodec(options.format)),
        level_(options.level >= 0                   ? options.level
               : options.format == DmgFormat::kUdzo ? kUdzoDefaultLevel
                                                    : -1),
        flat_(options.format == DmgFormat::kUdrw),
        window_(options.pool != nullptr ? 2 * size_t{options.pool->size()} + 2 : 1),
        fork_(out) {}

  DmgWriter(const DmgWriter&) = delete;
  DmgWriter& operator=(const DmgWriter&) = delete;

  // In-flight jobs touch src_ and options_: wait for them on every path.
  ~DmgWriter() {
    for (auto& job : inflight_) {
      job->done.wait();
    }
  }

  Result<DmgWriteStats> Run() {
    if (options_.chunk_sectors == 0 || options_.chunk_sectors > kMaxChunkSectors) {
      return InvalidArgumentError("dmg: chunk size must be 1 to " +
                                  std::to_string(kMaxChunkSectors) + " sectors");
    }
    IMGFS_ASSIGN_OR_RETURN(layout_, PlanDeviceLayout(src_));
    stats_.sector_count = layout_.sector_count;
    stats_.padding_bytes = layout_.sector_count * kSectorBytes - layout_.size_bytes;
    stats_.notes = layout_.notes;
    for (size_t r = 0; r < layout_.regions.size(); ++r) {
      IMGFS_RETURN_IF_ERROR(QueueRegion(r));
    }
    while (!inflight_.empty()) {
      IMGFS_RETURN_IF_ERROR(EmitFront());
    }
    if (region_) {
      IMGFS_RETURN_IF_ERROR(FinishRegion());
    }
    if (fork_.offset() == 0) {
      // dmg2img takes XML offset 0 for "no plist" and reads no chunk of an
      // empty data fork, so an image whose disk is empty or all zeros gets
      // one unreferenced zero sector as its data fork.
      std::array<std::byte, kSectorBytes> pad{};
      IMGFS_RETURN_IF_ERROR(fork_.Append(pad));
    }
    IMGFS_RETURN_IF_ERROR(fork_.Flush());
    IMGFS_RETURN_IF_ERROR(WriteTrailer());
    Report(layout_.size_bytes);
    return stats_;
  }

 private:
  // Splits region r into jobs: zero runs whole (they are split into chunks
  // when emitted), data runs (and UDRW's zero runs) on the chunk grid.
  Status QueueRegion(size_t r) {
    if (layout_.regions[r].sector_count == 0) {
      auto job = std::make_shared<Job>();  // an empty disk's blkx: no chunks
      job->region = r;
      return Queue(std::move(job));
    }
    return ForEachPiece(src_, layout_.regions[r], options_.chunk_sectors, flat_,
                        [&](const SectorRun& piece) {
                          auto job = std::make_shared<Job>();
                          job->region = r;
                          job->first_sector = piece.first_sector;
                          job->sector_count = piece.sector_count;
                          job->read = piece.data;
                          return Queue(std::move(job));
                        });
  }

  Status Queue(std::shared_ptr<Job> job) {
    while (inflight_.size() >= window_) {
      IMGFS_RETURN_IF_ERROR(EmitFront());
    }
    if (!job->read || options_.pool == nullptr) {
      Process(*job);
      job->promise.set_value();
    } else {
      options_.pool->Submit([this, job] {
        Process(*job);
        job->promise.set_value();
      });
    }
    inflight_.push_back(std::move(job));
    return Status::Ok();
  }

  // Runs on a pool worker: touches only the job, src_ and constants.
  void Process(Job& job) const {
    if (!job.read) {
      return;
    }
    const uint64_t offset = job.first_sector * kSectorBytes;
    job.input = std::make_unique_for_overwrite<std::byte[]>(
        static_cast<size_t>(job.sector_count * kSectorBytes));
    const std::span<std::byte> buffer(job.input.get(),
                                      static_cast<size_t>(job.sector_count * kSectorBytes));
    // Past the end of a disk whose size is not a multiple of 512, the last
    // sector is completed with zeros.
    const auto available =
        static_cast<size_t>(std::min<uint64_t>(buffer.size(), src_.Size() - offset));
    std::fill(buffer.begin() + static_cast<ptrdiff_t>(available), buffer.end(), std::byte{0});
    Status s = src_.Read(offset, buffer.first(available));
    if (!s.ok()) {
      job.status = s.Annotate("cannot read source at " + Hex(offset));
      return;
    }
    if (IsAllZero(buffer)) {
      return;  // stays kZeroFill
    }
    job.data_crc = Crc32(buffer);
    if (codec_ && !flat_) {
      auto packed = CompressChunk(*codec_, level_, buffer);
      if (!packed.ok()) {
        job.status = packed.status().Annotate("dmg: cannot compress chunk at " + Hex(offset));
        return;
      }
      if (packed->size() < buffer.size()) {
        job.type = *codec_;
        job.packed = std::move(*packed);
        job.bytes = job.packed;
        return;
      }
    }
    job.type = ChunkType::kRaw;
    job.bytes = buffer;
  }

  Status EmitFront() {
    std::shared_ptr<Job> job = std::move(inflight_.front());
    inflight_.pop_front();
    job->done.wait();
    IMGFS_RETURN_IF_ERROR(job->status);
    IMGFS_RETURN_IF_ERROR(SwitchRegion(job->region));
    if (job->sector_count == 0) {
      return Status::Ok();
    }
    RegionState& st = *region_;
    const uint64_t rel = job->first_sector - layout_.regions[st.index].first_sector;
    const uint64_t bytes = job->sector_count * kSectorBytes;
    if (job->type == ChunkType::kZeroFill) {
      stats_.zero_bytes += bytes;
      if (flat_) {
        // UDRW: a raw chunk over a hole keeps the data fork flat.
        st.crc = Crc32ZeroExtend(st.crc, bytes);
        st.table.chunks.push_back(
            {ChunkType::kRaw, 0, rel, job->sector_count, fork_.offset(), bytes});
        ++stats_.raw_chunks;
        IMGFS_RETURN_IF_ERROR(fork_.Skip(bytes));
      } else {
        AddZero(rel, job->sector_count);
      }
    } else {
      FlushZero();
      st.crc = CrcCombine(st.crc, job->data_crc, bytes);
      st.table.chunks.push_back(
          {job->type, 0, rel, job->sector_count, fork_.offset(), job->bytes.size()});
      ++(job->type == ChunkType::kRaw ? stats_.raw_chunks : stats_.compressed_chunks);
      IMGFS_RETURN_IF_ERROR(fork_.Append(job->bytes));
    }
    Report((job->first_sector + job->sector_count) * kSectorBytes);
    return Status::Ok();
  }

  // Adjacent zero runs (holes and all-zero chunks) merge into one run,
  // which FlushZero cuts into chunks.
  void AddZero(uint64_t rel, uint64_t count) {
    RegionState& st = *region_;
    if (st.zero_end != rel) {
      FlushZero();
      st.zero_begin = rel;
    }
    st.zero_end = rel + count;
  }

  void FlushZero() {
    RegionState& st = *region_;
    if (st.zero_begin == st.zero_end) {
      return;
    }
    const size_t first = st.table.chunks.size();
    AppendZeroChunks(layout_.regions[st.index], options_.chunk_sectors, st.zero_begin,
                     st.zero_end - st.zero_begin, fork_.offset(), &st.table.chunks);
    for (size_t i = first; i < st.table.chunks.size(); ++i) {
      const Chunk& c = st.table.chunks[i];
      if (c.type == ChunkType::kZeroFill) {
        st.crc = Crc32ZeroExtend(st.crc, c.sector_count * kSectorBytes);
      }
      ++stats_.zero_chunks;
    }
    st.zero_begin = st.zero_end = 0;
  }

  Status SwitchRegion(size_t index) {
    if (region_ && region_->index == index) {
      return Status::Ok();
    }
    if (region_) {
      IMGFS_RETURN_IF_ERROR(FinishRegion());
    }
    region_.emplace();
    region_->index = index;
    return Status::Ok();
  }

  Status FinishRegion() {
    FlushZero();
    RegionState& st = *region_;
    const BlkxRegion& region = layout_.regions[st.index];
    BlkxTable& t = st.table;
    t.chunks.push_back({ChunkType::kTerminator, 0, region.sector_count, 0, 0, 0});
    t.first_sector = region.first_sector;
    t.sector_count = region.sector_count;
    t.data_offset = 0;
    t.buffers_needed = BuffersNeeded(flat_ ? std::nullopt : codec_, options_.chunk_sectors);
    t.block_descriptors = region.descriptor;
    t.checksum.type = kChecksumCrc32;
    t.checksum.bit_count = 32;
    t.checksum.data[0] = st.crc;
    blkx_.push_back({region.name, region.id, EncodeBlkx(t), t.checksum});
    region_.reset();
    return Status::Ok();
  }

  Status WriteTrailer() {
    std::vector<PlistBlkx> entries;
    std::vector<UdifChecksum> checksums;
    for (const FinishedBlkx& b : blkx_) {
      entries.push_back({b.name, b.id, 0x0050, b.mish});
      checksums.push_back(b.checksum);
    }
    std::string plist = EmitUdifPlist(entries);
    Koly koly;
    koly.flags = kKolyFlagsFlattened;
    koly.data_fork_offset = 0;
    koly.data_fork_length = fork_.offset();
    // hdiutil has written two forms: segment 1 of 1 with a random UUID and
    // a data-fork CRC-32 (the node-udif images in tests/data/dmg-real/,
    // from before 2019), and segment 0 of 0 with a zero UUID and no
    // data-fork checksum (the Keramics images, made with ULFO and ULMO,
    // which only newer macOS writes). We write the newer form, what
    // current hdiutil makes; the blkx and master CRC-32s still cover every
    // sector that is not ignored.
    koly.segment_number = 0;
    koly.segment_count = 0;
    koly.segment_id = {};
    koly.data_checksum = UdifChecksum{};
    koly.xml_offset = fork_.offset();
    koly.xml_length = plist.size();
    koly.master_checksum.type = kChecksumCrc32;
    koly.master_checksum.bit_count = 32;
    koly.master_checksum.data[0] = MasterChecksum(checksums);
    koly.image_variant = layout_.image_variant;
    koly.sector_count = layout_.sector_count;
    std::span<const std::byte> plist_bytes(reinterpret_cast<const std::byte*>(plist.data()),
                                           plist.size());
    Status s = out_.WriteAt(koly.xml_offset, plist_bytes);
    if (s.ok()) {
      s = out_.WriteAt(koly.xml_offset + plist.size(), EncodeKoly(koly));
    }
    if (s.ok()) {
      s = out_.Flush();
    }
    if (!s.ok()) {
      return s.Annotate("dmg: cannot write plist and trailer at " + Hex(koly.xml_offset));
    }
    stats_.data_fork_bytes = koly.data_fork_length;
    stats_.file_bytes = koly.xml_offset + plist.size() + kKolyBytes;
    stats_.blkx_count = blkx_.size();
    return Status::Ok();
  }

  void Report(uint64_t done) const {
    if (options_.progress) {
      options_.progress(std::min(done, layout_.size_bytes), layout_.size_bytes);
    }
  }

  const BlockDevice& src_;
  File& out_;
  const DmgWriteOptions& options_;
  const std::optional<ChunkType> codec_;
  const int level_;
  const bool flat_;
  const size_t window_;
  DiskLayout layout_;
  ForkWriter fork_;
  std::deque<std::shared_ptr<Job>> inflight_;
  std::optional<RegionState> region_;
  std::vector<FinishedBlkx> blkx_;
  DmgWriteStats stats_;
};

}  // namespace

Result<DmgFormat> ParseDmgFormat(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const FormatInfo& f : kFormats) {
    if (f.name == upper) {
      return f.format;
    }
  }
  return InvalidArgumentError("dmg: unknown format '" + std::string(name) +
                              "' (UDZO, UDBZ, ULMO, ULFO, UDCO, UDRO or UDRW)");
}

std::string_view DmgFormatName(DmgFormat format) { return Info(format).name; }

std::optional<ChunkType> FormatCodec(DmgFormat format) { return Info(format).codec; }

Result<DmgWriteStats> WriteDmg(const BlockDevice& src, File& out, const DmgWriteOptions& options) {
  DmgWriter writer(src, out, options);
  return writer.Run();
}

}  // namespace imgfs::dmg
