// SPDX-License-Identifier: MIT
// Formatting helpers for error messages ("at 0x30000").
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace imgfs {

inline std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace imgfs
