// SPDX-License-Identifier: MIT
// imgfs info: what qemu-img info prints, in the same words and JSON keys.
#include <time.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "fuse/cli/commands.h"
#include "fuse/cli/common.h"

namespace imgfs::cli {
namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kInfoHelp =
    "usage: imgfs info [--json] [--backing-chain] [-f FMT] IMAGE\n"
    "\n"
    "Shows what an image is: format, virtual and disk size, cluster size,\n"
    "backing file, snapshots and format specific information.\n"
    "\n"
    "  --json             print qemu-img info --output=json style JSON\n"
    "  --backing-chain    describe every image of the backing chain\n"
    "  -f, --format FMT   do not probe; open IMAGE as FMT\n"
    "  -h, --help         show this help\n";

constexpr uint64_t kNanosPerSecond = 1000000000;

Json SnapshotJson(const SnapshotInfo& s) {
  Json j;
  j["id"] = s.id;
  j["name"] = s.name;
  j["vm-state-size"] = s.vm_state_size;
  j["date-sec"] = s.date_sec;
  j["date-nsec"] = s.date_nsec;
  j["vm-clock-sec"] = s.vm_clock_nsec / kNanosPerSecond;
  j["vm-clock-nsec"] = s.vm_clock_nsec % kNanosPerSecond;
  if (s.icount != UINT64_MAX) {
    j["icount"] = s.icount;
  }
  return j;
}

}  // namespace

Json InfoToJson(const ImageInfo& info) {
  Json j;
  j["filename"] = info.filename;
  j["format"] = info.format;
  j["virtual-size"] = info.virtual_size;
  j["actual-size"] = info.actual_size;
  if (info.cluster_size) {
    j["cluster-size"] = *info.cluster_size;
  }
  if (!info.encryption.empty()) {
    j["encrypted"] = true;
  }
  if (!info.backing_filename.empty()) {
    j["backing-filename"] = info.backing_filename;
    j["full-backing-filename"] = info.full_backing_filename;
    if (!info.backing_format.empty()) {
      j["backing-filename-format"] = info.backing_format;
    }
  }
  j["dirty-flag"] = info.dirty;
  if (!info.snapshots.empty()) {
    Json snaps = Json::array();
    for (const SnapshotInfo& s : info.snapshots) {
      snaps.push_back(SnapshotJson(s));
    }
    j["snapshots"] = std::move(snaps);
  }
  if (!info.format_specific.is_null()) {
    j["format-specific"] = Json::parse(info.format_specific.dump());
  }
  return j;
}

namespace {

// qemu's dump_qobject: keys with '-' shown as spaces, four spaces a level.
void DumpSpecific(const nlohmann::json& value, int level) {
  auto indent = [level] { return std::string(static_cast<size_t>(level) * 4, ' '); };
  auto scalar = [](const nlohmann::json& v) {
    return v.is_string() ? v.get<std::string>() : v.dump();
  };
  if (value.is_object()) {
    for (const auto& [key, v] : value.items()) {
      std::string shown = key;
      std::replace(shown.begin(), shown.end(), '-', ' ');
      if (v.is_structured()) {
        std::printf("%s%s:\n", indent().c_str(), shown.c_str());
        DumpSpecific(v, level + 1);
      } else {
        std::printf("%s%s: %s\n", indent().c_str(), shown.c_str(), scalar(v).c_str());
      }
    }
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) {
      std::printf("%s[%zu]:\n", indent().c_str(), i);
      DumpSpecific(value[i], level + 1);
    }
  } else {
    std::printf("%s%s\n", indent().c_str(), scalar(value).c_str());
  }
}

void PrintSnapshots(const std::vector<SnapshotInfo>& snaps) {
  std::printf("Snapshot list:\n");
  std::printf("%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK", "ICOUNT");
  for (const SnapshotInfo& s : snaps) {
    char date[32] = "";
    auto secs = static_cast<time_t>(s.date_sec);
    struct tm tm {};
    if (localtime_r(&secs, &tm) != nullptr) {
      std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
    }
    uint64_t clock_secs = s.vm_clock_nsec / kNanosPerSecond;
    char clock[40];
    std::snprintf(clock, sizeof clock, "%02llu:%02llu:%02llu.%03llu",
                  static_cast<unsigned long long>(clock_secs / 3600),
                  static_cast<unsigned long long>((clock_secs / 60) % 60),
                  static_cast<unsigned long long>(clock_secs % 60),
                  static_cast<unsigned long long>((s.vm_clock_nsec / 1000000) % 1000));
    std::string icount = s.icount == UINT64_MAX ? "" : std::to_string(s.icount);
    std::printf("%-9s %-16s %8s%20s%13s%11s\n", s.id.c_str(), s.name.c_str(),
                HumanSize(s.vm_state_size).c_str(), date, clock, icount.c_str());
  }
}

void PrintHuman(const ImageInfo& info) {
  std::printf("image: %s\nfile format: %s\nvirtual size: %s (%llu bytes)\ndisk size: %s\n",
              info.filename.c_str(), info.format.c_str(), HumanSize(info.virtual_size).c_str(),
              static_cast<unsigned long long>(info.virtual_size),
              HumanSize(info.actual_size).c_str());
  if (!info.encryption.empty()) {
    std::printf("encrypted: yes\n");
  }
  if (info.cluster_size) {
    std::printf("cluster_size: %llu\n", static_cast<unsigned long long>(*info.cluster_size));
  }
  if (info.dirty) {
    std::printf("cleanly shut down: no\n");
  }
  if (!info.backing_filename.empty()) {
    std::printf("backing file: %s", info.backing_filename.c_str());
    if (info.full_backing_filename != info.backing_filename) {
      std::printf(" (actual path: %s)", info.full_backing_filename.c_str());
    }
    std::printf("\n");
  }
  if (!info.backing_format.empty()) {
    std::printf("backing file format: %s\n", info.backing_format.c_str());
  }
  if (!info.snapshots.empty()) {
    PrintSnapshots(info.snapshots);
  }
  if (info.format_specific.is_object() && info.format_specific.contains("data")) {
    std::printf("Format specific information:\n");
    DumpSpecific(info.format_specific["data"], 1);
  }
  for (const std::string& note : info.notes) {
    std::printf("note: %s\n", note.c_str());
  }
}

}  // namespace

int RunInfo(std::span<char* const> args) {
  static constexpr OptionSpec kSpecs[] = {
      {"json", 0, false}, {"backing-chain", 0, false}, {"format", 'f', true}, {"help", 'h', false}};
  auto parsed = ParseArgs(args, kSpecs);
  if (!parsed.ok()) {
    return UsageError("info", parsed.status().message());
  }
  if (parsed->Has("help")) {
    std::fputs(kInfoHelp, stdout);
    return kExitOk;
  }
  if (parsed->positional.size() != 1) {
    return UsageError("info", "expected exactly one IMAGE");
  }
  Cache cache(kDefaultCliCacheBytes);
  std::unique_ptr<BlockDevice> dev = OpenSingleImage(*parsed, &cache);
  if (dev == nullptr) {
    return kExitFailure;
  }
  std::vector<ImageInfo> chain;
  for (const BlockDevice* d = dev.get(); d != nullptr; d = d->backing()) {
    chain.push_back(d->Describe());
    if (!parsed->Has("backing-chain")) {
      break;
    }
  }
  if (parsed->Has("json")) {
    Json out = Json::array();
    for (const ImageInfo& info : chain) {
      out.push_back(InfoToJson(info));
    }
    std::cout << (parsed->Has("backing-chain") ? out : out[0]).dump(4) << "\n";
    return kExitOk;
  }
  for (size_t i = 0; i < chain.size(); ++i) {
    if (i > 0) {
      std::printf("\n");
    }
    PrintHuman(chain[i]);
  }
  return kExitOk;
}

}  // namespace imgfs::cli
