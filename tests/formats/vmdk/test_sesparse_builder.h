// SPDX-License-Identifier: MIT
// A tiny seSparse extent writer for tests (qemu-img reads seSparse but
// cannot write it). Written from the layout QEMU's block/vmdk.c reads and
// the sizes its author saw ESXi write (journal at 1 MiB, grain directory at
// 2 MiB, each metadata region rounded up to 1 MiB, the grains last), with
// its own byte stores: it shares no code with formats/vmdk, so a reader bug
// cannot hide behind it. Test code: it checks nothing, so tests can also
// break the images it makes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace imgfs::vmdk::testing {

inline constexpr uint64_t kSeGrainBytes = 4096;
inline constexpr uint64_t kSeGtesPerGt = 4096;  // one table covers 16 MiB

struct SeSparseSpec {
  uint64_t capacity_sectors = 0;
  // ESXi's layout, or (for fuzz seeds) every region right after the one
  // before it, none rounded up, no journal, free bitmap or back map.
  bool compact = false;
  // Allocated grains: guest grain -> contents (shorter ones zero-padded).
  std::map<uint64_t, std::string> grains;
  std::set<uint64_t> zero_grains;      // type 2
  std::set<uint64_t> unmapped_grains;  // type 1 (SCSI UNMAP)
  // Directory slots given a table of unallocated entries only.
  std::set<uint64_t> empty_tables;
  // Tables and grains stored in reverse guest order: neighbours in the
  // guest are not neighbours in the file.
  bool reverse_storage = false;
  // The cluster number of the first stored grain: from 4096 on, the high
  // part of the split cluster field is used.
  uint64_t first_cluster = 0;
  uint64_t replay_journal = 0;  // volatile header flag
};

// Where things landed, in sectors (for tests that damage an image).
struct SeSparseLayout {
  uint64_t volatile_sector = 0;
  uint64_t gd_sector = 0;
  uint64_t gd_sectors = 0;
  uint64_t gts_sector = 0;
  uint64_t grains_sector = 0;
  std::map<uint64_t, uint64_t> table_of_slot;     // directory slot -> table index
  std::map<uint64_t, uint64_t> cluster_of_grain;  // guest grain -> cluster
};

// The extent file's bytes.
std::string BuildSeSparse(const SeSparseSpec& spec, SeSparseLayout* layout = nullptr);

// The disk the extent holds over `parent_raw` (unallocated grains read from
// it, zeros past its end): capacity_sectors * 512 bytes.
std::string ExpectedSeSparseDisk(const SeSparseSpec& spec, const std::string& parent_raw = {});

// A descriptor (createType seSparse) naming one SESPARSE extent, with a
// parent when `parent_hint` is not empty.
std::string SeSparseDescriptor(uint64_t sectors, const std::string& extent, uint32_t cid,
                               uint32_t parent_cid = 0xffffffff,
                               const std::string& parent_hint = "");

// A grain table entry for an allocated cluster, and the byte store the
// builder uses (little-endian 64-bit) for tests that patch images.
uint64_t AllocatedGte(uint64_t cluster);
void Put64(std::string* bytes, uint64_t at, uint64_t value);

// `n` bytes of a pattern that differs per `seed` and per offset.
std::string SePattern(size_t n, uint32_t seed);

}  // namespace imgfs::vmdk::testing
