#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench-nbd.sh: reads disk images over NBD from several servers in the same
# run and prints a markdown table of medians (issue 22):
#   imgfs      nbdkit with the imgfs plugin (nbd/), as `imgfs serve` runs it
#   qemu-nbd   qemu-nbd -r -e 8 (the anchor)
#   qcow2dec   nbdkit file ... --filter=qcow2dec, nbdkit's own qcow2 reader;
#              n/a where nbdkit has no such filter (Debian 12's 1.32 has none)
# on the same images as scripts/bench-fuse.sh (scripts/gen-disk.py data, 64 KiB
# clusters), reused from its cache: uncompressed and zlib-compressed qcow2.
#
# Every measurement starts a fresh server on a Unix socket and drops the
# page cache first (echo 3 > /proc/sys/vm/drop_caches), so each is cold.
# Metrics per (image, server), median over BENCH_ROUNDS rounds; the servers
# are interleaved and their order rotates every round:
#   seq 1M, 1 conn / 4 conn   nbdcopy --request-size=1048576 --connections=1|4
#                             of the whole disk to null: (MB/s)
#   rand 4k, 1 conn / 4 conn  fio --ioengine=nbd --rw=randread --bs=4k,
#                             1 or 4 jobs (one connection each), iodepth 1,
#                             BENCH_RUNTIME s (IOPS)
#   server CPU s / seq pass   utime+stime of the server during "seq 1 conn"
# The 1-minute load average at the start of each measurement is recorded:
# the machine may be shared, and load explains most of the spread.
# Ratios are imgfs / best anchor, so > 1 means imgfs is faster.
#
# Usage: sudo scripts/bench-nbd.sh [> table.md]
# Environment:
#   BENCH_WORKDIR   images (default /var/tmp/imgfs-bench-fuse, shared with
#                   bench-fuse.sh: disk-<size>M-{qcow2,zlib}.qcow2 are reused)
#   BENCH_SIZE_MIB  virtual size (default 2048)
#   BENCH_ROUNDS    rounds (default 3)
#   BENCH_RUNTIME   seconds per random-read run (default 10)
#   BENCH_VARIANTS  subset of "qcow2 zlib zstd" (default "qcow2 zlib")
#   BENCH_SERVERS   subset of "imgfs qemu-nbd qcow2dec" (default all three)
#   BENCH_METRICS   subset of "seq1 seq4 rand1 rand4" (default all four)
#   IMGFS_PLUGIN    the plugin (default: build-bench/nbd, build/nbd, nbdkit's)
#   IMGFS_ENV       environment for nbdkit, e.g. "IMGFS_POOL_THREADS=2"
# Needs root (drop_caches), nbdkit, nbdcopy, fio with the nbd engine,
# qemu-nbd, qemu-img, python3.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
workdir=${BENCH_WORKDIR:-/var/tmp/imgfs-bench-fuse}
size_mib=${BENCH_SIZE_MIB:-2048}
rounds=${BENCH_ROUNDS:-3}
runtime=${BENCH_RUNTIME:-10}
variants=${BENCH_VARIANTS:-qcow2 zlib}
servers=${BENCH_SERVERS:-imgfs qemu-nbd qcow2dec}
metrics=${BENCH_METRICS:-seq1 seq4 rand1 rand4}
imgfs_env=${IMGFS_ENV:-}

log() { printf '%s bench-nbd: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }

for t in nbdkit nbdcopy fio qemu-nbd qemu-img python3; do
  command -v "$t" >/dev/null || die "cannot find $t in PATH"
done
fio --enghelp 2>/dev/null | grep -qw nbd || die "this fio has no nbd ioengine"

plugin=${IMGFS_PLUGIN:-}
if [[ -z $plugin ]]; then
  for c in "$here/build-bench/nbd/nbdkit-imgfs-plugin.so" "$here/build/nbd/nbdkit-imgfs-plugin.so"; do
    if [[ -f $c ]]; then plugin=$c; break; fi
  done
  [[ -n $plugin ]] || plugin=imgfs  # nbdkit's plugin directory
fi
have_qcow2dec=no
if nbdkit file --filter=qcow2dec --dump-plugin >/dev/null 2>&1; then have_qcow2dec=yes; fi

mkdir -p "$workdir"
results="$workdir/nbd-results-$(date +%Y%m%dT%H%M%S).tsv"
: >"$results"
sock="$workdir/nbd-bench.sock"

# --- servers: each is tracked and stopped on exit -------------------------------
srv_pid=''
stop_server() {
  [[ -n $srv_pid ]] || return 0
  kill -TERM "$srv_pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$srv_pid" 2>/dev/null || true
  wait "$srv_pid" 2>/dev/null || true
  srv_pid=''
  rm -f "$sock"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# --- inputs: bench-fuse.sh's images, made the same way when absent ---------------
image_for() {  # variant -> path
  local v=$1 base="$workdir/disk-${size_mib}M" out args
  local raw="$base.raw"
  case $v in
    qcow2) out="$base-qcow2.qcow2"; args=(-O qcow2 -o cluster_size=65536) ;;
    zlib | zstd) out="$base-$v.qcow2"; args=(-c -O qcow2 -o cluster_size=65536,compression_type="$v") ;;
    *) die "unknown variant $v" ;;
  esac
  if [[ ! -s $out ]]; then
    if [[ ! -s $raw ]]; then
      log "generating $raw"
      python3 "$here/scripts/gen-disk.py" "$raw.tmp$$" $((size_mib << 20))
      mv "$raw.tmp$$" "$raw"
    fi
    log "converting $raw -> $out"
    qemu-img convert "${args[@]}" "$raw" "$out.tmp$$.qcow2"
    mv "$out.tmp$$.qcow2" "$out"
  fi
  echo "$out"
}

start_server() {  # server image -> sets srv_pid, or returns 1 (n/a)
  local server=$1 img=$2 i
  rm -f "$sock"
  case $server in
    imgfs)
      # shellcheck disable=SC2086
      env $imgfs_env nbdkit --foreground --readonly --unix "$sock" "$plugin" file="$img" \
        >"$workdir/nbd-imgfs.log" 2>&1 &
      ;;
    qemu-nbd)
      qemu-nbd --read-only --persistent --shared=8 --format=qcow2 --socket="$sock" "$img" \
        >"$workdir/nbd-qemu-nbd.log" 2>&1 &
      ;;
    qcow2dec)
      [[ $have_qcow2dec == yes ]] || return 1
      nbdkit --foreground --readonly --unix "$sock" --filter=qcow2dec file "$img" \
        >"$workdir/nbd-qcow2dec.log" 2>&1 &
      ;;
    *) die "unknown server $server" ;;
  esac
  srv_pid=$!
  for ((i = 0; i < 200; i++)); do
    [[ -S $sock ]] && return 0
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.05
  done
  log "cannot start $server on $img (see $workdir/nbd-$server.log)"
  stop_server
  return 1
}

cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
load1() { cut -d' ' -f1 /proc/loadavg; }
clk_tck=$(getconf CLK_TCK)
drop_caches() {
  sync
  if ! { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
    [[ -n ${warned_drop:-} ]] || log "cannot drop caches (not root?): runs are not cold"
    warned_drop=1
  fi
}
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"; }

measure() {  # round variant server metric image
  local round=$1 v=$2 server=$3 metric=$4 img=$5 uri value c0 c1 load t0 t1 bytes
  if ! start_server "$server" "$img"; then
    record "$round" "$v" "$server" "$metric" na
    return
  fi
  uri="nbd+unix:///?socket=$sock"
  drop_caches
  load=$(load1)
  c0=$(cpu_ticks "$srv_pid")
  case $metric in
    seq1 | seq4)
      bytes=$(qemu-img info --output=json "$img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
      t0=$(date +%s.%N)
      nbdcopy --request-size=1048576 --connections="${metric#seq}" "$uri" null:
      t1=$(date +%s.%N)
      value=$(python3 -c "print($bytes / ($t1 - $t0) / 1e6)")
      ;;
    rand1 | rand4)
      value=$(fio --name=bench --ioengine=nbd --uri="$uri" --rw=randread --bs=4k --iodepth=1 \
        --numjobs="${metric#rand}" --time_based --runtime="$runtime" --group_reporting \
        --output-format=json --output="$workdir/nbd-fio.json" >/dev/null &&
        python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["jobs"][0]["read"]["iops"])' \
          "$workdir/nbd-fio.json")
      ;;
  esac
  c1=$(cpu_ticks "$srv_pid")
  stop_server
  record "$round" "$v" "$server" "$metric" "$value"
  [[ $metric == seq1 ]] && record "$round" "$v" "$server" cpu_seq "$(python3 -c "print(($c1 - $c0) / $clk_tck)")"
  record "$round" "$v" "$server" load "$load"
  log "round $round $v $server $metric: $value (load $load)"
}

declare -A images=()
for v in $variants; do images[$v]=$(image_for "$v"); done
read -r -a server_list <<<"$servers"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for ((round = 1; round <= rounds; round++)); do
  n=${#server_list[@]}
  order=()
  for ((k = 0; k < n; k++)); do order+=("${server_list[$(((k + round - 1) % n))]}"); done
  for v in $variants; do
    for metric in $metrics; do
      for server in "${order[@]}"; do
        measure "$round" "$v" "$server" "$metric" "${images[$v]}"
      done
    done
  done
done

{
  echo "<!-- bench-nbd.sh: $started .. $(date -u +%Y-%m-%dT%H:%M:%SZ), size ${size_mib} MiB, rounds $rounds, runtime ${runtime}s -->"
  echo "<!-- host: $(nproc) cpus, kernel $(uname -r); $(nbdkit --version); plugin ${plugin} ${imgfs_env}; $(qemu-nbd --version | head -1); $(fio --version); qcow2dec filter: $have_qcow2dec -->"
  python3 "$here/scripts/bench-report.py" nbd "$results" "$servers" "$variants"
  echo
  echo "Raw samples: $results"
}
