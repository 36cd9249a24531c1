// SPDX-License-Identifier: MIT
// The FUSE low-level operations table. Inode 1 is the root; in directory
// mode view i is inode i + 2, in file mode the root is view 0. Every
// callback is small, noexcept, and replies exactly once.
#pragma once

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

namespace imgfs::fusefs {

// Largest read the kernel may send: 256 pages, the kernel's default
// fuse_max_pages_limit.
inline constexpr unsigned kMaxIoBytes = 1U << 20;

// The operations table; userdata must be a MountContext*.
const fuse_lowlevel_ops& LowlevelOps();

}  // namespace imgfs::fusefs
