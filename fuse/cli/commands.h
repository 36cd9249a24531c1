// SPDX-License-Identifier: MIT
// The subcommands. Each takes its arguments without the program and
// subcommand names and returns the process exit status.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "core/block_device.h"

namespace imgfs::cli {

// The cache of metadata and decompressed data, for every command (mount's
// --cache-size changes it). 64 MiB holds the L2 tables of 512 GiB of
// 64 KiB-cluster qcow2 and a thousand decompressed clusters. A bigger mount
// default cost more than it saved on cold random reads of compressed
// images: each page of a new cache entry is a first-touch page fault, and
// on a VM those cost ~11 us (docs/BENCHMARKS.md, "Cache size").
inline constexpr uint64_t kDefaultCacheBytes = 64ULL << 20;

int RunInfo(std::span<char* const> args);
int RunConvert(std::span<char* const> args);
int RunCheck(std::span<char* const> args);
int RunMap(std::span<char* const> args);
int RunUmount(std::span<char* const> args);
// Runs nbdkit with the imgfs plugin (nbd/); needs nbdkit at run time only.
int RunServe(std::span<char* const> args);
// Unmounts `mountpoint`: umount2 when root, otherwise fusermount3 -u.
Status Unmount(const std::string& mountpoint);
// Only in builds with libfuse (IMGFS_WITH_FUSE).
int RunMount(std::span<char* const> args);
// imgfs fat (vvfat/): only with libfuse too.
int RunFat(std::span<char* const> args);

// `qemu-img info --output=json` for one image (exposed for tests).
nlohmann::ordered_json InfoToJson(const ImageInfo& info);

}  // namespace imgfs::cli
