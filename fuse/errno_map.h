// SPDX-License-Identifier: MIT
// The one place where a Status becomes an errno for the kernel
// (docs/CONTRIBUTING.md#error-model: errno exists only at the FUSE boundary).
#pragma once

#include "core/status.h"

namespace imgfs::fusefs {

// The positive errno to reply with for a failed status (EIO when `status`
// is unexpectedly OK, so a caller never replies "success" by mistake).
int ErrnoFromStatus(const Status& status) noexcept;

// The errno for the exception being handled: ENOMEM for std::bad_alloc,
// EIO for anything else. REQUIRES: called inside a catch block.
int ErrnoFromCurrentException() noexcept;

}  // namespace imgfs::fusefs
