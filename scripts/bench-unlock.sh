#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench-unlock.sh: time to unlock a LUKS image, per key-derivation function,
# for imgfs and the tools that can unlock the same image in the same run:
#   imgfs       `imgfs map --passphrase-file F IMAGE` (opens, unlocks, maps)
#   cryptsetup  `cryptsetup open --test-passphrase --key-file F IMAGE`
#               (unlocks the keyslot without activating anything)
#   qemu-io     `qemu-io --image-opts driver=luks,... -c 'read 0 512'`
#               (LUKS1 only: qemu's luks driver does not read LUKS2)
# Images are made by `cryptsetup luksFormat` with cryptsetup's default cost for
# each KDF on this machine (PBKDF2 iterations for 2 s, argon2 for 2 s with up to
# 1 GiB and 4 threads), so each figure is what a user of a default image waits.
# Prints a markdown table of medians (and the samples) of BENCH_ROUNDS rounds;
# tools interleave within a round.
#
# Usage: scripts/bench-unlock.sh [> table.md]
# Environment:
#   BENCH_WORKDIR  images (default /var/tmp/imgfs-bench-unlock; reused)
#   BENCH_ROUNDS   rounds (default 3)
#   IMGFS          the imgfs binary (default: build-bench/fuse/imgfs,
#                  build/fuse/imgfs, PATH)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
workdir=${BENCH_WORKDIR:-/var/tmp/imgfs-bench-unlock}
rounds=${BENCH_ROUNDS:-3}
imgfs_bin=${IMGFS:-}
if [[ -z $imgfs_bin ]]; then
  for c in "$here/build-bench/fuse/imgfs" "$here/build/fuse/imgfs" "$(command -v imgfs || true)"; do
    if [[ -n $c && -x $c ]]; then imgfs_bin=$c; break; fi
  done
fi
[[ -n $imgfs_bin ]] || { echo "bench-unlock: no imgfs binary (set IMGFS)" >&2; exit 1; }
for t in cryptsetup qemu-io python3; do
  command -v "$t" >/dev/null || { echo "bench-unlock: cannot find $t" >&2; exit 1; }
done

mkdir -p "$workdir"
pass="$workdir/pass"
printf 'bench-passphrase' >"$pass"

# name -> luksFormat options
declare -A kdf_args=(
  [luks1-pbkdf2]="--type luks1 --hash sha256"
  [luks2-pbkdf2]="--type luks2 --pbkdf pbkdf2 --hash sha256"
  [luks2-argon2i]="--type luks2 --pbkdf argon2i"
  [luks2-argon2id]="--type luks2 --pbkdf argon2id"
)
names="luks1-pbkdf2 luks2-pbkdf2 luks2-argon2i luks2-argon2id"

for n in $names; do
  img="$workdir/$n.img"
  if [[ ! -s $img ]]; then
    echo "bench-unlock: formatting $img" >&2
    truncate -s 32M "$img.tmp"
    # shellcheck disable=SC2086
    cryptsetup luksFormat -q ${kdf_args[$n]} --key-file "$pass" "$img.tmp"
    mv "$img.tmp" "$img"
  fi
done

samples="$workdir/samples-$(date +%Y%m%dT%H%M%S).tsv"
: >"$samples"
seconds() {  # command... -> wall seconds, or "fail"
  python3 - "$@" <<'EOF'
import subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(f"{time.perf_counter() - t:.3f}" if r.returncode == 0 else "fail")
EOF
}

for ((round = 1; round <= rounds; round++)); do
  for n in $names; do
    img="$workdir/$n.img"
    for tool in imgfs cryptsetup qemu-io; do
      case $tool in
        imgfs) s=$(seconds "$imgfs_bin" map --passphrase-file "$pass" "$img") ;;
        cryptsetup) s=$(seconds cryptsetup open --test-passphrase --key-file "$pass" "$img") ;;
        qemu-io)
          if [[ $n == luks1-* ]]; then
            s=$(seconds qemu-io --object "secret,id=s0,file=$pass" --image-opts \
              "driver=luks,key-secret=s0,file.filename=$img" -c 'read 0 512')
          else
            s=na
          fi
          ;;
      esac
      printf '%s\t%s\t%s\t%s\n' "$round" "$n" "$tool" "$s" >>"$samples"
      echo "bench-unlock: round $round $n $tool: $s s" >&2
    done
  done
done

python3 - "$samples" "$names" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
tools = ["imgfs", "cryptsetup", "qemu-io"]
print("| image (cryptsetup default cost) | " + " | ".join(f"{t}, s" for t in tools) +
      " | imgfs vs cryptsetup |")
print("|---|" + "---:|" * (len(tools) + 1))
for n in sys.argv[2].split():
    med = {}
    cells = []
    for t in tools:
        v = [r[3] for r in rows if r[1] == n and r[2] == t]
        nums = [float(x) for x in v if x not in ("na", "fail")]
        if "fail" in v:
            cells.append("fail")
        elif nums:
            med[t] = statistics.median(nums)
            cells.append(f"{med[t]:.2f} ({' '.join(v)})")
        else:
            cells.append("n/a")
    ratio = f"{med['cryptsetup'] / med['imgfs']:.2f}x" if "imgfs" in med and "cryptsetup" in med else "n/a"
    print(f"| {n} | " + " | ".join(cells) + f" | {ratio} |")
EOF
echo
echo "Samples: $samples"
