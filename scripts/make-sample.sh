#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Regenerates the demo image tests/data/sample/sample.qcow2 and the SHA-256
# of its raw contents (tests/data/sample/sample.raw.sha256). The image is a
# 4 MiB disk with an MBR partition table and one FAT16 partition holding two
# small text files, stored as qcow2 (v3, 4 KiB clusters, every cluster
# zlib-compressed), so that it is a few KiB yet looks like a real disk.
#
# Needs (Debian): qemu-utils fdisk dosfstools mtools. The output is
# reproducible: fixed disk id, volume id and timestamps (mkfs.fat --invariant).
#   bash scripts/make-sample.sh [OUTDIR]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/tests/data/sample}
for tool in qemu-img sfdisk mkfs.fat mcopy; do
  command -v "$tool" >/dev/null ||
    { echo "make-sample: needs $tool (apt-get install qemu-utils fdisk dosfstools mtools)" >&2; exit 1; }
done
export TZ=UTC LC_ALL=C MTOOLS_SKIP_CHECK=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

raw=$work/sample.raw
truncate -s 4M "$raw"
# One FAT16 (<32M, type 0x04) partition from 1 MiB to the end, bootable;
# 512-byte clusters so that 3 MiB holds the 4085 clusters FAT16 needs.
sfdisk --quiet "$raw" <<'TABLE'
label: dos
label-id: 0x1a2b3c4d
unit: sectors

start=2048, type=4, bootable
TABLE
mkfs.fat --invariant -F 16 -s 1 -n IMGFS-DEMO --offset 2048 "$raw" 3072 >/dev/null

printf 'Hello from inside a qcow2 image.\nThis file was read through imgfs.\n' >"$work/HELLO.TXT"
for i in $(seq 1 64); do printf 'line %02d: the quick brown fox jumps over the lazy dog\n' "$i"; done \
  >"$work/LINES.TXT"
touch -d '2024-01-01 00:00:00' "$work/HELLO.TXT" "$work/LINES.TXT"
mcopy -m -i "$raw@@1M" "$work/HELLO.TXT" "$work/LINES.TXT" ::

qemu-img convert -q -f raw -O qcow2 -c -o cluster_size=4096,compat=1.1 "$raw" "$out/sample.qcow2"
(cd "$work" && sha256sum sample.raw) >"$out/sample.raw.sha256"
echo "make-sample: $out/sample.qcow2 ($(stat -c %s "$out/sample.qcow2") bytes)"
cat "$out/sample.raw.sha256"
