#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench-fuse.sh: reads the raw view of disk images through several FUSE
# servers in the same run and prints a markdown table of medians:
#   imgfs      `imgfs mount -f IMAGE DIR`          -> DIR/<stem>.raw
#   qsd        qemu-storage-daemon --export type=fuse (mountpoint is a file)
#   qcowmount  libqcow-utils (fuse2; qcow2 only, cannot read zstd)
#   vmdkmount  libvmdk-utils (fuse2; vmdk only)
#   vhdimount  libvhdi-utils (fuse2; vpc and vhdx only)
#   nbdkit     nbdkit's file plugin with its luks filter, made a file by
#              nbdfuse (luks only; the server is both processes)
# and, when BENCH_TOOLS names it, the ceiling no FUSE server can pass:
#   disk       fio on the image file itself with O_DIRECT: random 4 KiB reads
#              at the same depth as the FUSE readers, sequential reads as
#              2 MiB requests 4 deep (a server that reads ahead at no cost).
#              It is not an anchor; it shows when every server is disk-bound.
# for images made by `qemu-img convert` from the same disk-like data (per
# 4 KiB block: 25% random, 10% zeros, 30% text-like, 35% repeated records;
# about 2x compressible): uncompressed (64 KiB clusters), zlib- and
# zstd-compressed qcow2, and the variants vmdk (monolithicSparse), vmdks
# (streamOptimized: zlib grains), vpc (dynamic VHD), vhdx (dynamic), vdi
# (dynamic), parallels (1 MiB clusters), qed (64 KiB clusters), cloop
# (create_compressed_fs: zlib, 64 KiB blocks) and luks (LUKS1, qemu-img's
# aes-256-xts-plain64; every server gets the passphrase from a file). A
# tool that cannot read a variant is shown as n/a.
#
# Every measurement starts a fresh server and drops the page cache first
# (echo 3 > /proc/sys/vm/drop_caches), so each one is cold: no server cache,
# no page cache for the image or the FUSE file. Reads use O_DIRECT on the
# FUSE file (the server sees every read) except "seq buffered", which is
# what cp/sha256sum see (kernel readahead, FUSE page cache).
#
# Metrics per (variant, tool), median over BENCH_ROUNDS rounds; the tools
# are interleaved and their order rotates every round:
#   seq direct MB/s     fio read, bs=1M, direct=1, whole image once
#   seq buffered MB/s   fio read, bs=1M, buffered, whole image once
#   rand 4k IOPS j=1/2  fio randread, bs=4k, direct=1, numjobs=1/2, BENCH_RUNTIME s
#   CPU s / seq pass    server utime+stime (/proc/PID/stat) during "seq direct"
#   CPU us / rand read  server CPU during "rand j=1" / reads done
#   disk KiB/rand read  /proc/PID/io read_bytes during "rand j=1" / reads done
#                       (read amplification: readahead, whole-cluster reads)
#   peak RSS MiB        max VmHWM of the server over its sessions
# The 1-minute load average at the start of each measurement is recorded:
# on a shared machine it explains most of the spread.
# Ratios are imgfs / best anchor (higher-is-better metrics) or best anchor /
# imgfs (CPU, RSS), so a ratio > 1 always means imgfs is better.
#
# Usage: sudo scripts/bench-fuse.sh [> table.md]
# Environment:
#   BENCH_WORKDIR   images and mount points (default /var/tmp/imgfs-bench-fuse);
#                   images are cached there and reused
#   BENCH_SIZE_MIB  virtual size (default 2048)
#   BENCH_ROUNDS    rounds (default 3; 0 only prepares the images)
#   BENCH_RUNTIME   seconds per random-read run (default 10)
#   BENCH_VARIANTS  subset of "qcow2 zlib zstd raw vmdk vmdks vpc vhdx vdi
#                   parallels qed cloop luks"
#                   (default "qcow2 zlib zstd")
#   BENCH_TOOLS     subset of "imgfs qsd qcowmount vmdkmount vhdimount nbdkit disk base"
#                   (default "imgfs qsd qcowmount")
#   BENCH_METRICS   subset of "seqd seqb rand1 rand2" (default all four)
#   IMGFS           the imgfs binary (default: build-bench/fuse/imgfs, build/fuse/imgfs, PATH)
#   IMGFS_MOUNT_ARGS extra `imgfs mount` arguments, e.g. "--cache-size 256M"
#   IMGFS_ENV       environment for imgfs, e.g. "IMGFS_POOL_THREADS=2"
#   IMGFS_BASE      a second imgfs binary, measured as tool "base" when
#                   BENCH_TOOLS names it (A/B in one run; not an anchor)
#   IMGFS_BASE_ENV  environment for the "base" imgfs
#   IMGFS_BASE_ARGS `imgfs mount` arguments for "base" (default IMGFS_MOUNT_ARGS)
# Needs root (drop_caches, /dev/fuse), fio, qemu-img, python3.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
workdir=${BENCH_WORKDIR:-/var/tmp/imgfs-bench-fuse}
size_mib=${BENCH_SIZE_MIB:-2048}
rounds=${BENCH_ROUNDS:-3}
runtime=${BENCH_RUNTIME:-10}
variants=${BENCH_VARIANTS:-qcow2 zlib zstd}
tools=${BENCH_TOOLS:-imgfs qsd qcowmount}
metrics=${BENCH_METRICS:-seqd seqb rand1 rand2}
imgfs_args=${IMGFS_MOUNT_ARGS:-}
imgfs_env=${IMGFS_ENV:-}
base_bin=${IMGFS_BASE:-}
base_env=${IMGFS_BASE_ENV:-}
base_args=${IMGFS_BASE_ARGS-$imgfs_args}

log() { printf '%s bench-fuse: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }

for t in fio qemu-img python3; do
  command -v "$t" >/dev/null || die "cannot find $t in PATH"
done

imgfs_bin=${IMGFS:-}
if [[ -z $imgfs_bin ]]; then
  for c in "$here/build-bench/fuse/imgfs" "$here/build/fuse/imgfs" "$(command -v imgfs || true)"; do
    if [[ -n $c && -x $c ]]; then imgfs_bin=$c; break; fi
  done
fi

mkdir -p "$workdir"
# The passphrase of the luks variant (LUKS1, qemu-img's defaults: aes-256
# xts-plain64, sha256), for qemu-img, qemu-storage-daemon and imgfs alike.
luks_pass="$workdir/luks.pass"
printf 'bench-passphrase' >"$luks_pass"
results="$workdir/results-$(date +%Y%m%dT%H%M%S).tsv"
: >"$results"

# --- cleanup: every server we start is tracked, and unmounted on exit -------
declare -A server_mnt=()   # pid -> mountpoint
cleanup() {
  local pid
  for pid in "${!server_mnt[@]}"; do
    stop_server "$pid" || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

is_mounted() { grep -q " $1 fuse" /proc/self/mounts; }

stop_server() {
  local pid=$1 mnt=${server_mnt[$1]}
  if is_mounted "$mnt"; then
    fusermount3 -u "$mnt" 2>/dev/null || fusermount -u "$mnt" 2>/dev/null || true
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if is_mounted "$mnt"; then
    umount -l "$mnt" 2>/dev/null || true
  fi
  unset "server_mnt[$pid]"
}

# --- inputs -------------------------------------------------------------------
gen_raw() {  # path bytes
  python3 "$here/scripts/gen-disk.py" "$1" "$2"
}

image_for() {  # variant -> path (built once, cached in $workdir)
  local v=$1 base="$workdir/disk-${size_mib}M"
  local raw="$base.raw" out
  if [[ ! -s $raw ]]; then
    log "generating $raw"
    gen_raw "$raw.tmp" $((size_mib << 20))
    mv "$raw.tmp" "$raw"
  fi
  case $v in
    raw) echo "$raw"; return ;;
    qcow2) out="$base-qcow2.qcow2" ;;
    zlib | zstd) out="$base-$v.qcow2" ;;
    vmdk | vmdks | vpc | vhdx | vdi) out="$base-$v.${v%s}" ;;
    parallels) out="$base-parallels.hds" ;;
    qed | cloop | luks) out="$base-$v.$v" ;;
    *) die "unknown variant $v" ;;
  esac
  if [[ ! -s $out ]]; then
    log "converting $raw -> $out"
    local args
    case $v in
      qcow2) args=(-O qcow2 -o cluster_size=65536) ;;
      zlib | zstd) args=(-c -O qcow2 -o cluster_size=65536,compression_type="$v") ;;
      vmdk) args=(-O vmdk -o subformat=monolithicSparse) ;;
      vmdks) args=(-O vmdk -o subformat=streamOptimized) ;;
      vpc) args=(-O vpc -o subformat=dynamic,force_size=on) ;;
      vhdx | vdi | parallels) args=(-O "$v") ;;
      qed) args=(-O qed -o cluster_size=65536,table_size=4) ;;
      luks) args=(--object "secret,id=s0,file=$luks_pass" -O luks -o key-secret=s0) ;;
    esac
    # Made under its final name in a scratch directory, then moved: a vmdk's
    # embedded descriptor names its own file, and vmdkmount opens that name.
    local scratch="$workdir/.converting"
    mkdir -p "$scratch"
    if [[ $v == cloop ]]; then
      # create_compressed_fs 3.14 writes V2.0 (zlib, 64 KiB blocks here).
      create_compressed_fs -q -B 65536 -t 2 "$raw" "$scratch/${out##*/}" >/dev/null 2>&1
    else
      # qemu-img's LUKS key-slot calibration fails now and then on a loaded
      # machine ("Unable to get accurate CPU usage"): try again.
      local try
      for try in 1 2 3; do
        qemu-img convert "${args[@]}" "$raw" "$scratch/${out##*/}" && break
        [[ $try -lt 3 ]] || die "cannot make $out"
      done
    fi
    mv "$scratch/${out##*/}" "$out"
  fi
  echo "$out"
}

# --- servers ------------------------------------------------------------------
# start_server tool variant image: sets $srv_pid and $srv_file, or returns 1
# when the tool cannot serve this variant (n/a).
start_server() {
  local tool=$1 v=$2 img=$3 mnt stem i
  srv_pid='' srv_file=''
  case $tool in
    imgfs | base)
      local bin=$imgfs_bin envs=$imgfs_env args=$imgfs_args
      [[ $tool == base ]] && bin=$base_bin envs=$base_env args=$base_args
      [[ -n $bin ]] || return 1
      mnt="$workdir/mnt-$tool"
      mkdir -p "$mnt"
      stem=$(basename "$img"); stem=${stem%.*}
      [[ $v == luks ]] && args="$args --passphrase-file $luks_pass"
      # env execs the binary, so $! is the server itself. The lists are
      # word lists on purpose.
      # shellcheck disable=SC2086
      env $envs "$bin" mount -f $args "$img" "$mnt" >"$workdir/$tool.log" 2>&1 &
      srv_pid=$!
      srv_file="$mnt/$stem.raw"
      ;;
    qsd)
      command -v qemu-storage-daemon >/dev/null || return 1
      mnt="$workdir/mnt-qsd.raw"
      : >"$mnt"
      local drv
      case $v in
        qcow2 | zlib | zstd) drv=qcow2 ;;
        vmdks) drv=vmdk ;;
        *) drv=$v ;;
      esac
      local secret=() key=''
      [[ $v == luks ]] && secret=(--object "secret,id=s0,file=$luks_pass") key=,key-secret=s0
      qemu-storage-daemon "${secret[@]}" \
        --blockdev "driver=file,node-name=f,filename=$img,read-only=on" \
        --blockdev "driver=$drv,node-name=q,file=f$key,read-only=on" \
        --export "type=fuse,id=e,node-name=q,mountpoint=$mnt" >"$workdir/qsd.log" 2>&1 &
      srv_pid=$!
      srv_file=$mnt
      ;;
    qcowmount)
      command -v qcowmount >/dev/null || return 1
      [[ $v == qcow2 || $v == zlib ]] || return 1  # libqcow 20201213 has no zstd
      mnt="$workdir/mnt-qcowmount"
      mkdir -p "$mnt"
      # -v keeps it in the foreground, so $! is the server.
      qcowmount -v "$img" "$mnt" >"$workdir/qcowmount.log" 2>&1 &
      srv_pid=$!
      srv_file="$mnt/qcow1"
      ;;
    vmdkmount | vhdimount)
      command -v "$tool" >/dev/null || return 1
      local first=vmdk1
      case $tool:$v in
        vmdkmount:vmdk | vmdkmount:vmdks) ;;
        vhdimount:vpc | vhdimount:vhdx) first=vhdi1 ;;
        *) return 1 ;;
      esac
      mnt="$workdir/mnt-$tool"
      mkdir -p "$mnt"
      "$tool" -v "$img" "$mnt" >"$workdir/$tool.log" 2>&1 &
      srv_pid=$!
      srv_file="$mnt/$first"
      ;;
    nbdkit)
      command -v nbdfuse >/dev/null && command -v nbdkit >/dev/null || return 1
      [[ $v == luks ]] || return 1
      mnt="$workdir/mnt-nbdkit"
      mkdir -p "$mnt"
      # nbdfuse stays in the foreground and runs nbdkit as its child.
      nbdfuse -r "$mnt/nbd" --command nbdkit -s file "$img" --filter=luks \
        "passphrase=+$luks_pass" >"$workdir/nbdkit.log" 2>&1 &
      srv_pid=$!
      srv_file="$mnt/nbd"
      ;;
    disk)
      srv_file=$img
      return 0
      ;;
    *) die "unknown tool $tool" ;;
  esac
  server_mnt[$srv_pid]=$mnt
  for ((i = 0; i < 200; i++)); do
    if is_mounted "$mnt" && [[ -e $srv_file ]] &&
      [[ $(stat -c %s "$srv_file" 2>/dev/null || echo 0) -gt 0 ]]; then
      return 0
    fi
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.05
  done
  log "cannot start $tool on $img (see $workdir/$tool.log)"
  stop_server "$srv_pid"
  srv_pid=''
  return 1
}

tree_pids() {  # pid -> the pid and its descendants (nbdfuse runs nbdkit)
  local p=$1 c
  echo "$p"
  for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree_pids "$c"; done
}
cpu_ticks() {  # pid -> utime+stime of all threads of its tree, in clock ticks
  # Fields after the ")" of comm: state is $1, utime $12, stime $13.
  local p t=0
  for p in $(tree_pids "$1"); do
    t=$((t + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
hwm_kib() {  # summed over the tree
  local p t=0
  for p in $(tree_pids "$1"); do
    t=$((t + $(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
# Bytes the server made the storage layer fetch (page cache misses, with
# readahead): shows read amplification.
disk_bytes() {
  local p t=0
  for p in $(tree_pids "$1"); do
    t=$((t + $(awk '/^read_bytes:/ { print $2 }' "/proc/$p/io" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
load1() { cut -d' ' -f1 /proc/loadavg; }
clk_tck=$(getconf CLK_TCK)

drop_caches() {
  sync
  if ! { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
    [[ -n ${warned_drop:-} ]] || log "cannot drop caches (not root?): runs are not cold"
    warned_drop=1
  fi
}

fio_json() {  # file size_bytes args... -> "bw_bytes iops total_ios"
  local file=$1 bytes=$2
  shift 2
  fio --name=bench --filename="$file" --size="$bytes" --ioengine=psync \
    --group_reporting --output-format=json "$@" |
    python3 -c 'import json,sys
r = json.load(sys.stdin)["jobs"][0]["read"]
print(r["bw_bytes"], r["iops"], r["total_ios"])'
}

record() {  # round variant tool metric value
  printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"
}

# One cold measurement: fresh server, dropped caches, one fio run.
measure() {  # round variant tool metric image
  local round=$1 v=$2 tool=$3 metric=$4 img=$5 bytes out c0 c1 hwm d0 d1 load
  if ! start_server "$tool" "$v" "$img"; then
    record "$round" "$v" "$tool" "$metric" na
    return
  fi
  bytes=$(stat -c %s "$srv_file")
  drop_caches
  load=$(load1)
  local seqd_args=(--bs=1M --direct=1) seqb_args=(--bs=1M --direct=0 --invalidate=1) pid=$srv_pid
  # The disk ceiling: no server, so nothing to count but fio's own figures,
  # and no page cache of a FUSE file: both sequential runs read direct.
  if [[ $tool == disk ]]; then
    seqd_args=(--bs=2M --ioengine=libaio --iodepth=4 --direct=1) seqb_args=("${seqd_args[@]}") pid=$$
  fi
  c0=$(cpu_ticks "$pid")
  d0=$(disk_bytes "$pid")
  case $metric in
    seqd) out=$(fio_json "$srv_file" "$bytes" --rw=read "${seqd_args[@]}") ;;
    seqb) out=$(fio_json "$srv_file" "$bytes" --rw=read "${seqb_args[@]}") ;;
    rand1 | rand2)
      out=$(fio_json "$srv_file" "$bytes" --rw=randread --bs=4k --direct=1 \
        --numjobs="${metric#rand}" --time_based --runtime="$runtime")
      ;;
  esac
  c1=$(cpu_ticks "$pid")
  d1=$(disk_bytes "$pid")
  hwm=$(hwm_kib "$pid")
  [[ $tool == disk ]] || stop_server "$srv_pid"
  read -r bw iops ios <<<"$out"
  local cpu_s
  cpu_s=$(python3 -c "print(($c1 - $c0) / $clk_tck)")
  case $metric in
    seq*) record "$round" "$v" "$tool" "$metric" "$(python3 -c "print($bw / 1e6)")"
      [[ $metric == seqd && $tool != disk ]] && record "$round" "$v" "$tool" cpu_seq "$cpu_s" ;;
    rand*) record "$round" "$v" "$tool" "$metric" "$iops"
      [[ $metric == rand1 && $tool != disk ]] &&
        record "$round" "$v" "$tool" cpu_rand "$(python3 -c "print($cpu_s * 1e6 / max($ios, 1))")" &&
        record "$round" "$v" "$tool" disk_rand "$(python3 -c "print(($d1 - $d0) / 1024 / max($ios, 1))")" ;;
  esac
  [[ $tool == disk ]] || record "$round" "$v" "$tool" rss "$(python3 -c "print($hwm / 1024)")"
  record "$round" "$v" "$tool" load "$load"
  log "round $round $v $tool $metric: bw=$((bw / 1000000))MB/s iops=${iops%.*} cpu=${cpu_s}s disk=$(((d1 - d0) >> 20))MiB hwm=$((hwm / 1024))MiB load=$load"
}

# --- run ------------------------------------------------------------------------
[[ -n $imgfs_bin ]] || log "imgfs binary not found: imgfs column will be n/a"
declare -A images=()
for v in $variants; do images[$v]=$(image_for "$v"); done

read -r -a tool_list <<<"$tools"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for ((round = 1; round <= rounds; round++)); do
  # Rotate the tool order each round so no tool always runs first.
  n=${#tool_list[@]}
  order=()
  for ((k = 0; k < n; k++)); do order+=("${tool_list[$(((k + round - 1) % n))]}"); done
  for v in $variants; do
    for metric in $metrics; do
      for tool in "${order[@]}"; do
        measure "$round" "$v" "$tool" "$metric" "${images[$v]}"
      done
    done
  done
done

# --- report ---------------------------------------------------------------------
{
  echo "<!-- bench-fuse.sh: $started .. $(date -u +%Y-%m-%dT%H:%M:%SZ), size ${size_mib} MiB, rounds $rounds, runtime ${runtime}s -->"
  echo "<!-- host: $(nproc) cpus, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r); imgfs: ${imgfs_env} ${imgfs_bin:-none} ${imgfs_args}; base: ${base_env} ${base_bin:-none} ${base_args}; $(qemu-img --version | head -1); $(fio --version) -->"
  python3 "$here/scripts/bench-report.py" fuse "$results" "$tools" "$variants"
  echo
  echo "Raw samples: $results"
}
