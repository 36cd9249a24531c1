// SPDX-License-Identifier: MIT
// File: the only way the core reaches the host OS. Positional I/O, so one
// File may be read from many threads at once without a lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/result.h"
#include "core/status.h"

namespace imgfs {

class File {
 public:
  virtual ~File() = default;

  // Reads up to dst.size() bytes at `offset`. Returns the number of bytes
  // read, which is short only at end of file. Thread-safe.
  virtual Result<size_t> ReadAt(uint64_t offset, std::span<std::byte> dst) const = 0;
  // Writes all of src at `offset`, extending the file if needed.
  virtual Status WriteAt(uint64_t offset, std::span<const std::byte> src) = 0;
  virtual Result<uint64_t> Size() const = 0;
  virtual Status Flush() = 0;
  virtual Status Truncate(uint64_t size_bytes) = 0;

  // Sparse-file support: the first offset >= `offset` that holds data
  // (SEEK_DATA) or a hole (SEEK_HOLE). Files without hole information report
  // everything as data: NextData(o) == o and NextHole(o) == Size().
  // Both return Size() when there is none.
  virtual Result<uint64_t> NextData(uint64_t offset) const;
  virtual Result<uint64_t> NextHole(uint64_t offset) const;

  // Bytes the file occupies on the host (st_blocks * 512), for `info`'s
  // actual-size. Defaults to Size().
  virtual Result<uint64_t> AllocatedBytes() const { return Size(); }

  // Hints that [offset, offset + length) will be read soon, so that the
  // host may start reading it in the background (posix_fadvise WILLNEED).
  // Best effort: no error, no effect by default. Thread-safe.
  virtual void Prefetch(uint64_t /*offset*/, uint64_t /*length*/) const {}
  // The path or name used in messages ("disk.qcow2", "<memory>").
  virtual const std::string& name() const = 0;

  // Reads exactly dst.size() bytes; a short read is kCorrupt naming `what`
  // ("qcow2: L2 table at 0x30000: unexpected end of file").
  Status ReadExactAt(uint64_t offset, std::span<std::byte> dst, const char* what) const;
};

// How OpenPosixFile opens a host file.
struct PosixFileOptions {
  bool writable = false;  // O_RDWR, else O_RDONLY
  // A read-only file also gets an O_DIRECT descriptor for imgfs's own
  // read-ahead (readahead_file.h) where the file system allows it; false
  // keeps the page cache's read-ahead (the CLI sets it from
  // IMGFS_HOST_READAHEAD=0, for measurements).
  bool direct_read_ahead = true;
};

// Opens a host file. The error names the path and the errno.
Result<std::unique_ptr<File>> OpenPosixFile(const std::string& path,
                                            const PosixFileOptions& options);
// The same with the default options but `writable`.
Result<std::unique_ptr<File>> OpenPosixFile(const std::string& path, bool writable);
// Creates or truncates a host file for writing.
Result<std::unique_ptr<File>> CreatePosixFile(const std::string& path);

// An in-memory file, for tests and fuzzers. Thread-safe for concurrent reads.
std::unique_ptr<File> NewMemoryFile(std::string name, std::string contents = {});

// Wraps `base` and injects failures, for error-path tests.
struct FaultPlan {
  int fail_read_at_call = -1;   // the Nth ReadAt (0-based) fails with EIO
  int fail_write_at_call = -1;  // the Nth WriteAt fails with ENOSPC
  bool short_reads = false;     // every read returns at most half what was asked
};
std::unique_ptr<File> NewFaultFile(std::unique_ptr<File> base, FaultPlan plan);

// A read-only view of bytes [offset, offset + length) of `base` (a LUKS
// header stored inside a qcow2 image, say): offsets are relative to
// `offset`, Size() is `length`, and reads stop at `length` (or where `base`
// ends). Writes return kReadOnly. REQUIRES: `base` outlives the view.
// Thread-safe for concurrent reads, like `base`.
std::unique_ptr<File> NewSliceFile(const File* base, uint64_t offset, uint64_t length);

}  // namespace imgfs
