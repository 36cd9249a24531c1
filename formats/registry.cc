// SPDX-License-Identifier: MIT
// The format registry: one explicit, ordered list (docs/CONTRIBUTING.md#registry-and-opener).
#include "formats/registry.h"

#include <array>

#include "formats/bochs/driver.h"
#include "formats/cloop/driver.h"
#include "formats/dmg/driver.h"
#include "formats/luks/driver.h"
#include "formats/parallels/driver.h"
#include "formats/qcow/driver.h"
#include "formats/qcow2/driver.h"
#include "formats/qed/driver.h"
#include "formats/raw/driver.h"
#include "formats/vdi/driver.h"
#include "formats/vhdx/driver.h"
#include "formats/vmdk/driver.h"
#include "formats/vpc/driver.h"

namespace imgfs {
namespace {

const std::array kFormats = {
    qcow2::Driver(),
    dmg::Driver(),
    dmg::SparseImageDriver(),
    dmg::SparseBundleDriver(),
    vmdk::Driver(),
    vpc::Driver(),
    vhdx::Driver(),
    vdi::Driver(),
    parallels::Driver(),
    qcow::Driver(),
    qed::Driver(),
    bochs::Driver(),
    cloop::Driver(),
    luks::Driver(),
    raw::Driver(),
};

// Names of the drivers whose optional `hook` is set, in registry order.
template <typename Hook>
std::vector<std::string_view> NamesWith(const Hook* FormatDriver::*hook) {
  std::vector<std::string_view> names;
  for (const FormatDriver& d : kFormats) {
    if (d.*hook != nullptr) {
      names.push_back(d.name);
    }
  }
  return names;
}

}  // namespace

std::span<const FormatDriver> AllFormats() { return kFormats; }

const FormatDriver* FindFormat(std::string_view name) {
  for (const FormatDriver& d : kFormats) {
    if (d.name == name) {
      return &d;
    }
  }
  return nullptr;
}

Result<ProbeResult> ProbeFormat(const ProbeInput& in, const std::string& name_for_errors) {
  return ProbeFormatAmong(kFormats, in, name_for_errors);
}

Result<ProbeResult> ProbeFormatAmong(std::span<const FormatDriver> drivers, const ProbeInput& in,
                                     const std::string& name_for_errors) {
  const FormatDriver* best = nullptr;
  int best_score = 0;
  bool tie = false;
  for (const FormatDriver& d : drivers) {
    int score = d.probe != nullptr ? d.probe(in) : 0;
    if (score > best_score) {
      best = &d;
      best_score = score;
      tie = false;
    } else if (score == best_score && score > 0) {
      tie = true;
    }
  }
  if (tie) {
    return InvalidArgumentError(name_for_errors +
                                ": matches several formats equally; choose one with --format");
  }
  if (best != nullptr && best->name != "raw") {
    return ProbeResult{best, ""};
  }
  if (best == nullptr) {
    return InvalidArgumentError(name_for_errors + ": no format matched");
  }
  return ProbeResult{best, "probed as raw: no known image signature"};
}

const FormatDriver* FindPathFormat(const std::string& path) {
  for (const FormatDriver& d : kFormats) {
    if (d.claims_path != nullptr && d.open_path != nullptr && d.claims_path(path)) {
      return &d;
    }
  }
  return nullptr;
}

std::optional<std::string> CompanionOf(const std::string& path, const ProbeInput& in) {
  for (const FormatDriver& d : kFormats) {
    if (d.companion_of == nullptr) {
      continue;
    }
    if (std::optional<std::string> owner = d.companion_of(path, in)) {
      return owner;
    }
  }
  return std::nullopt;
}

const FormatWriter* FindWriter(std::string_view name) {
  const FormatDriver* d = FindFormat(name);
  return d != nullptr ? d->writer : nullptr;
}

const VirtualView* FindVirtualView(std::string_view name) {
  const FormatDriver* d = FindFormat(name);
  return d != nullptr ? d->view : nullptr;
}

std::vector<std::string_view> WriterNames() { return NamesWith(&FormatDriver::writer); }

std::vector<std::string_view> VirtualViewNames() { return NamesWith(&FormatDriver::view); }

}  // namespace imgfs
