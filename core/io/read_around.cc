// SPDX-License-Identifier: MIT
#include "core/io/read_around.h"

#include <cstdio>

namespace imgfs {
namespace {

// Read around only files up to this fraction of the available memory.
constexpr uint64_t kMemoryShare = 4;

}  // namespace

bool ReadAroundPays(uint64_t file_bytes, uint64_t available_bytes) {
  return file_bytes > 0 && file_bytes <= available_bytes / kMemoryShare;
}

uint64_t HostAvailableMemory() {
  std::FILE* f = std::fopen("/proc/meminfo", "re");
  if (f == nullptr) {
    return 0;
  }
  char line[256];
  unsigned long long kib = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
      break;
    }
  }
  std::fclose(f);
  return static_cast<uint64_t>(kib) * 1024;
}

std::unique_ptr<ReadAround> ReadAround::ForFile(const File& file, uint32_t block_bits,
                                                ReadAroundMode mode) {
  if (mode == ReadAroundMode::kOff) {
    return nullptr;
  }
  Result<uint64_t> size = file.Size();
  if (!size.ok() || block_bits > 30) {
    return nullptr;
  }
  if (mode == ReadAroundMode::kAuto && !ReadAroundPays(*size, HostAvailableMemory())) {
    return nullptr;
  }
  return std::make_unique<ReadAround>(*size, block_bits);
}

ReadAround::ReadAround(uint64_t file_bytes, uint32_t block_bits)
    : block_bits_(block_bits),
      blocks_((file_bytes >> block_bits) + 1),
      claimed_(std::make_unique<std::atomic<uint64_t>[]>(blocks_ / 64 + 1)) {}

bool ReadAround::Claim(uint64_t block) const {
  if (block >= blocks_) {
    return false;
  }
  std::atomic<uint64_t>& word = claimed_[block / 64];
  const uint64_t bit = uint64_t{1} << (block % 64);
  if ((word.load(std::memory_order_relaxed) & bit) != 0) {
    return false;
  }
  return (word.fetch_or(bit, std::memory_order_relaxed) & bit) == 0;
}

void ReadAround::BeforeRead(const File& file, uint64_t offset, uint64_t length) const {
  const uint64_t block_bytes = uint64_t{1} << block_bits_;
  if (length == 0 || length >= block_bytes) {
    return;
  }
  const uint64_t first = offset >> block_bits_;
  const uint64_t last = (offset + length - 1) >> block_bits_;
  for (uint64_t b = first; b <= last; ++b) {
    if (Claim(b)) {
      file.Prefetch(b << block_bits_, block_bytes);
    }
  }
}

}  // namespace imgfs
