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

// Metadata cache for the one-shot commands (info, check, map, convert).
inline constexpr uint64_t kDefaultCliCacheBytes = 64ULL << 20;

int RunInfo(std::span<char* const> args);
int RunConvert(std::span<char* const> args);
int RunCheck(std::span<char* const> args);
int RunMap(std::span<char* const> args);
int RunUmount(std::span<char* const> args);
// Unmounts `mountpoint`: umount2 when root, otherwise fusermount3 -u.
Status Unmount(const std::string& mountpoint);
// Only in builds with libfuse (IMGFS_WITH_FUSE).
int RunMount(std::span<char* const> args);

// `qemu-img info --output=json` for one image (exposed for tests).
nlohmann::ordered_json InfoToJson(const ImageInfo& info);

}  // namespace imgfs::cli
