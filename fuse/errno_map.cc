// SPDX-License-Identifier: MIT
#include "fuse/errno_map.h"

#include <cerrno>
#include <exception>
#include <new>

namespace imgfs::fusefs {

int ErrnoFromStatus(const Status& status) noexcept {
  int e = status.ToErrno();
  return e > 0 ? e : EIO;
}

int ErrnoFromCurrentException() noexcept {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  } catch (...) {
    return EIO;
  }
}

}  // namespace imgfs::fusefs
