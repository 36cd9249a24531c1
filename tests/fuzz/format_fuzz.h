// SPDX-License-Identifier: MIT
// The body of a format driver's fuzz target: open the input from memory as
// one format with a small cache, without following backing files (so the
// target never touches the host), then read, map, describe and check it
// (fuzz::Exercise).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/cache/cache.h"
#include "core/io/file.h"
#include "formats/open.h"
#include "tests/fuzz/fuzz_common.h"

namespace imgfs::fuzz {

inline void ExerciseFormat(const char* format, const uint8_t* data, size_t size,
                           uint64_t cache_bytes) {
  Cache cache(cache_bytes);
  OpenOptions options;
  options.format = format;
  options.follow_backing = false;
  options.metadata_only = true;  // encrypted images open without a passphrase
  auto dev = OpenImageFile(NewMemoryFile(std::string("fuzz.") + format,
                                         std::string(reinterpret_cast<const char*>(data), size)),
                           options, &cache);
  if (dev.ok()) {
    Exercise(**dev);
  }
}

}  // namespace imgfs::fuzz
