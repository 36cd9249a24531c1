// SPDX-License-Identifier: MIT
// libFuzzer target for the partition-table readers (MBR with extended
// chains, GPT with backup fallback, Apple Partition Map). The input is a
// disk in memory; it is read three ways:
//   1. as it is;
//   2. zero-extended to 1 MiB, so that partitions and backup headers that
//      point past a small input land inside the disk;
//   3. with the GPT header and entry-array CRC-32s recomputed, so that
//      mutations reach the code behind the CRC checks.
// Each time, the table's contract is checked (every partition non-empty,
// inside the disk, numbers ascending, at most kMaxPartitions) and a little of
// every partition window is read (its ends, then scattered small reads
// checked against wider ones) and its extents walked and checked.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/partition/partition_table.h"
#include "core/util/crc32.h"
#include "core/util/endian.h"
#include "tests/fuzz/fuzz_common.h"
#include "tests/testing/memory_block_device.h"

namespace {

constexpr uint64_t kPaddedBytes = 1 << 20;
// Bytes read at each end of a window: enough to cross a sector boundary.
constexpr uint64_t kWindowSampleBytes = 4096 + 3;
// GPT header fields patched in pass 3 (UEFI 5.3.2).
constexpr size_t kHeaderSize = 12;
constexpr size_t kHeaderCrc = 16;
constexpr size_t kEntriesLba = 72;
constexpr size_t kEntryCount = 80;
constexpr size_t kEntryBytes = 84;
constexpr size_t kEntriesCrc = 88;
constexpr uint64_t kMaxArrayBytes = 4 << 20;

// Input bytes at offset 0, zeros up to `size_bytes` (not stored).
imgfs::testing::MemoryBlockDevice FuzzDisk(const std::string& bytes, uint64_t size_bytes) {
  imgfs::testing::MemoryBlockDevice disk(bytes);
  disk.ZeroExtend(size_bytes);
  return disk;
}

void Check(bool ok) {
  if (!ok) {
    __builtin_trap();  // a broken contract of ReadPartitionTable
  }
}

void Exercise(const imgfs::BlockDevice& disk) {
  auto table = imgfs::ReadPartitionTable(disk);
  if (!table.ok()) {
    return;
  }
  Check(table->partitions.size() <= imgfs::kMaxPartitions);
  uint32_t last_number = 0;
  std::vector<std::byte> buf(kWindowSampleBytes);
  for (const imgfs::Partition& p : table->partitions) {
    Check(p.number > last_number);
    last_number = p.number;
    Check(p.length_bytes > 0 && p.start_bytes <= disk.Size() &&
          p.length_bytes <= disk.Size() - p.start_bytes);
    auto window = imgfs::NewSliceDevice(&disk, p.start_bytes, p.length_bytes);
    const uint64_t n = std::min<uint64_t>(kWindowSampleBytes, p.length_bytes);
    Check(window->Read(0, std::span(buf).first(n)).ok());
    Check(window->Read(p.length_bytes - n, std::span(buf).first(n)).ok());
    Check(!window->Read(p.length_bytes - n + 1, std::span(buf).first(n)).ok());
    std::vector<imgfs::Extent> extents;
    Check(imgfs::CollectExtents(*window, 0, p.length_bytes, &extents).ok());
    imgfs::fuzz::ScatteredReads(*window);
    imgfs::fuzz::WalkExtents(*window);
    (void)window->Describe();
  }
  (void)imgfs::SchemeName(table->scheme);
}

// Recomputes the entry-array and header CRCs of a GPT header at `at`
// (block size `block`), where the input holds them.
void FixGptCrcs(std::string& d, uint64_t at, uint64_t block) {
  if (at + block > d.size() || d.compare(at, 8, "EFI PART") != 0) {
    return;
  }
  auto* h = reinterpret_cast<std::byte*>(d.data() + at);
  const uint64_t array_at = imgfs::LoadLE64(h + kEntriesLba) * block;
  const uint64_t array_bytes =
      uint64_t{imgfs::LoadLE32(h + kEntryCount)} * imgfs::LoadLE32(h + kEntryBytes);
  if (array_bytes <= kMaxArrayBytes && array_at / block == imgfs::LoadLE64(h + kEntriesLba) &&
      array_at <= d.size() && array_bytes <= d.size() - array_at) {
    imgfs::StoreLE32(h + kEntriesCrc,
                     imgfs::Crc32(std::as_bytes(std::span(d).subspan(array_at, array_bytes))));
  }
  const uint32_t header_bytes = imgfs::LoadLE32(h + kHeaderSize);
  if (header_bytes >= kHeaderCrc + 4 && header_bytes <= block) {
    imgfs::StoreLE32(h + kHeaderCrc, 0);
    imgfs::StoreLE32(h + kHeaderCrc, imgfs::Crc32(std::span<const std::byte>(h, header_bytes)));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  Exercise(FuzzDisk(input, input.size()));
  if (input.size() < kPaddedBytes) {
    Exercise(FuzzDisk(input, kPaddedBytes));
  }
  std::string fixed = input;
  for (uint64_t block : {512, 4096}) {
    FixGptCrcs(fixed, block, block);
    if (fixed.size() >= 2 * block) {
      FixGptCrcs(fixed, (fixed.size() / block - 1) * block, block);
    }
  }
  if (fixed != input) {
    Exercise(FuzzDisk(fixed, fixed.size()));
  }
  return 0;
}
