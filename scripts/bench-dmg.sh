#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench-dmg.sh: DMG read throughput, imgfs vs the other Linux readers, in the
# same run, and imgfs's `convert -O dmg` scaling with 1 and 2 threads.
#
# Input: disk-like data (scripts/gen-disk.py, ~2x compressible) of
# BENCH_SIZE_MIB, written as a UDZO (zlib) DMG by `imgfs convert -O dmg`
# (there is no other DMG writer on Linux; the DMG is read back
# byte-identically by dmg2img, 7-Zip and qemu-img in the test suite).
#
# Read measurements (each cold: page cache dropped first; outputs go to
# tmpfs so that no reader pays for disk writes):
#   imgfs-fuse   `imgfs mount -f`, then dd bs=1M of the raw view to /dev/null
#   imgfs-fused  the same with dd iflag=direct (one request at a time)
#   imgfs-conv   `imgfs convert -O raw` to tmpfs (in-process decoding)
#   dmg2img      `dmg2img -i X.dmg -o tmpfs/out.raw`
#   qemu-img     `qemu-img convert -f dmg -O raw X.dmg tmpfs/out.raw`
#   7zz          `7zz x -tdmg` to tmpfs (an archiver; for reference)
#   base-fuse, base-fused, base-conv  the same with IMGFS_BASE (A/B)
# Convert measurements: `imgfs convert -O dmg -o format=UDZO -m N` for
# N = 1, 2 from the raw file (page cache warm; output to tmpfs).
# Each is the median of BENCH_ROUNDS rounds; tools interleave every round.
# MB/s = virtual (raw) bytes / wall seconds.
#
# Usage: sudo scripts/bench-dmg.sh
# Environment: BENCH_WORKDIR (default /var/tmp/imgfs-bench-dmg),
#   BENCH_SIZE_MIB (default 1024), BENCH_ROUNDS (default 3), IMGFS (binary),
#   IMGFS_BASE (a second imgfs binary, measured as base-fuse and base-conv in
#   the same rounds), BENCH_TOOLS (subset of the tools above, in order),
#   BENCH_RT=1 (run every tool under `chrt -f 1`: on a machine shared with
#   other users' builds, CFS shares CPU between their cgroups whatever our
#   nice level, so wall times swing 3x; real-time priority gives each tool
#   the idle machine it would have alone; CPU-bound tools only, bounded by
#   the kernel's real-time throttling)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
workdir=${BENCH_WORKDIR:-/var/tmp/imgfs-bench-dmg}
size_mib=${BENCH_SIZE_MIB:-1024}
rounds=${BENCH_ROUNDS:-3}
imgfs=${IMGFS:-}
base=${IMGFS_BASE:-}
if [[ -z $imgfs ]]; then
  for c in "$here/build-bench/fuse/imgfs" "$here/build/fuse/imgfs" "$(command -v imgfs || true)"; do
    if [[ -n $c && -x $c ]]; then imgfs=$c; break; fi
  done
fi
[[ -x $imgfs ]] || { echo "bench-dmg: no imgfs binary (set IMGFS)" >&2; exit 1; }
[[ -z $base || -x $base ]] || { echo "bench-dmg: IMGFS_BASE $base is not executable" >&2; exit 1; }
for t in dmg2img qemu-img 7zz python3; do
  command -v "$t" >/dev/null || { echo "bench-dmg: cannot find $t" >&2; exit 1; }
done

log() { printf '%s bench-dmg: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
mkdir -p "$workdir"
shm=$(mktemp -d /dev/shm/imgfs-bench-dmg.XXXXXX)
mnt=$(mktemp -d)
server=
cleanup() {
  [[ -n $server ]] && { fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true; }
  rm -rf "$shm"
  rmdir "$mnt" 2>/dev/null || true
}
trap cleanup EXIT

raw=$workdir/disk-${size_mib}M.raw
dmg=$workdir/disk-${size_mib}M-udzo.dmg
if [[ ! -s $raw ]]; then
  log "generating $raw"
  python3 "$here/scripts/gen-disk.py" "$raw.tmp" $((size_mib << 20))
  mv "$raw.tmp" "$raw"
fi
if [[ ! -s $dmg || $dmg -ot $imgfs ]]; then
  log "writing $dmg"
  "$imgfs" convert -O dmg -o format=UDZO "$raw" "$dmg.tmp"
  mv "$dmg.tmp" "$dmg"
fi
bytes=$(stat -c %s "$raw")

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
rt=()
[[ ${BENCH_RT:-0} == 1 ]] && rt=(chrt -f 1)
now() { date +%s.%N; }

run_tool() {  # tool -> seconds on stdout
  local t0 t1 bin=$imgfs flags=
  [[ $1 == base-* ]] && bin=$base
  [[ $1 == *-fused ]] && flags=iflag=direct
  drop
  case $1 in
    imgfs-fuse | base-fuse | imgfs-fused | base-fused)
      "${rt[@]}" "$bin" mount -f "$dmg" "$mnt" & server=$!
      for _ in $(seq 100); do [[ -e $mnt/$(basename "${dmg%.dmg}").raw ]] && break; sleep 0.05; done
      t0=$(now)
      "${rt[@]}" dd if="$mnt/$(basename "${dmg%.dmg}").raw" of=/dev/null bs=1M $flags status=none
      t1=$(now)
      fusermount3 -u "$mnt"; wait "$server" || true; server= ;;
    imgfs-conv | base-conv)
      t0=$(now); "${rt[@]}" "$bin" convert -O raw "$dmg" "$shm/out.raw"; t1=$(now) ;;
    dmg2img)
      t0=$(now); "${rt[@]}" dmg2img -s -i "$dmg" -o "$shm/out.raw" >/dev/null; t1=$(now) ;;
    qemu-img)
      t0=$(now); "${rt[@]}" qemu-img convert -f dmg -O raw "$dmg" "$shm/out.raw"; t1=$(now) ;;
    7zz)
      t0=$(now); "${rt[@]}" 7zz x -tdmg -y -o"$shm/7z" "$dmg" >/dev/null; t1=$(now) ;;
    conv-dmg-m1 | conv-dmg-m2)
      cat "$raw" >/dev/null  # warm: measure compression, not the disk
      t0=$(now)
      "${rt[@]}" "$imgfs" convert -O dmg -o format=UDZO -m "${1##*-m}" "$raw" "$shm/out.dmg"
      t1=$(now) ;;
  esac
  rm -rf "$shm/out.raw" "$shm/out.dmg" "$shm/7z"
  python3 -c "print(f'{$t1 - $t0:.3f}')"
}

if [[ -n ${BENCH_TOOLS:-} ]]; then
  read -r -a tools <<<"$BENCH_TOOLS"
else
  tools=(imgfs-fuse imgfs-conv dmg2img qemu-img 7zz conv-dmg-m1 conv-dmg-m2)
  [[ -n $base ]] && tools+=(base-fuse base-conv)
fi
declare -A secs=()
for ((r = 0; r < rounds; r++)); do
  for ((i = 0; i < ${#tools[@]}; i++)); do
    t=${tools[(i + r) % ${#tools[@]}]}
    s=$(run_tool "$t")
    log "round $r $t ${s}s (load $(cut -d' ' -f1 /proc/loadavg))"
    secs[$t]+="$s "
  done
done

python3 - "$bytes" "$(stat -c %s "$dmg")" "${tools[@]}" <<PYEOF
import statistics, sys
size, dmg_size, tools = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
secs = {$(for t in "${tools[@]}"; do printf '"%s": [%s], ' "$t" "$(echo ${secs[$t]} | tr ' ' ',')"; done)}
med = {t: statistics.median(v) for t, v in secs.items()}
mbs = {t: size / med[t] / 1e6 for t in tools}
print(f"DMG: {size >> 20} MiB virtual, UDZO {dmg_size >> 20} MiB, {len(secs[tools[0]])} rounds (median)\n")
print("| reader | MB/s | seconds (median) | all rounds, s |")
print("|---|---:|---:|---|")
for t in tools:
    print(f"| {t} | {mbs[t]:.0f} | {med[t]:.2f} | {' '.join(f'{x:.2f}' for x in secs[t])} |")
anchors = [mbs[t] for t in ("dmg2img", "qemu-img") if t in mbs]
if anchors:
    best = max(anchors)
    for t in ("imgfs-fuse", "imgfs-fused", "imgfs-conv", "base-fuse", "base-fused", "base-conv"):
        if t in mbs:
            print(f"{t} / faster of dmg2img, qemu-img: {mbs[t] / best:.2f}x")
if "conv-dmg-m1" in med and "conv-dmg-m2" in med:
    print(f"convert -O dmg UDZO scaling, 2 threads / 1 thread: {med['conv-dmg-m1'] / med['conv-dmg-m2']:.2f}x")
PYEOF
