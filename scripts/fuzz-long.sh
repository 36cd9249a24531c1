#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Long fuzzing runs, for the figures in the README's "Tests" section and to
# grow the committed seed corpus. Builds the libFuzzer targets (clang, as
# scripts/test.sh's fuzz stage does), then runs each target for SECONDS,
# starting from its committed seeds tests/fuzz/corpus/<name>/, and reports
# per target the inputs executed, coverage, features and peak RSS.
#
#   bash scripts/fuzz-long.sh 3600                  # one CPU-hour per target
#   bash scripts/fuzz-long.sh 600 qcow2_fuzzer dmg_fuzzer
#   MERGE=1 bash scripts/fuzz-long.sh 600           # then merge new inputs
#
# Targets run JOBS at a time (each is single-threaded). The inputs a run
# finds go to $WORK/<name>/ (kept). With MERGE=1 they are merged into the
# committed seeds with -merge=1, which adds only the inputs that reach new
# coverage (so the corpus stays small); commit tests/fuzz/corpus/ after
# checking its size. A crash, leak or input slower than INPUT_TIMEOUT stops
# that target; its input is in $WORK/artifacts/. Exit status: 0 when no
# target failed.
#
# Knobs (environment): JOBS=2, INPUT_TIMEOUT=5, BUILD_DIR=<repo>/build-fuzz,
# WORK=<repo>/build-fuzz/long, MERGE=0.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

seconds=${1:-3600}
shift || true
JOBS=${JOBS:-2}
INPUT_TIMEOUT=${INPUT_TIMEOUT:-5}
BUILD_DIR=${BUILD_DIR:-$root/build-fuzz}
WORK=${WORK:-$BUILD_DIR/long}
MERGE=${MERGE:-0}

if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds == 0)); then
  echo "usage: $0 [SECONDS] [TARGET_fuzzer...]" >&2
  exit 2
fi

CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DIMGFS_BUILD_FUZZERS=ON -DIMGFS_BUILD_TESTS=OFF -DIMGFS_BUILD_BENCHMARKS=OFF >/dev/null &&
  cmake --build "$BUILD_DIR" -j"$JOBS" --target imgfs_fuzzers || exit 1

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  mapfile -t targets < <(grep -v '^$' "$BUILD_DIR/tests/fuzz/fuzzers.txt")
fi
mkdir -p "$WORK/artifacts"

# run_one FUZZER: one long run; the report goes to $WORK/NAME.report.
# shellcheck disable=SC2317 # called through xargs
run_one() {
  local fuzzer=$1 name=${1%_fuzzer} bin log
  bin=$BUILD_DIR/tests/fuzz/$fuzzer
  log=$WORK/$name.log
  mkdir -p "$WORK/$name" "$root/tests/fuzz/corpus/$name"
  "$bin" -max_total_time="$seconds" -timeout="$INPUT_TIMEOUT" -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$WORK/artifacts/$name-" \
    "$WORK/$name" "$root/tests/fuzz/corpus/$name" >"$log" 2>&1
  local rc=$?
  {
    printf '%s: %ss, exit %d\n' "$fuzzer" "$seconds" "$rc"
    grep -E '^#[0-9]+.*(DONE|INITED)' "$log" | tail -n 2
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log"
    if ((rc != 0)); then
      tail -n 40 "$log"
    fi
  } >"$WORK/$name.report"
  if ((rc == 0)) && [[ $MERGE == 1 ]]; then
    "$bin" -merge=1 -timeout="$INPUT_TIMEOUT" "$root/tests/fuzz/corpus/$name" "$WORK/$name" \
      >"$WORK/$name.merge.log" 2>&1 || rc=1
    echo "merged: now $(find "$root/tests/fuzz/corpus/$name" -type f | wc -l) seeds," \
      "$(du -sh "$root/tests/fuzz/corpus/$name" | cut -f1)" >>"$WORK/$name.report"
  fi
  return "$rc"
}

# xargs exits non-zero when any run_one did.
export -f run_one
export seconds INPUT_TIMEOUT BUILD_DIR WORK MERGE root
rc=0
# shellcheck disable=SC2016 # $1 is the inner shell's
printf '%s\n' "${targets[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one "$1"' run_one {} || rc=1
for fuzzer in "${targets[@]}"; do
  cat "$WORK/${fuzzer%_fuzzer}.report"
done
exit "$rc"
