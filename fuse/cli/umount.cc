// SPDX-License-Identifier: MIT
// imgfs umount: what fusermount3 -u does. Needs no libfuse, so it is built
// even without IMGFS_WITH_FUSE.
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "fuse/cli/commands.h"
#include "fuse/cli/common.h"

namespace imgfs::cli {
namespace {

constexpr const char* kUmountHelp =
    "usage: imgfs umount MOUNTPOINT\n"
    "\n"
    "Unmounts an imgfs mount (umount2 as root, otherwise fusermount3 -u).\n"
    "The imgfs process serving it then exits.\n";

Status RunFusermount(const std::string& mountpoint) {
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    return IOError(std::string("cannot start fusermount3: ") + std::strerror(e), e);
  }
  if (pid == 0) {
    ::execlp("fusermount3", "fusermount3", "-u", "--", mountpoint.c_str(),
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      int e = errno;
      return IOError(std::string("cannot wait for fusermount3: ") + std::strerror(e), e);
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return IOError("fusermount3 -u failed", EIO);
  }
  return Status::Ok();
}

}  // namespace

Status Unmount(const std::string& mountpoint) {
  if (::geteuid() != 0) {
    return RunFusermount(mountpoint);
  }
  if (::umount2(mountpoint.c_str(), 0) != 0) {
    int e = errno;
    if (e == EINVAL) {
      return InvalidArgumentError("cannot unmount: not a mountpoint");
    }
    return IOError(std::string("cannot unmount: ") + std::strerror(e), e);
  }
  return Status::Ok();
}

int RunUmount(std::span<char* const> args) {
  static constexpr OptionSpec kSpecs[] = {{"help", 'h', false}};
  auto parsed = ParseArgs(args, kSpecs);
  if (!parsed.ok()) {
    return UsageError("umount", parsed.status().message());
  }
  if (parsed->Has("help")) {
    std::fputs(kUmountHelp, stdout);
    return kExitOk;
  }
  if (parsed->positional.size() != 1) {
    return UsageError("umount", "expected exactly one MOUNTPOINT");
  }
  Status s = Unmount(parsed->positional[0]);
  if (!s.ok()) {
    PrintError(parsed->positional[0], s);
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace imgfs::cli
