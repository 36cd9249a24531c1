// SPDX-License-Identifier: MIT
// The ordered list of format drivers, and the questions asked of it:
// probing, opening by path, companion files, writers and virtual views.
// Everything here is pure (no I/O of its own): callers pass probe bytes, and
// path hooks do their own cheap checks.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

// Picks the highest-scoring driver. Fails when two drivers tie (asking for
// --format), or when the data carries the signature of a format imgfs does
// not read (rather than silently showing it as raw).
Result<ProbeResult> ProbeFormat(const ProbeInput& in, const std::string& name_for_errors);
// The same over `drivers` instead of the registry (tests). A driver named
// "raw" is the fallback that foreign signatures override.
Result<ProbeResult> ProbeFormatAmong(std::span<const FormatDriver> drivers, const ProbeInput& in,
                                     const std::string& name_for_errors);

// The first driver, in registry order, whose claims_path accepts `path`
// (an image opened by path, such as a .sparsebundle directory), or nullptr.
const FormatDriver* FindPathFormat(const std::string& path);

// When the file at `path` (probe bytes `in`) is part of another image, the
// name of that image ("" when unknown); nullopt when it is not.
std::optional<std::string> CompanionOf(const std::string& path, const ProbeInput& in);

// The writer of format `name`, or nullptr (raw output is core/convert's).
const FormatWriter* FindWriter(std::string_view name);
// The virtual view of format `name`, or nullptr.
const VirtualView* FindVirtualView(std::string_view name);
// Names of the formats with a writer / a virtual view, in registry order.
std::vector<std::string_view> WriterNames();
std::vector<std::string_view> VirtualViewNames();

}  // namespace imgfs
