#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench-fat.sh: `imgfs fat` (issue 21) against the other ways to give a guest
# a FAT view of a host directory, in the same run:
#   imgfs        `imgfs fat -f DIR MNT`: MNT/disk.img
#   nbdkit       nbdkit's floppy plugin served through nbdfuse
#                (`nbdfuse -r MNT/disk.img --command nbdkit -s -r floppy DIR`),
#                the only other tool that makes a FAT view without copying
#   mkfs+mcopy   a real image: `mkfs.fat -F 32` on a sparse file, then
#                `mcopy -s` of the tree into it (what people do today)
# Trees (made once in BENCH_WORKDIR): BENCH_FILES small files (default
# 100000, in directories of 1000, 100 bytes each), and one file of
# BENCH_BIG_MIB (default 1024) random bytes.
# Measured:
#   ready-s     seconds from start until the first sector of disk.img reads
#               (for mkfs+mcopy: until the image is complete)
#   cold-MB/s   reading the whole disk.img with dd bs=1M after dropping the
#               page cache (big tree only; the 1 GiB file is nearly all of it)
#   warm-MB/s   the same again without dropping caches
#   peak-MiB    peak resident memory (VmHWM) of the serving processes
#               (imgfs; nbdkit + nbdfuse; mkfs.fat and mcopy's largest)
# Each number is the median of BENCH_ROUNDS rounds (default 1).
#
# Usage: sudo scripts/bench-fat.sh   (root: drop_caches)
# Environment: BENCH_WORKDIR (default /var/tmp/imgfs-bench-fat), BENCH_FILES,
#   BENCH_BIG_MIB, BENCH_ROUNDS, IMGFS (binary), BENCH_TOOLS (subset, in order).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
workdir=${BENCH_WORKDIR:-/var/tmp/imgfs-bench-fat}
nfiles=${BENCH_FILES:-100000}
big_mib=${BENCH_BIG_MIB:-1024}
rounds=${BENCH_ROUNDS:-1}
tools=${BENCH_TOOLS:-"imgfs nbdkit mkfs+mcopy"}
imgfs=${IMGFS:-}
if [[ -z $imgfs ]]; then
  for c in "$here/build-bench/fuse/imgfs" "$here/build/fuse/imgfs" "$(command -v imgfs || true)"; do
    if [[ -n $c && -x $c ]]; then imgfs=$c; break; fi
  done
fi
[[ -x $imgfs ]] || { echo "bench-fat: no imgfs binary (set IMGFS)" >&2; exit 1; }
for t in nbdkit nbdfuse mkfs.fat mcopy python3; do
  command -v "$t" >/dev/null || { echo "bench-fat: cannot find $t" >&2; exit 1; }
done

log() { printf '%s bench-fat: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
mnt=$(mktemp -d)
pids=()
cleanup() {
  fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rmdir "$mnt" 2>/dev/null || true
}
trap cleanup EXIT

now() { date +%s.%N; }
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || log "cannot drop caches (not root): cold = warm"; }
median() { python3 -c 'import sys,statistics; v=[float(x) for x in sys.argv[1:]]; print(f"{statistics.median(v):.2f}" if v else "-")' "$@"; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# --- trees ---------------------------------------------------------------
small=$workdir/small-$nfiles
big=$workdir/big-$big_mib
mkdir -p "$workdir"
if [[ ! -e $small.done ]]; then
  log "making $nfiles small files in $small"
  rm -rf "$small"
  python3 - "$small" "$nfiles" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "dir%03d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "file number %d.txt" % i), "wb") as f:
        f.write(b"%099d\n" % i)
PY
  touch "$small.done"
fi
if [[ ! -e $big.done ]]; then
  log "making one $big_mib MiB file in $big"
  rm -rf "$big"; mkdir -p "$big"
  head -c "$((big_mib << 20))" /dev/urandom > "$big/big.bin"
  touch "$big.done"
fi

# --- one tool, one tree --------------------------------------------------
# Sets ready, cold, warm, peak (MiB) for $1 (tool) on $2 (tree).
wait_readable() {
  local deadline=$((SECONDS + 600))
  until dd if="$mnt/disk.img" of=/dev/null bs=512 count=1 status=none 2>/dev/null; do
    ((SECONDS < deadline)) || { log "disk.img never became readable"; return 1; }
    sleep 0.005
  done
}
read_mbs() {
  local t0 t1 bytes
  bytes=$(stat -c %s "$1")
  t0=$(now); dd if="$1" of=/dev/null bs=1M status=none; t1=$(now)
  python3 -c "print(f'{$bytes / ($t1 - $t0) / 1e6:.0f}')"
}
run_one() {
  local tool=$1 tree=$2 read_it=$3 t0 t1 p1 p2
  ready=-; cold=-; warm=-; peak=-
  drop_caches
  case $tool in
    imgfs)
      t0=$(now)
      "$imgfs" fat -f "$tree" "$mnt" 2>/dev/null & p1=$!; pids+=("$p1")
      wait_readable; t1=$(now)
      ready=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
      if [[ $read_it == 1 ]]; then drop_caches; cold=$(read_mbs "$mnt/disk.img"); warm=$(read_mbs "$mnt/disk.img"); fi
      peak=$(( $(hwm_kib "$p1") / 1024 ))
      fusermount3 -u "$mnt"; wait "$p1" || true
      ;;
    nbdkit)
      t0=$(now)
      nbdfuse -r "$mnt/disk.img" --command nbdkit -s --exit-with-parent -r floppy "$tree" 2>/dev/null &
      p1=$!; pids+=("$p1")
      wait_readable; t1=$(now)
      ready=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
      if [[ $read_it == 1 ]]; then drop_caches; cold=$(read_mbs "$mnt/disk.img"); warm=$(read_mbs "$mnt/disk.img"); fi
      p2=$(pgrep -P "$p1" nbdkit || echo "$p1")
      peak=$(( ($(hwm_kib "$p1") + $(hwm_kib "$p2")) / 1024 ))
      fusermount3 -u "$mnt"; wait "$p1" || true
      ;;
    mkfs+mcopy)
      local img=$workdir/mkfs.img kib
      kib=$(du -sk "$tree" | cut -f1)  # allocated: small files take a block each
      t0=$(now)
      rm -f "$img"
      truncate -s $(( (kib * 2 + 65536) * 1024 )) "$img"
      local m1 m2
      m1=$( { /usr/bin/time -f %M mkfs.fat -F 32 "$img" >/dev/null; } 2>&1 | tail -1)
      m2=$( { MTOOLS_SKIP_CHECK=1 /usr/bin/time -f %M mcopy -s -i "$img" "$tree"/* ::/ >/dev/null; } 2>&1 | tail -1)
      sync "$img"
      t1=$(now)
      ready=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
      if [[ $read_it == 1 ]]; then drop_caches; cold=$(read_mbs "$img"); warm=$(read_mbs "$img"); fi
      peak=$(( (m1 > m2 ? m1 : m2) / 1024 ))
      rm -f "$img"
      ;;
  esac
}

printf '| tree | tool | ready-s | cold-MB/s | warm-MB/s | peak-MiB |\n|---|---|---:|---:|---:|---:|\n'
for tree_name in small big; do
  tree=$small; read_it=0
  [[ $tree_name == big ]] && { tree=$big; read_it=1; }
  for tool in $tools; do
    rs=(); cs=(); ws=(); ps=()
    for ((r = 0; r < rounds; r++)); do
      log "$tree_name / $tool / round $((r + 1))"
      if ! run_one "$tool" "$tree" "$read_it"; then ready=failed; fi
      rs+=("$ready"); [[ $cold != - ]] && cs+=("$cold"); [[ $warm != - ]] && ws+=("$warm"); ps+=("$peak")
    done
    if [[ ${rs[0]} == failed ]]; then
      printf '| %s | %s | failed | - | - | - |\n' "$tree_name" "$tool"
      continue
    fi
    printf '| %s | %s | %s | %s | %s | %s |\n' "$tree_name" "$tool" "$(median "${rs[@]}")" \
      "$(median "${cs[@]}")" "$(median "${ws[@]}")" "$(median "${ps[@]}")"
  done
done
