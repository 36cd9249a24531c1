// SPDX-License-Identifier: MIT
// imgfs info: what qemu-img info prints, in the same words and JSON keys.
#include <time.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/cache/cache.h"
#include "core/partition/partition_table.h"
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
    "backing file, snapshots, format specific information and the\n"
    "partition table of the disk it holds (MBR, GPT or Apple map; in --json\n"
    "under \"partition-table\", left out when there is none).\n"
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

// The "partition-table" object of --json: a key qemu-img does not use.
Json PartitionTableJson(const Result<PartitionTable>& table) {
  Json j;
  if (!table.ok()) {
    j["error"] = table.status().message();
    return j;
  }
  j["scheme"] = std::string(SchemeName(table->scheme));
  j["sector-size"] = table->sector_bytes;
  Json parts = Json::array();
  for (const Partition& p : table->partitions) {
    Json e;
    e["number"] = p.number;
    e["start"] = p.start_bytes;
    e["length"] = p.length_bytes;
    e["type"] = p.type;
    e["type-name"] = p.type_name;
    e["name"] = p.name;
    e["guid"] = p.guid;
    e["bootable"] = p.bootable;
    parts.push_back(std::move(e));
  }
  j["partitions"] = std::move(parts);
  j["notes"] = table->notes;
  return j;
}

// True when `info` should mention the table: there is one, or something
// was found that looked like one, or it could not be read.
bool WorthShowing(const Result<PartitionTable>& table) {
  return !table.ok() || table->scheme != PartitionScheme::kNone || !table->notes.empty();
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
      if (value[i].is_structured()) {
        std::printf("%s[%zu]:\n", indent().c_str(), i);
        DumpSpecific(value[i], level + 1);
      } else {  // qemu-img prints scalar elements on the index line
        std::printf("%s[%zu]: %s\n", indent().c_str(), i, scalar(value[i]).c_str());
      }
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

// "Partition table: gpt, 512-byte sectors" and one row per partition, with
// byte offsets (what `mount -o loop,offset=` wants).
void PrintPartitions(const Result<PartitionTable>& table) {
  if (!table.ok()) {
    std::printf("note: cannot read partition table: %s\n", table.status().message().c_str());
    return;
  }
  std::printf("Partition table: %s, %u-byte sectors\n",
              std::string(SchemeName(table->scheme)).c_str(), table->sector_bytes);
  if (!table->partitions.empty()) {
    std::printf("%6s %14s %14s %10s  %-4s  %s\n", "NUMBER", "START", "LENGTH", "SIZE", "BOOT",
                "TYPE / NAME");
  }
  for (const Partition& p : table->partitions) {
    std::string type = p.type;
    if (!p.type_name.empty()) {
      type += " (" + p.type_name + ")";
    }
    if (!p.name.empty()) {
      type += " \"" + p.name + "\"";
    }
    std::printf("%6u %14llu %14llu %10s  %-4s  %s\n", p.number,
                static_cast<unsigned long long>(p.start_bytes),
                static_cast<unsigned long long>(p.length_bytes), HumanSize(p.length_bytes).c_str(),
                p.bootable ? "*" : "", type.c_str());
  }
  for (const std::string& note : table->notes) {
    std::printf("note: %s\n", note.c_str());
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
  static constexpr OptionSpec kSpecs[] = {{"json", 0, false},
                                          {"backing-chain", 0, false},
                                          {"format", 'f', true},
                                          {"help", 'h', false},
                                          IMGFS_CLI_KEY_OPTION_SPECS};
  auto parsed = ParseArgs(args, kSpecs);
  if (!parsed.ok()) {
    return UsageError("info", parsed.status().message());
  }
  if (parsed->Has("help")) {
    std::fputs(kInfoHelp, stdout);
    std::fputs(std::string(kKeyOptionsHelp).c_str(), stdout);
    return kExitOk;
  }
  if (parsed->positional.size() != 1) {
    return UsageError("info", "expected exactly one IMAGE");
  }
  Cache cache(kDefaultCacheBytes);
  int exit_status = kExitFailure;
  std::unique_ptr<BlockDevice> dev = OpenSingleImage(*parsed, &cache, &exit_status, kExitFailure,
                                                     /*metadata_only=*/true);
  if (dev == nullptr) {
    return exit_status;
  }
  std::vector<ImageInfo> chain;
  for (const BlockDevice* d = dev.get(); d != nullptr; d = d->backing()) {
    chain.push_back(d->Describe());
    if (!parsed->Has("backing-chain")) {
      break;
    }
  }
  // The table of the disk the image holds (the top of the chain, with its
  // backing files beneath): backing layers alone are not disks of their own.
  const Result<PartitionTable> table = ReadPartitionTable(*dev);
  if (parsed->Has("json")) {
    Json out = Json::array();
    for (const ImageInfo& info : chain) {
      out.push_back(InfoToJson(info));
    }
    if (WorthShowing(table)) {
      out[0]["partition-table"] = PartitionTableJson(table);
    }
    std::cout << (parsed->Has("backing-chain") ? out : out[0]).dump(4) << "\n";
    return kExitOk;
  }
  for (size_t i = 0; i < chain.size(); ++i) {
    if (i > 0) {
      std::printf("\n");
    }
    PrintHuman(chain[i]);
    if (i == 0 && WorthShowing(table)) {
      PrintPartitions(table);
    }
  }
  return kExitOk;
}

}  // namespace imgfs::cli
