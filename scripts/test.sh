#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole imgfs check, as CI runs it (docs/CONTRIBUTING.md#ci-stages). On a fresh Debian 12
# machine, as root:
#
#   bash scripts/test.sh
#
# Stages, in order (each is timed; a failing stage does not stop the later
# ones, but the script exits non-zero at the end):
#   deps      apt-get install of every build and test dependency
#   fresh     the README's first command on a new machine: `bash scripts/demo.sh`
#             in a chroot of a minimal Debian 12 (debootstrap --variant=minbase),
#             from apt-get to the DMG read-back (needs root and deb.debian.org)
#   release   Release build, -Werror, tests and benchmarks; ctest
#   asan      ASan + UBSan build; ctest
#   tsan      TSan build of the test programs labelled `concurrent` (the CMake
#             list build-tsan/tests/concurrent-tests.txt); ctest -L concurrent
#   fuzz      clang libFuzzer build; each target runs FUZZ_SECONDS over its
#             committed seeds (tests/fuzz/corpus/<name>/), each input at most
#             FUZZ_INPUT_TIMEOUT s, and must execute FUZZ_MIN_UNITS inputs
#   format    clang-format --dry-run -Werror over every tracked C++ source
#   features  the optional features CMake found, diffed against
#             scripts/expected-features.txt
#   package   cmake --install into a temp prefix, cpack -G DEB, dpkg-deb -c
# Each ctest stage (release, asan, tsan) must run at least the number of tests
# committed in scripts/expected-test-counts.txt (more only prints a note to
# update it), every test program must register at least one test, and under
# CI=true a skipped test fails the stage unless scripts/skip-allowlist.txt
# names it. The last line is "N passed, N failed, N skipped" over all ctest runs.
#
# Knobs (environment):
#   STAGES="release format"   run only these stages (default: all)
#   JOBS=2                    parallel compile and ctest jobs
#   FUZZ_SECONDS=20           per fuzz target (every target runs, JOBS at a time)
#   FUZZ_INPUT_TIMEOUT=5      seconds one input may take before it counts as a hang
#   FUZZ_MIN_UNITS=500        inputs each target must execute (default 25 per
#                             FUZZ_SECONDS; a working target runs 200+ per second)
#   BUILD_ROOT=<repo>         where build-ci, build-asan, build-tsan, build-fuzz go
#   IMGFS_SKIP_DEPS=1         skip apt-get (a developer box without root); skips
#                             the fresh stage too
#   FRESH_CACHE=/var/cache/imgfs-ci   where the pristine debootstrap root is kept
#                             between runs (rebuilt when missing, broken or
#                             older than FRESH_MAX_AGE_DAYS=30)
#   CI=true (the default here): oracle tests fail, not skip, without qemu-img
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

STAGES=${STAGES:-deps fresh release asan tsan fuzz format features package}
JOBS=${JOBS:-2}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
FUZZ_INPUT_TIMEOUT=${FUZZ_INPUT_TIMEOUT:-5}
FUZZ_MIN_UNITS=${FUZZ_MIN_UNITS:-$((25 * FUZZ_SECONDS))}
expected_counts=$root/scripts/expected-test-counts.txt
skip_allowlist=$root/scripts/skip-allowlist.txt
BUILD_ROOT=${BUILD_ROOT:-$root}
export CI=${CI:-true}

# The Debian 12 package names (IMGFS_TEST_PACKAGES), shared with demo.sh and
# the README.
# shellcheck source-path=SCRIPTDIR source=debian-packages.sh
source "$root/scripts/debian-packages.sh"

build_ci=$BUILD_ROOT/build-ci
build_asan=$BUILD_ROOT/build-asan
build_fuzz=$BUILD_ROOT/build-fuzz
build_tsan=$BUILD_ROOT/build-tsan
logs=$(mktemp -d "${TMPDIR:-/tmp}/imgfs-test.XXXXXX")

failed_stages=()
tests_passed=0
tests_failed=0
tests_skipped=0
script_start=$SECONDS

note() { printf '\n==> %s\n' "$*"; }
want() { [[ " $STAGES " == *" $1 "* ]]; }

# stage NAME FUNCTION: runs FUNCTION, times it and records a failure. A
# FUNCTION that returns 77 could not run here (it says why): "skipped".
stage() {
  local name=$1 fn=$2 start=$SECONDS rc=0
  want "$name" || return 0
  note "stage $name"
  "$fn" || rc=$?
  if [[ $rc -eq 0 ]]; then
    printf -- '--- stage %s: ok (%ds)\n' "$name" $((SECONDS - start))
  elif [[ $rc -eq 77 ]]; then
    printf -- '--- stage %s: skipped (%ds)\n' "$name" $((SECONDS - start))
  else
    printf -- '--- stage %s: FAILED (%ds)\n' "$name" $((SECONDS - start))
    failed_stages+=("$name")
  fi
}

# check_count LABEL TOTAL: TOTAL tests ran in stage LABEL; fails below the
# count committed for LABEL in scripts/expected-test-counts.txt.
check_count() {
  local label=$1 total=$2 want
  want=$(awk -v s="$label" '$1 == s { print $2 }' "$expected_counts")
  if [[ -z $want ]]; then
    echo "ctest ($label): no expected count for '$label' in $expected_counts" >&2
    return 1
  fi
  if ((total < want)); then
    echo "ctest ($label): $total tests ran, fewer than the $want expected in" \
      "scripts/expected-test-counts.txt: a test program, file or case went missing" >&2
    return 1
  fi
  if ((total > want)); then
    echo "note: ctest ($label): $total tests ran, $want expected: update the line" \
      "'$label $total' in scripts/expected-test-counts.txt"
  fi
}

# check_skips LABEL LOG: under CI=true, every test LOG reports skipped must
# match a pattern (a shell glob) in scripts/skip-allowlist.txt.
check_skips() {
  local label=$1 log=$2 name pattern reason allowed rc=0
  while read -r name; do
    allowed=
    while read -r pattern reason; do
      [[ -z $pattern || $pattern == \#* ]] && continue
      # shellcheck disable=SC2053 # the pattern is a glob on purpose
      if [[ $name == $pattern ]]; then
        allowed=$reason
        break
      fi
    done <"$skip_allowlist"
    if [[ -n $allowed ]]; then
      echo "ctest ($label): skipped $name (allowed: $allowed)"
    elif [[ $CI == true ]]; then
      echo "ctest ($label): $name skipped under CI=true and not in scripts/skip-allowlist.txt" >&2
      rc=1
    fi
  done < <(sed -n 's/^[[:space:]]*[0-9][0-9]* - \(.*\) (Skipped)$/\1/p' "$log")
  return "$rc"
}

# check_programs DIR LIST: every test program named in LIST (a file CMake
# writes, one target per line) registered at least one test with ctest.
check_programs() {
  local dir=$1 list=$2 name file n rc=0
  [[ -s $list ]] || { echo "no test programs listed in $list" >&2; return 1; }
  while read -r name; do
    [[ -n $name ]] || continue
    file=$(find "$dir/tests" -name "$name\[*\]_tests.cmake" -print -quit)
    n=0
    [[ -n $file ]] && n=$(grep -c '^[[:space:]]*add_test(' "$file")
    if ((n == 0)); then
      echo "test program $name registered no tests (${file:-no ${name}[N]_tests.cmake})" >&2
      rc=1
    fi
  done <"$list"
  return "$rc"
}

# run_ctest DIR LABEL PROGRAMS [CTEST ARGS...]: runs ctest, adds its counts to
# the totals and checks them: the expected count, the skip allow-list, and
# that each program listed in the file PROGRAMS registered tests.
run_ctest() {
  local dir=$1 label=$2 programs=$3 log=$logs/ctest-$2.log rc total failed skipped
  shift 3
  ctest --test-dir "$dir" -j"$JOBS" --output-on-failure --timeout 600 "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  # "100% tests passed, 0 tests failed out of 42"
  total=$(sed -n 's/.*tests failed out of \([0-9][0-9]*\).*/\1/p' "$log" | tail -1)
  failed=$(sed -n 's/.* \([0-9][0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
  skipped=$(grep -c '(Skipped)$' "$log")
  total=${total:-0}
  failed=${failed:-0}
  tests_passed=$((tests_passed + total - failed - skipped))
  tests_failed=$((tests_failed + failed))
  tests_skipped=$((tests_skipped + skipped))
  echo "ctest ($label): $((total - failed - skipped)) passed, $failed failed, $skipped skipped"
  check_count "$label" "$total" || rc=1
  check_skips "$label" "$log" || rc=1
  check_programs "$dir" "$programs" || rc=1
  return "$rc"
}

stage_deps() {
  if [[ -n ${IMGFS_SKIP_DEPS:-} ]]; then
    echo "IMGFS_SKIP_DEPS set: not installing packages"
    return 0
  fi
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then
      sudo=(sudo)
    else
      echo "not root and no sudo: cannot apt-get install (set IMGFS_SKIP_DEPS=1 to skip)" >&2
      return 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq &&
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${IMGFS_TEST_PACKAGES[@]}" \
      >"$logs/apt.log" 2>&1 || {
    tail -n 30 "$logs/apt.log" >&2
    return 1
  }
  echo "installed or present: ${IMGFS_TEST_PACKAGES[*]}"
}

stage_release() {
  # -O2, as Debian builds packages: GCC 12 at -O3 reports a false -Wrestrict
  # inside std::string::replace (GCC PR 105329), which -Werror turns fatal.
  cmake -S . -B "$build_ci" -G Ninja -DCMAKE_BUILD_TYPE=Release -DIMGFS_WERROR=ON \
    -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
    -DIMGFS_BUILD_TESTS=ON -DIMGFS_BUILD_BENCHMARKS=ON -DIMGFS_WITH_FUSE=ON &&
    cmake --build "$build_ci" -j"$JOBS" &&
    run_ctest "$build_ci" release "$build_ci/tests/test-programs.txt"
}

stage_asan() {
  # -O1: fast enough to run and still gives usable stacks. -g1 (line tables)
  # is all a sanitizer stack needs and compiles a third faster than -g. The
  # test programs themselves build at -O0 (IMGFS_TEST_COMPILE_OPTIONS): the
  # sanitizers instrument every access at any level, and gtest-heavy test
  # files compile 3x faster. Leak checking is on; halt on the first UBSan
  # report.
  cmake -S . -B "$build_asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS_DEBUG="-g1 -O1" -DCMAKE_CXX_FLAGS_DEBUG="-g1 -O1" \
    -DIMGFS_TEST_COMPILE_OPTIONS=-O0 \
    -DIMGFS_SANITIZE="address;undefined" -DIMGFS_BUILD_TESTS=ON -DIMGFS_BUILD_BENCHMARKS=OFF &&
    cmake --build "$build_asan" -j"$JOBS" &&
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1} \
      UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
      run_ctest "$build_asan" asan "$build_asan/tests/test-programs.txt"
}

stage_tsan() {
  # Only the multithreaded parts (docs/CONTRIBUTING.md#sanitizers): the test programs that
  # tests/CMakeLists.txt marks CONCURRENT (label `concurrent`; the shared
  # cache, thread pool, read-ahead, parallel qcow2 and DMG reads, the DMG
  # writer, the FUSE tests...), listed by CMake in concurrent-tests.txt.
  # -O1 -g1, as TSan's documentation advises:
  # half the compile time of -O2 -g, same instrumentation, line-table stacks.
  cmake -S . -B "$build_tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DIMGFS_SANITIZE=thread -DIMGFS_BUILD_TESTS=ON -DIMGFS_BUILD_BENCHMARKS=OFF || return 1
  local list=$build_tsan/tests/concurrent-tests.txt targets=()
  mapfile -t targets < <(grep -v '^$' "$list")
  [[ ${#targets[@]} -gt 0 ]] || { echo "no test programs listed in $list" >&2; return 1; }
  cmake --build "$build_tsan" -j"$JOBS" --target "${targets[@]}" || return 1
  # Test binaries not built here are registered as <target>_NOT_BUILT; they
  # carry no label, so -L leaves them out.
  TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
    run_ctest "$build_tsan" tsan "$list" -L '^concurrent$'
}

# One fuzz target over its seeds; its report goes to $logs/fuzz-NAME.out.
# Fails on a crash, a leak, an input slower than FUZZ_INPUT_TIMEOUT, or
# fewer than FUZZ_MIN_UNITS inputs executed (a target that stalls or finds
# nothing to run cannot pass).
fuzz_one() {
  local fuzzer=$1 name=${1%_fuzzer} seeds work out units
  seeds=$root/tests/fuzz/corpus/$name
  out=$logs/fuzz-$name.out
  if [[ -z $(find "$seeds" -type f -print -quit 2>/dev/null) ]]; then
    echo "$fuzzer: no seeds in $seeds" >"$out"
    return 1
  fi
  # New inputs go to a scratch dir, never into the committed seeds
  # (scripts/fuzz-long.sh merges them in).
  work=$logs/corpus-$name
  mkdir -p "$work"
  echo "$fuzzer: ${FUZZ_SECONDS}s over $(find "$seeds" -type f | wc -l) seeds" >"$out"
  if ! "$build_fuzz/tests/fuzz/$fuzzer" -max_total_time="$FUZZ_SECONDS" \
    -timeout="$FUZZ_INPUT_TIMEOUT" -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build_fuzz/artifacts/$name-" "$work" "$seeds" >"$logs/fuzz-$name.log" 2>&1; then
    { echo "$fuzzer FAILED; the crashing or slow input is in $build_fuzz/artifacts/ (fix" \
        "the bug, then add the input to $seeds as a regression seed). Last lines:"
      tail -n 60 "$logs/fuzz-$name.log"; } >>"$out"
    return 1
  fi
  # The coverage reached (cov: edges, ft: features), inputs run, peak RSS.
  grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb)' \
    "$logs/fuzz-$name.log" >>"$out"
  units=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$logs/fuzz-$name.log")
  if ((${units:-0} < FUZZ_MIN_UNITS)); then
    echo "$fuzzer FAILED: ${units:-0} inputs executed, fewer than FUZZ_MIN_UNITS=$FUZZ_MIN_UNITS" >>"$out"
    return 1
  fi
}

# Each target is single-threaded, so JOBS of them run at once. This is
# also the Clang build of the library, so -Werror here is what makes
# -Wthread-safety (on under Clang) enforce the IMGFS_GUARDED_BY lock rules.
stage_fuzz() {
  CC=clang CXX=clang++ cmake -S . -B "$build_fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DIMGFS_WERROR=ON \
    -DIMGFS_BUILD_FUZZERS=ON -DIMGFS_BUILD_TESTS=OFF -DIMGFS_BUILD_BENCHMARKS=OFF &&
    cmake --build "$build_fuzz" -j"$JOBS" --target imgfs_fuzzers imgfs || return 1
  local list=$build_fuzz/tests/fuzz/fuzzers.txt fuzzer rc=0 n=0 running=0
  [[ -s $list ]] || { echo "no fuzz targets listed in $list" >&2; return 1; }
  mkdir -p "$build_fuzz/artifacts"
  local -a targets=()
  while read -r fuzzer; do
    [[ -n $fuzzer ]] && targets+=("$fuzzer")
  done <"$list"
  for fuzzer in "${targets[@]}"; do
    if ((running >= JOBS)); then
      wait -n || rc=1
      running=$((running - 1))
    fi
    fuzz_one "$fuzzer" &
    running=$((running + 1))
    n=$((n + 1))
  done
  while ((running > 0)); do
    wait -n || rc=1
    running=$((running - 1))
  done
  for fuzzer in "${targets[@]}"; do
    cat "$logs/fuzz-${fuzzer%_fuzzer}.out"
  done
  echo "$n fuzz targets run"
  return "$rc"
}

clang_format_bin() {
  local c v
  for c in clang-format-16 clang-format-17 clang-format-18 clang-format-19 clang-format-15 \
    clang-format; do
    command -v "$c" >/dev/null || continue
    v=$("$c" --version | sed -n 's/.*version \([0-9][0-9]*\).*/\1/p')
    if [[ ${v:-0} -ge 15 ]]; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

stage_format() {
  local cf
  cf=$(clang_format_bin) || {
    echo "needs clang-format >= 15 (.clang-format uses InsertBraces): apt-get install clang-format-16" >&2
    return 1
  }
  local files=()
  if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    mapfile -t files < <(git -C "$root" ls-files -- '*.cc' '*.h' '*.cpp' '*.hpp')
  else
    mapfile -t files < <(find . -name 'build*' -prune -o \( -name '*.cc' -o -name '*.h' \) -print)
  fi
  echo "$cf --dry-run -Werror over ${#files[@]} files"
  local out
  out=$("$cf" --dry-run -Werror "${files[@]}" 2>&1)
  if [[ -n $out ]]; then
    echo "$out" | head -n 40
    echo "files needing clang-format (fix with: $cf -i FILE):" >&2
    echo "$out" | sed -n 's/^\([^: ]*\):[0-9]*:[0-9]*: error:.*/  \1/p' | sort -u >&2
    return 1
  fi
}

stage_features() {
  local found=$build_ci/imgfs-features.txt
  if [[ ! -f $found ]]; then
    cmake -S . -B "$build_ci" -G Ninja >/dev/null || return 1
  fi
  if diff -u scripts/expected-features.txt "$found"; then
    echo "optional features as expected: $(grep -c ': yes' "$found") found"
  else
    echo "optional features differ from scripts/expected-features.txt (- expected, + found)" >&2
    return 1
  fi
}

stage_package() {
  local prefix=$logs/prefix deb
  # A no-op after the release stage; makes this stage work alone too.
  cmake -S . -B "$build_ci" -G Ninja >/dev/null && cmake --build "$build_ci" -j"$JOBS" >/dev/null ||
    { echo "package needs the release build, which failed" >&2; return 1; }
  cmake --install "$build_ci" --prefix "$prefix" >"$logs/install.log" || {
    cat "$logs/install.log" >&2
    return 1
  }
  (cd "$build_ci" && cpack -G DEB >"$logs/cpack.log" 2>&1) || {
    cat "$logs/cpack.log" >&2
    return 1
  }
  deb=$(ls "$build_ci"/imgfs_*.deb 2>/dev/null | head -1)
  [[ -n $deb ]] || { echo "cpack made no imgfs_*.deb" >&2; return 1; }
  dpkg-deb -I "$deb" | sed -n '/Package:/,$p'
  dpkg-deb -c "$deb" | tee "$logs/deb-contents.txt"
  grep -q '/share/man/man1/imgfs.1' "$logs/deb-contents.txt" || {
    echo "the .deb lacks the man page" >&2
    return 1
  }
  if [[ -x $build_ci/fuse/imgfs ]]; then
    grep -q '/usr/bin/imgfs$' "$logs/deb-contents.txt" || {
      echo "the .deb lacks /usr/bin/imgfs" >&2
      return 1
    }
  else
    echo "note: no imgfs binary built yet; the package holds only the man page"
  fi
  if [[ -f $build_ci/nbd/nbdkit-imgfs-plugin.so ]]; then
    grep -q '/nbdkit/plugins/nbdkit-imgfs-plugin.so$' "$logs/deb-contents.txt" || {
      echo "the .deb lacks the nbdkit plugin" >&2
      return 1
    }
  fi
}

# The fresh stage. A minimal Debian root (debootstrap --variant=minbase) is
# built once and kept, pristine, in $FRESH_CACHE/<suite>-<arch>-minbase/root;
# each run copies it to a scratch dir under /var/tmp, adds the repository's
# tracked files as /src and runs `bash /src/scripts/demo.sh` in it, chrooted,
# with /proc, /sys, /dev and /dev/pts bind-mounted, as a new user would on a
# newly installed machine. The chroot runs in private mount and PID
# namespaces (unshare): the mounts vanish with them even if this script is
# killed, and so does every process the demo leaves behind (the kernel ends
# them all when the namespace's first process exits). The scratch dir is
# deleted only once findmnt shows nothing mounted under it.
FRESH_SUITE=bookworm
FRESH_MIRROR=http://deb.debian.org/debian
FRESH_SECURITY_MIRROR=http://deb.debian.org/debian-security
FRESH_CACHE=${FRESH_CACHE:-/var/cache/imgfs-ci}
FRESH_MAX_AGE_DAYS=${FRESH_MAX_AGE_DAYS:-30}

# mounts_under DIR: the mount points at or below DIR, deepest first.
mounts_under() {
  findmnt -rn -o TARGET | awk -v d="$1" '$0 == d || index($0, d "/") == 1' | sort -r
}

# remove_tree DIR: ends what still runs chrooted in DIR (only this stage
# starts such processes), unmounts whatever is mounted below DIR, and deletes
# DIR only if nothing stays mounted there.
remove_tree() {
  local dir=$1 proc top left
  [[ -e $dir ]] || return 0
  for proc in /proc/[0-9]*; do
    top=$(readlink "$proc/root" 2>/dev/null) || continue
    if [[ $top == "$dir" || $top == "$dir"/* ]]; then
      kill -KILL "${proc#/proc/}" 2>/dev/null && sleep 1
    fi
  done
  while read -r top; do
    umount "$top" 2>/dev/null || umount --lazy "$top"
  done < <(mounts_under "$dir")
  left=$(mounts_under "$dir")
  if [[ -n $left ]]; then
    echo "still mounted, so $dir is left in place: ${left//$'\n'/ }" >&2
    return 1
  fi
  rm -rf --one-file-system "$dir"
}

# fresh_root_ok DIR: DIR/root is a complete pristine root, built less than
# FRESH_MAX_AGE_DAYS ago.
fresh_root_ok() {
  local dir=$1
  [[ -f $dir/built && -x $dir/root/usr/bin/apt-get && -x $dir/root/bin/bash ]] &&
    [[ -n $(find "$dir/built" -mtime -"$FRESH_MAX_AGE_DAYS") ]] &&
    chroot "$dir/root" /bin/true &&
    [[ -z $(chroot "$dir/root" dpkg --audit 2>&1) ]]
}

# fresh_build_pristine DIR ARCH: debootstraps a minimal root into a temp dir
# next to DIR, then renames it to DIR (so DIR is complete or absent).
fresh_build_pristine() {
  local dir=$1 arch=$2 tmp
  tmp=$(mktemp -d "$dir.tmp.XXXXXX") || return 1
  echo "debootstrap --variant=minbase $FRESH_SUITE ($arch) into $dir (kept for later runs)"
  # debootstrap mounts /proc and /sys in the new root while it works: in a
  # private namespace, so a killed debootstrap leaves nothing mounted.
  if ! unshare --mount --propagation private \
    debootstrap --variant=minbase --arch="$arch" "$FRESH_SUITE" "$tmp/root" "$FRESH_MIRROR" \
    >"$logs/debootstrap.log" 2>&1; then
    tail -n 30 "$logs/debootstrap.log" >&2
    remove_tree "$tmp"
    return 1
  fi
  # apt sources as the Debian installer writes them: the release, its
  # updates and security.
  cat >"$tmp/root/etc/apt/sources.list" <<SOURCES
deb $FRESH_MIRROR $FRESH_SUITE main
deb $FRESH_MIRROR $FRESH_SUITE-updates main
deb $FRESH_SECURITY_MIRROR $FRESH_SUITE-security main
SOURCES
  date -u >"$tmp/built"
  if ! fresh_root_ok "$tmp"; then
    echo "the new root in $tmp fails its check (chroot true, dpkg --audit)" >&2
    remove_tree "$tmp"
    return 1
  fi
  mv -T "$tmp" "$dir"
}

# fresh_copy_pristine DEST: copies the cached pristine root to DEST, building
# the cache first if it is missing, broken or old. One run at a time (flock).
fresh_copy_pristine() (
  local dest=$1 arch key dir stale lock
  arch=$(dpkg --print-architecture) || exit 1
  key=$FRESH_SUITE-$arch-minbase
  dir=$FRESH_CACHE/$key
  mkdir -p "$FRESH_CACHE" && exec {lock}>"$FRESH_CACHE/$key.lock" && flock "$lock" || exit 1
  for stale in "$dir".tmp.*; do # from a build that was killed
    [[ -e $stale ]] && { remove_tree "$stale" || exit 1; }
  done
  if ! fresh_root_ok "$dir"; then
    if [[ -e $dir ]]; then
      echo "the cached root $dir is broken or older than $FRESH_MAX_AGE_DAYS days: rebuilding"
      remove_tree "$dir" || exit 1
    fi
    fresh_build_pristine "$dir" "$arch" || exit 1
  fi
  echo "copying the pristine root $dir/root (built $(cat "$dir/built"))"
  cp -a "$dir/root" "$dest"
)

# fresh_chroot ROOT JOBS: runs as the first process of private mount and PID
# namespaces. Bind-mounts /proc, /sys, /dev and /dev/pts into ROOT, runs the
# demo chrooted there with a clean environment, and unmounts (lazily when a
# process left behind still holds a mount: it dies with the namespace).
fresh_chroot() {
  local r=$1 m rc=1
  if mount --bind /proc "$r/proc" && mount --bind /sys "$r/sys" &&
    mount --bind /dev "$r/dev" && mount --bind /dev/pts "$r/dev/pts"; then
    chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      JOBS="$2" bash /src/scripts/demo.sh
    rc=$?
  fi
  for m in dev/pts dev sys proc; do
    if mountpoint -q "$r/$m"; then
      umount "$r/$m" 2>/dev/null || umount --lazy "$r/$m"
    fi
  done
  return "$rc"
}

stage_fresh() (
  if [[ -n ${IMGFS_SKIP_DEPS:-} ]]; then
    echo "IMGFS_SKIP_DEPS set: not run (it installs packages in a chroot, as root)"
    exit 77
  fi
  if [[ $(id -u) -ne 0 ]]; then
    echo "needs root (debootstrap, mount, chroot)" >&2
    exit 1
  fi
  local tool run rootfs rev rc
  for tool in debootstrap unshare findmnt flock chroot; do
    command -v "$tool" >/dev/null || {
      echo "needs $tool (apt-get install debootstrap util-linux)" >&2
      exit 1
    }
  done
  run=$(mktemp -d /var/tmp/imgfs-fresh.XXXXXX) || exit 1
  trap 'remove_tree "$run"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM HUP
  rootfs=$run/root
  fresh_copy_pristine "$rootfs" || exit 1
  # The tracked files as they are in the work tree (in CI: HEAD of a fresh
  # clone); no build dirs. A stash commit holds uncommitted changes.
  mkdir "$rootfs/src" || exit 1
  if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    rev=$(git -C "$root" -c user.name=imgfs-ci -c user.email=imgfs-ci@localhost stash create) ||
      exit 1
    git -C "$root" archive "${rev:-HEAD}" | tar -x -C "$rootfs/src" || exit 1
  else
    tar -C "$root" --exclude='./build*' -c . | tar -x -C "$rootfs/src" || exit 1
  fi
  rm -f "$rootfs/etc/resolv.conf" && cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf" || exit 1
  echo "chroot $rootfs bash /src/scripts/demo.sh (log: $logs/fresh.log)"
  unshare --mount --propagation private --pid --fork --kill-child \
    bash -c "$(declare -f fresh_chroot); fresh_chroot \"\$@\"" fresh "$rootfs" "$JOBS" 2>&1 |
    tee "$logs/fresh.log"
  rc=${PIPESTATUS[0]}
  if [[ $rc -ne 0 ]]; then
    echo "demo.sh failed (exit $rc) on a fresh Debian $FRESH_SUITE root" >&2
    exit 1
  fi
  grep -qx 'demo: all checks passed' "$logs/fresh.log" || {
    echo "demo.sh exited 0 without its last line, 'demo: all checks passed'" >&2
    exit 1
  }
  remove_tree "$run" || exit 1
  echo "demo.sh ran to the end on a fresh Debian $FRESH_SUITE root"
)

# fresh comes right after deps (docs/CONTRIBUTING.md#ci-stages), so a missing package is the
# first thing CI reports. It shares nothing with the other stages (its own
# root, packages and build): its place does not change the total time. About
# 5 minutes on 2 quiet cores, 3 more when the cached root is (re)built.
stage deps stage_deps
stage fresh stage_fresh
stage release stage_release
stage asan stage_asan
stage tsan stage_tsan
stage fuzz stage_fuzz
stage format stage_format
stage features stage_features
stage package stage_package

note "summary"
echo "stages: $STAGES"
echo "total time: $((SECONDS - script_start))s; logs in $logs"
if [[ ${#failed_stages[@]} -gt 0 ]]; then
  echo "FAILED stages: ${failed_stages[*]}"
fi
echo "$tests_passed passed, $tests_failed failed, $tests_skipped skipped"
[[ ${#failed_stages[@]} -eq 0 ]]
