// SPDX-License-Identifier: MIT
// imgfs check: BlockDevice::Check() and its findings. Exit 0 clean, 1
// problems found, 2 could not check.
#include <cstdio>
#include <string>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "fuse/cli/commands.h"
#include "fuse/cli/common.h"

namespace imgfs::cli {
namespace {

constexpr const char* kCheckHelp =
    "usage: imgfs check [-f FMT] IMAGE\n"
    "\n"
    "Checks the metadata of IMAGE for consistency (read-only; nothing is\n"
    "repaired). Exit status: 0 clean, 1 problems found, 2 could not check.\n"
    "\n"
    "  -f, --format FMT   do not probe; open IMAGE as FMT\n"
    "  -h, --help         show this help\n";

constexpr int kExitProblems = 1;
constexpr int kExitCannotCheck = 2;

void PrintReport(const CheckReport& report) {
  for (const std::string& e : report.errors) {
    std::printf("ERROR: %s\n", e.c_str());
  }
  for (const std::string& w : report.warnings) {
    std::printf("Warning: %s\n", w.c_str());
  }
  if (report.clean()) {
    std::printf("No errors were found on the image.\n");
  } else {
    std::printf("%zu errors and %zu warnings were found on the image.\n", report.errors.size(),
                report.warnings.size());
  }
  for (const std::string& c : report.checked) {
    std::printf("Checked: %s\n", c.c_str());
  }
}

}  // namespace

int RunCheck(std::span<char* const> args) {
  static constexpr OptionSpec kSpecs[] = {
      {"format", 'f', true}, {"help", 'h', false}, IMGFS_CLI_KEY_OPTION_SPECS};
  auto parsed = ParseArgs(args, kSpecs);
  if (!parsed.ok()) {
    UsageError("check", parsed.status().message());
    return kExitCannotCheck;
  }
  if (parsed->Has("help")) {
    std::fputs(kCheckHelp, stdout);
    std::fputs(std::string(kKeyOptionsHelp).c_str(), stdout);
    return kExitOk;
  }
  if (parsed->positional.size() != 1) {
    UsageError("check", "expected exactly one IMAGE");
    return kExitCannotCheck;
  }
  Cache cache(kDefaultCacheBytes);
  int exit_status = kExitCannotCheck;
  std::unique_ptr<BlockDevice> dev =
      OpenSingleImage(*parsed, &cache, &exit_status, kExitCannotCheck);
  if (dev == nullptr) {
    return exit_status;
  }
  auto report = dev->Check();
  if (!report.ok()) {
    PrintError(parsed->positional[0], report.status());
    return kExitCannotCheck;
  }
  PrintReport(*report);
  return report->clean() ? kExitOk : kExitProblems;
}

}  // namespace imgfs::cli
