// SPDX-License-Identifier: MIT
// FakeDevice: bytes with a scripted allocation map, for conversion and seek
// tests, built from the shared doubles (tests/testing/). Reads of anything
// but data extents fail, so a test notices when a hole is read. Extents()
// answers at most `max_extents_per_call` extents to exercise callers' loops.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/testing/faulty_block_device.h"
#include "tests/testing/memory_block_device.h"

namespace imgfs::testing {

class FakeDevice final : public FaultyBlockDevice {
 public:
  // `map` must cover [0, bytes.size()) in order without gaps.
  FakeDevice(const std::string& bytes, std::vector<Extent> map, size_t max_extents_per_call = 2)
      : FaultyBlockDevice(
            std::make_unique<MemoryBlockDevice>(bytes, std::move(map)),
            {.fail_reads_of_holes = true, .max_extents_per_call = max_extents_per_call}) {}
};

}  // namespace imgfs::testing
