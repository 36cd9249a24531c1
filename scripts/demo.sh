#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's first command. On Debian 12, as root:
#
#   bash scripts/demo.sh
#
# Installs what imgfs needs to build and run (the Debian packages listed in
# scripts/debian-packages.sh), builds it (Release, in build-demo/), mounts the
# bundled sample image tests/data/sample/sample.qcow2 (a 4 MiB disk: MBR +
# FAT16 with two text files, see tests/data/README.md), shows the raw view
# through the mount, checks it against `qemu-img convert -O raw` and the
# recorded SHA-256, and unmounts. Then converts the sample to an Apple disk
# image (`imgfs convert -O dmg`) and reads that back with two independent
# readers, dmg2img and 7-Zip, which must give the same bytes. Exits non-zero
# on any mismatch; the last line is "demo: all checks passed" otherwise.
#
# CI runs this very script on a freshly debootstrapped Debian 12 root (the
# fresh stage of scripts/test.sh).
#
# Knobs: IMGFS_SKIP_DEPS=1 (no apt-get), BUILD_DIR=build-demo, JOBS=$(nproc),
# IMAGE=path/to/other.qcow2 (show another image instead of the sample).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
BUILD_DIR=${BUILD_DIR:-$root/build-demo}
JOBS=${JOBS:-$(nproc)}
sample_dir=$root/tests/data/sample

if [[ -t 1 ]]; then
  say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
else
  say() { printf '\n$ %s\n' "$*"; }
fi
run() {
  say "$*"
  "$@"
}
die() {
  echo "demo: $*" >&2
  exit 1
}

# 1. Dependencies (build + runtime + the qemu-img, dmg2img and 7zz readers).
if [[ -z ${IMGFS_SKIP_DEPS:-} ]]; then
  # shellcheck source-path=SCRIPTDIR source=debian-packages.sh
  source "$root/scripts/debian-packages.sh"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "run as root (or with sudo), or set IMGFS_SKIP_DEPS=1"
    sudo=(sudo)
  fi
  echo "demo: installing packages (apt-get): ${IMGFS_DEMO_PACKAGES[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${IMGFS_DEMO_PACKAGES[@]}" >/dev/null
fi

# 2. Build the imgfs binary only (no tests).
echo "demo: building imgfs in $BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DIMGFS_BUILD_TESTS=OFF \
  -DIMGFS_BUILD_BENCHMARKS=OFF -DIMGFS_WITH_FUSE=ON >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS" --target imgfs >/dev/null ||
  die "build failed (run: cmake --build $BUILD_DIR --target imgfs)"
imgfs=$BUILD_DIR/fuse/imgfs
[[ -x $imgfs ]] || imgfs=$(find "$BUILD_DIR" -type f -name imgfs -perm -u+x | head -1)
[[ -n $imgfs && -x $imgfs ]] || die "no imgfs binary under $BUILD_DIR"
echo "demo: built $imgfs"

# 3. The image: the bundled sample, or one made now if it is missing.
work=$(mktemp -d "${TMPDIR:-/tmp}/imgfs-demo.XXXXXX")
mnt=$work/mnt
mkdir -p "$mnt"
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  if mountpoint -q "$mnt" 2>/dev/null; then
    "$imgfs" umount "$mnt" 2>/dev/null || fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" || true
  fi
  # --one-file-system: never into a mount that failed to go away.
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

expected_sha=
if [[ -n ${IMAGE:-} ]]; then
  image=$(realpath "$IMAGE")
elif [[ -f $sample_dir/sample.qcow2 ]]; then
  image=$sample_dir/sample.qcow2
  expected_sha=$(cut -d' ' -f1 "$sample_dir/sample.raw.sha256")
else
  # A stand-in: a sparse 8 MiB qcow2 with a few patterns, unaligned and
  # across cluster boundaries.
  image=$work/sample.qcow2
  qemu-img create -q -f qcow2 "$image" 8M
  qemu-io -f qcow2 -c "write -P 0x5a 0 4k" -c "write -P 0xa5 65000 3000" \
    -c "write -P 0x42 7M 512" "$image" >/dev/null
fi
stem=$(basename "$image")
stem=${stem%.*}

run "$imgfs" info "$image"
run "$imgfs" map --json "$image"

# 4. Mount, look, compare, unmount.
[[ -e /dev/fuse ]] || die "/dev/fuse is missing: this machine (or container) cannot mount FUSE file systems"
run "$imgfs" mount "$image" "$mnt"
for _ in $(seq 1 50); do
  [[ -e $mnt/$stem.raw ]] && break
  sleep 0.1
done
[[ -e $mnt/$stem.raw ]] || die "$mnt/$stem.raw did not appear after mounting"

run ls -l "$mnt"
run sha256sum "$mnt/$stem.raw"
say "hexdump -C $mnt/$stem.raw | head -n 24"
# (hexdump gets SIGPIPE when head is done; that is not a failure.)
{ hexdump -C "$mnt/$stem.raw" || true; } | head -n 24
if command -v file >/dev/null; then
  run file -s "$mnt/$stem.raw"
fi

say "qemu-img convert -O raw $image reference.raw && sha256sum reference.raw"
qemu-img convert -O raw "$image" "$work/reference.raw"
sha_mount=$(sha256sum <"$mnt/$stem.raw" | cut -d' ' -f1)
sha_qemu=$(sha256sum <"$work/reference.raw" | cut -d' ' -f1)
echo "$sha_qemu  reference.raw"
status=0
if [[ $sha_mount == "$sha_qemu" ]]; then
  echo "demo: OK, the mounted $stem.raw is byte-identical to qemu-img's raw conversion"
else
  echo "demo: MISMATCH: imgfs $sha_mount, qemu-img $sha_qemu" >&2
  status=1
fi
if [[ -n $expected_sha && $sha_qemu != "$expected_sha" ]]; then
  echo "demo: MISMATCH with tests/data/sample/sample.raw.sha256 ($expected_sha)" >&2
  status=1
fi

run "$imgfs" umount "$mnt"
for _ in $(seq 1 50); do
  mountpoint -q "$mnt" || break
  sleep 0.1
done
! mountpoint -q "$mnt" || die "$mnt is still mounted"
echo "demo: unmounted"

# 5. The same disk as an Apple disk image, read back by two other programs.
for tool in dmg2img 7zz; do
  command -v "$tool" >/dev/null ||
    die "$tool is missing: unset IMGFS_SKIP_DEPS, or apt-get install \$(bash scripts/debian-packages.sh demo)"
done
dmg=$work/$stem.dmg
run "$imgfs" convert -O dmg "$image" "$dmg"
run ls -l "$dmg"

# read_back READER SHA NAME: what READER got from the DMG (NAME, SHA-256 SHA)
# must be qemu-img's raw conversion, byte for byte.
read_back() {
  echo "${2:-(no output)}  $3"
  if [[ $2 == "$sha_qemu" ]]; then
    echo "demo: OK, $1 reads back the same bytes from $stem.dmg"
  else
    echo "demo: MISMATCH: $1 gives ${2:-nothing}, qemu-img $sha_qemu" >&2
    status=1
  fi
}

# dmg2img writes the whole disk.
say "dmg2img -s $stem.dmg from-dmg2img.raw && sha256sum from-dmg2img.raw"
dmg2img -s "$dmg" "$work/from-dmg2img.raw" || true # the checksum below judges
sha_dmg2img=$(sha256sum <"$work/from-dmg2img.raw" 2>/dev/null | cut -d' ' -f1) || true
read_back dmg2img "$sha_dmg2img" from-dmg2img.raw

# 7-Zip extracts one file per blkx (partition map, partitions, gaps), named
# "<index>.<name>"; in index order they are the whole disk.
run 7zz l -ba -tdmg "$dmg"
say "7zz x -tdmg -o7z $stem.dmg && cat 7z/* (in index order) | sha256sum"
sha_7zz=
if 7zz x -tdmg -bso0 -bsp0 -o"$work/7z" "$dmg"; then
  parts=()
  while IFS= read -r part; do
    parts+=("$work/7z/$part")
  done < <(find "$work/7z" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -n)
  ((${#parts[@]} > 0)) && sha_7zz=$(cat "${parts[@]}" | sha256sum | cut -d' ' -f1)
fi
read_back 7-Zip "$sha_7zz" "7z/*"

if [[ $status -eq 0 ]]; then
  echo "demo: all checks passed"
fi
exit "$status"
