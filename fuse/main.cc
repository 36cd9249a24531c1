// SPDX-License-Identifier: MIT
// imgfs: disk images as raw files. Dispatches to the subcommands in cli/.
#include <cstdio>
#include <span>
#include <string_view>

#include "fuse/cli/commands.h"
#include "fuse/cli/common.h"

namespace {

constexpr const char* kHelp =
    "usage: imgfs COMMAND [options] ...\n"
    "\n"
    "Commands:\n"
#ifdef IMGFS_HAVE_FUSE
    "  mount [options] IMAGE... MOUNTPOINT   show images as raw files (FUSE)\n"
    "  fat [options] DIR MOUNTPOINT          show a directory as a FAT disk,\n"
    "                                        MOUNTPOINT/disk.img (FUSE)\n"
#endif
    "  umount MOUNTPOINT                     unmount an imgfs mount\n"
    "  info [--json] [--backing-chain] [-f FMT] IMAGE\n"
    "                                        describe an image\n"
    "  convert [-f FMT] [-O raw|dmg] [-o OPT] [-p] SRC DST\n"
    "                                        write an image as a sparse raw file\n"
    "                                        or as a DMG (UDZO, UDBZ, ULMO, ...)\n"
    "  check [-f FMT] IMAGE                  check image metadata\n"
    "  map [--json] [-f FMT] IMAGE           print the allocation map\n"
    "  serve [--socket PATH|--port N] IMAGE  serve an image over NBD (nbdkit)\n"
    "\n"
    "'imgfs COMMAND --help' describes each command. Errors are printed as\n"
    "'imgfs: <file>: <what went wrong>' with a non-zero exit status.\n";

struct Command {
  std::string_view name;
  int (*run)(std::span<char* const> args);
};

constexpr Command kCommands[] = {
#ifdef IMGFS_HAVE_FUSE
    {"mount", imgfs::cli::RunMount},     {"fat", imgfs::cli::RunFat},
#endif
    {"umount", imgfs::cli::RunUmount},   {"info", imgfs::cli::RunInfo},
    {"convert", imgfs::cli::RunConvert}, {"check", imgfs::cli::RunCheck},
    {"map", imgfs::cli::RunMap},         {"serve", imgfs::cli::RunServe},
};

}  // namespace

int main(int argc, char** argv) {
  std::span<char* const> args(argv, static_cast<size_t>(argc));
  if (args.size() < 2) {
    std::fputs(kHelp, stderr);
    return imgfs::cli::kExitUsage;
  }
  std::string_view command = args[1];
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(kHelp, stdout);
    return imgfs::cli::kExitOk;
  }
  if (command == "-V" || command == "--version") {
    std::printf("imgfs %s\n", IMGFS_VERSION);
    return imgfs::cli::kExitOk;
  }
  for (const Command& c : kCommands) {
    if (c.name == command) {
      return c.run(args.subspan(2));
    }
  }
  std::fprintf(stderr, "imgfs: unknown command '%s' (see imgfs --help)\n", argv[1]);
  return imgfs::cli::kExitUsage;
}
