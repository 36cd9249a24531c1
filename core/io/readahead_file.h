// SPDX-License-Identifier: MIT
// Read-ahead for streams over a read-only host file. Prefetch() reads the
// range with O_DIRECT into a bounded set of aligned blocks on background
// threads; ReadAt() copies from those blocks (waiting for one in flight) and
// reads the base file for everything else. On this kind of machine the page
// cache's own read-ahead delivers about half of what the disk gives to
// O_DIRECT reads kept in flight, and it costs page-cache bookkeeping per page.
#pragma once

#include <cstddef>
#include <memory>

#include "core/io/file.h"

namespace imgfs {

struct ReadAheadLimits {
  size_t block_bytes = size_t{2} << 20;  // one O_DIRECT read; a power of two
  size_t max_blocks = 8;                 // memory: block_bytes * max_blocks
  size_t threads = 2;                    // reads in flight at once
};

// Wraps `base`, a read-only file, and takes ownership of `direct_fd`, the
// same file opened with O_DIRECT. Prefetches shorter than one block are not
// streams and go to base->Prefetch() (the page cache). Nothing is allocated and no thread starts
// until the first Prefetch(). If an O_DIRECT read fails, Prefetch falls back
// to base->Prefetch() and reads go to `base`: results never depend on the
// read-ahead, only speed does.
std::unique_ptr<File> NewReadAheadFile(std::unique_ptr<File> base, int direct_fd,
                                       ReadAheadLimits limits = {});

}  // namespace imgfs
