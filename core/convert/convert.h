// SPDX-License-Identifier: MIT
// Conversion of any BlockDevice to a raw file. The device is read extent by
// extent: zero and unallocated ranges are never read and become holes in the
// output, and data blocks that turn out to be all zeros are not written
// either, so the output is as sparse as the host file system allows.
#pragma once

#include <cstdint>
#include <functional>

#include "core/block_device.h"
#include "core/io/file.h"
#include "core/result.h"

namespace imgfs {

// Called after each chunk with the virtual bytes processed so far and the
// device size. Runs on the converting thread.
using ConvertProgressFn = std::function<void(uint64_t done_bytes, uint64_t total_bytes)>;

struct ConvertStats {
  uint64_t written_bytes = 0;       // data actually written to the output
  uint64_t zero_skipped_bytes = 0;  // data ranges found all-zero, left as holes
  uint64_t hole_bytes = 0;          // zero/unallocated ranges never read
};

// Reads at most this much per device Read call.
inline constexpr uint64_t kConvertChunkBytes = 4 << 20;
// Granularity of all-zero detection inside a data chunk.
inline constexpr uint64_t kConvertZeroBlockBytes = 4096;

// Writes the whole of `src` to `out` as a raw image: truncates `out` to the
// device size first, then writes only non-zero data, then flushes. `out`
// should be empty (freshly created) so that skipped ranges read as zeros.
// `progress` may be empty. Errors name the failing offset.
Result<ConvertStats> ConvertToRaw(const BlockDevice& src, File& out,
                                  const ConvertProgressFn& progress);

// True when every byte of `data` is zero.
bool IsAllZero(std::span<const std::byte> data);

}  // namespace imgfs
