// SPDX-License-Identifier: MIT
// What a test learns from its environment, shared by the FUSE tests and the
// oracle fixtures: whether it runs in CI (CI=true: a missing tool fails the
// test instead of skipping it) and which imgfs binary to run (IMGFS_BINARY,
// set by imgfs_test; "imgfs" from PATH otherwise).
#pragma once

#include <cstdlib>
#include <string>

namespace imgfs::testing {

inline bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

inline std::string ImgfsBinary() {
  const char* env = std::getenv("IMGFS_BINARY");
  return env != nullptr ? env : "imgfs";
}

// A bash function `qc ARGS...` (put it before the command that calls it)
// running `qemu-img create ARGS...` for a LUKS image. qemu-img times PBKDF2
// to turn iter-time into iterations and, on a loaded machine, may measure
// no CPU time and give up ("Unable to get accurate CPU usage"): that
// measurement does not depend on iter-time, so qc runs qemu-img under
// SCHED_FIFO where it may (its thread is then not preempted mid-measurement)
// and tries again over about 7 s. ARGS must not set iter-time.
inline constexpr const char* kQemuImgCreateLuksShell =
    "qc() { local i rt=; chrt -f 1 true 2>/dev/null && rt='chrt -f 1';"
    " for i in 1 2 3 4 5 6 7 8 9 10 11; do"
    " $rt qemu-img create -o iter-time=10 \"$@\" 2>/dev/null && return 0; sleep 0.$i; done;"
    " $rt qemu-img create -o iter-time=10 \"$@\"; }; ";

// The same for a qcow2 image with encrypt.format=luks (the option is
// encrypt.iter-time there): `qc2 ARGS...`.
inline constexpr const char* kQemuImgCreateQcow2LuksShell =
    "qc2() { local i rt=; chrt -f 1 true 2>/dev/null && rt='chrt -f 1';"
    " for i in 1 2 3 4 5 6 7 8 9 10 11; do"
    " $rt qemu-img create -o encrypt.iter-time=10 \"$@\" 2>/dev/null && return 0; sleep 0.$i;"
    " done; $rt qemu-img create -o encrypt.iter-time=10 \"$@\"; }; ";

}  // namespace imgfs::testing
