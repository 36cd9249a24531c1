// SPDX-License-Identifier: MIT
// imgfs map: the allocation map, in qemu-img map's two output styles.
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "fuse/cli/commands.h"
#include "fuse/cli/common.h"

namespace imgfs::cli {
namespace {

constexpr const char* kMapHelp =
    "usage: imgfs map [--json] [-f FMT] IMAGE\n"
    "\n"
    "Prints the allocation map of IMAGE like qemu-img map: by default the\n"
    "ranges holding data and where they lie in which file; with --json every\n"
    "range with its depth in the backing chain and present/zero/data flags.\n"
    "\n"
    "  --json             print qemu-img map --output=json style JSON\n"
    "  -f, --format FMT   do not probe; open IMAGE as FMT\n"
    "  -h, --help         show this help\n";

const char* Bool(bool b) { return b ? "true" : "false"; }

void PrintJson(const std::vector<Extent>& extents) {
  std::printf("[");
  for (size_t i = 0; i < extents.size(); ++i) {
    const Extent& e = extents[i];
    std::printf("%s{ \"start\": %" PRIu64 ", \"length\": %" PRIu64 ", \"depth\": %" PRIu32
                ", \"present\": %s, \"zero\": %s, \"data\": %s, \"compressed\": %s",
                i == 0 ? "" : ",\n", e.offset, e.length, e.depth,
                Bool(e.kind != ExtentKind::kUnallocated), Bool(e.kind != ExtentKind::kData),
                Bool(e.kind == ExtentKind::kData), Bool(e.compressed));
    if (e.host_offset) {
      std::printf(", \"offset\": %" PRIu64, *e.host_offset);
    }
    std::printf("}");
  }
  std::printf("]\n");
}

void PrintHuman(const std::vector<Extent>& extents, const std::vector<std::string>& files) {
  std::printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
  for (const Extent& e : extents) {
    if (e.kind != ExtentKind::kData || !e.host_offset) {
      continue;  // like qemu-img: only data with a plain host offset
    }
    const char* file = e.depth < files.size() ? files[e.depth].c_str() : "?";
    std::printf("%#-16" PRIx64 "%#-16" PRIx64 "%#-16" PRIx64 "%s\n", e.offset, e.length,
                *e.host_offset, file);
  }
}

}  // namespace

int RunMap(std::span<char* const> args) {
  static constexpr OptionSpec kSpecs[] = {
      {"json", 0, false}, {"format", 'f', true}, {"help", 'h', false}, IMGFS_CLI_KEY_OPTION_SPECS};
  auto parsed = ParseArgs(args, kSpecs);
  if (!parsed.ok()) {
    return UsageError("map", parsed.status().message());
  }
  if (parsed->Has("help")) {
    std::fputs(kMapHelp, stdout);
    std::fputs(std::string(kKeyOptionsHelp).c_str(), stdout);
    return kExitOk;
  }
  if (parsed->positional.size() != 1) {
    return UsageError("map", "expected exactly one IMAGE");
  }
  Cache cache(kDefaultCacheBytes);
  int exit_status = kExitFailure;
  std::unique_ptr<BlockDevice> dev = OpenSingleImage(*parsed, &cache, &exit_status, kExitFailure);
  if (dev == nullptr) {
    return exit_status;
  }
  std::vector<Extent> extents;
  if (dev->Size() > 0) {
    Status s = CollectExtents(*dev, 0, dev->Size(), &extents);
    if (!s.ok()) {
      PrintError(parsed->positional[0], s);
      return kExitFailure;
    }
  }
  if (parsed->Has("json")) {
    PrintJson(extents);
    return kExitOk;
  }
  std::vector<std::string> files;
  for (const BlockDevice* d = dev.get(); d != nullptr; d = d->backing()) {
    files.push_back(d->Describe().filename);
  }
  PrintHuman(extents, files);
  return kExitOk;
}

}  // namespace imgfs::cli
