// SPDX-License-Identifier: MIT
// The ordered list of format drivers, and probing over it.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "formats/format_driver.h"

namespace imgfs {

// Every driver, in probe order. The list is in registry.cc.
std::span<const FormatDriver> AllFormats();

// The driver named `name` (qemu-img spelling), or nullptr.
const FormatDriver* FindFormat(std::string_view name);

struct ProbeResult {
  const FormatDriver* driver = nullptr;
  std::string note;  // why raw was chosen, when it was
};

// Picks the highest-scoring driver. Fails when two drivers tie, or when the
// data carries the signature of a format imgfs does not read (rather than
// silently showing it as raw).
Result<ProbeResult> ProbeFormat(const ProbeInput& in, const std::string& name_for_errors);

}  // namespace imgfs
