// SPDX-License-Identifier: MIT
// BlockMapDevice: the shared base of every table-mapped format (qcow2 L1/L2,
// vmdk grain tables, VHD/VHDX BATs, VDI block maps, parallels, qed, qcow,
// bochs, dmg sparse images). A driver answers one question, "where does
// guest offset X live, and for how many bytes" (Map), and the base does the
// rest: serial reads that coalesce host-contiguous runs, large reads split
// into parallel pieces on the ThreadPool, Extents (with backing depth and
// host offsets), fall-through of unallocated runs to the backing device,
// read-around of small host reads, host read-ahead of sequential streams and
// detection of small-block streams for compressed units.
//
// Thread-safety: Read and Extents may be called from many threads at once;
// the driver's Map and ReadCompressed must allow that too.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/block_device.h"
#include "core/exec/thread_pool.h"
#include "core/io/file.h"
#include "core/io/read_around.h"

namespace imgfs {

// What a run of guest bytes maps to.
enum class MapKind : uint8_t {
  kHost,         // plain bytes in `file` at host_offset (past its end: zeros)
  kZero,         // reads as zeros; stored as such in this image
  kUnallocated,  // not in this image: the backing device, or zeros
  kCompressed,   // part of one compressed unit; read by ReadCompressed
  kIndirect,     // stored bytes only the driver can reach (a band file it
                 // opens per read, an encrypted cluster); read by ReadIndirect
};

// The answer to Map(offset, max_length): guest bytes [offset, offset +
// length) all map the same way (and for kHost, to contiguous host bytes).
struct Mapping {
  MapKind kind = MapKind::kUnallocated;
  uint64_t length = 0;  // 0 < length <= max_length
  // kHost, kCompressed: the host file holding the bytes (for reads and
  // prefetch). Must outlive the device.
  const File* file = nullptr;
  // kHost: host byte of the run's first guest byte. kCompressed: where the
  // stored (compressed) unit starts.
  uint64_t host_offset = 0;
  // kCompressed: host bytes of the stored unit from host_offset (what a
  // prefetch reads), the guest offset where the unit starts, and one opaque
  // word for the driver (codec, flags). A kCompressed mapping never crosses
  // a unit boundary, so each one can be read as one parallel piece.
  // kIndirect uses host_offset and driver_data as the driver likes.
  uint64_t stored_bytes = 0;
  uint64_t unit_offset = 0;
  uint64_t driver_data = 0;
};

// Tuning and shared services for a BlockMapDevice. Pointers are not owned
// and must outlive the device.
struct BlockMapConfig {
  const char* format = "";  // message prefix ("qcow2")
  // Workers for large reads, or null: everything on the calling thread.
  ThreadPool* pool = nullptr;
  // Read-around of small kHost reads in read_around_file, or null.
  const ReadAround* read_around = nullptr;
  const File* read_around_file = nullptr;
  // One Extents call covers at most up to the next multiple of
  // 2^extents_window_bits (qcow2: one L2 table); 0: no window. Calls stop
  // after kMaxExtentsPerCall extents either way.
  uint32_t extents_window_bits = 0;
};

// Reads dst.size() bytes of `file` at `offset`; bytes past the end of the
// file read as zeros, as in QEMU (a qcow2 external data file may end inside
// its last cluster, a compressed stream inside its last sector).
Status ReadHostZeroFilled(const File& file, uint64_t offset, std::span<std::byte> dst);

class BlockMapDevice : public BlockDevice {
 public:
  explicit BlockMapDevice(const BlockMapConfig& config) : config_(config) {}
  BlockMapDevice(const BlockMapDevice&) = delete;
  BlockMapDevice& operator=(const BlockMapDevice&) = delete;

  // Reads through Map: zeros for kZero, backing() (or zeros past its end)
  // for kUnallocated, ReadCompressed for kCompressed, ReadIndirect for
  // kIndirect. Reads of at least
  // kParallelMinBytes with a pool are cut into pieces read in parallel; the
  // first failing piece in guest order gives the error.
  Status Read(uint64_t offset, std::span<std::byte> dst) const override;
  // kHost -> kData with host_offset, kCompressed -> kData compressed,
  // kIndirect -> what IndirectExtentKind says (kData without a host offset
  // by default), kZero
  // -> kZero, kUnallocated -> the backing device's extents one level deeper
  // (unallocated at depth 0 past its end or without one).
  Status Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const override;

  // Parallel pieces read so far (for tests: the split is observable).
  uint64_t pieces_read() const { return pieces_read_.load(std::memory_order_relaxed); }

  // Reads of at least this many bytes are split when there is a pool.
  static constexpr size_t kParallelMinBytes = size_t{128} << 10;
  // Host runs are cut into pieces of this size; small neighbours merge up
  // to it (until a piece reaches kMinPieceBytes).
  static constexpr uint64_t kHostPieceBytes = uint64_t{256} << 10;
  static constexpr uint64_t kMinPieceBytes = uint64_t{64} << 10;
  static constexpr size_t kMaxExtentsPerCall = 4096;

 protected:
  // The driver's lookup. REQUIRES: max_length > 0 and offset + max_length
  // <= Size(). Returns a mapping of 1..max_length bytes starting at
  // `offset`; may stop short anywhere (at a table boundary, say). Errors
  // (a corrupt table) fail the read or extent query that asked.
  virtual Result<Mapping> Map(uint64_t offset, uint64_t max_length) const = 0;

  // Reads guest bytes [offset, offset + dst.size()) of the compressed
  // mapping `m` (which covers them). The default returns kUnsupported.
  virtual Status ReadCompressed(const Mapping& m, uint64_t offset, std::span<std::byte> dst) const;
  // The same for a kIndirect mapping. The default returns kUnsupported.
  virtual Status ReadIndirect(const Mapping& m, uint64_t offset, std::span<std::byte> dst) const;
  // What the kIndirect mapping `m` (starting at `offset`) holds, asked by
  // Extents only, so that reads never pay for the answer: a driver whose
  // indirect storage may be absent (a sparse bundle's band files) looks it
  // up here, and kUnallocated then falls through to the backing device.
  // The default is kData.
  virtual Result<ExtentKind> IndirectExtentKind(const Mapping& m, uint64_t offset) const;

  // Records that a partial-unit read [offset, end) happened and says whether
  // it continues one of the last few such reads (a small-block stream), so
  // a driver can inflate whole units for streams and prefixes otherwise.
  // Racy by design: it only picks a strategy.
  bool ContinuesRecentRead(uint64_t offset, uint64_t end) const;

 private:
  Status ReadSerial(uint64_t offset, std::span<std::byte> dst) const;
  Status ReadParallel(uint64_t offset, std::span<std::byte> dst) const;
  Status ReadMapped(const Mapping& m, uint64_t offset, std::span<std::byte> dst) const;
  Result<Mapping> MapChecked(uint64_t offset, uint64_t max_length) const;
  Status BackingExtents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const;
  void ReadAhead(uint64_t offset, uint64_t length) const;
  void PrefetchHost(uint64_t offset, uint64_t length) const;

  static constexpr size_t kRecentEnds = 4;

  const BlockMapConfig config_;
  // Read-ahead state. Racing readers may both prefetch a range, which is
  // harmless, so plain atomics suffice.
  mutable std::atomic<uint64_t> seq_end_{0};      // end of the last large read
  mutable std::atomic<uint64_t> ahead_until_{0};  // prefetch issued up to here
  mutable std::array<std::atomic<uint64_t>, kRecentEnds> recent_ends_{};
  mutable std::atomic<size_t> recent_next_{0};
  mutable std::atomic<uint64_t> pieces_read_{0};
};

}  // namespace imgfs
