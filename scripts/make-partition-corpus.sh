#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Regenerates the seeds of partition_fuzzer (tests/fuzz/corpus/partition/):
# small disks partitioned by sfdisk, sgdisk and parted (Debian packages
# fdisk, gdisk, parted), plus a 4096-byte-sector GPT and damaged variants
# written with python3. Each seed reaches one path of the readers.
#
#   bash scripts/make-partition-corpus.sh          # rewrite the corpus
#   bash scripts/make-partition-corpus.sh OUTDIR   # write elsewhere
#
# Disk and partition GUIDs are random, so regenerating changes the bytes;
# commit the result only when the seed set itself changes.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/tests/fuzz/corpus/partition}")
for tool in sfdisk sgdisk parted python3; do
  command -v "$tool" >/dev/null || { echo "make-partition-corpus: needs $tool" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$out"
mkdir -p "$out"
cd "$work"

# MBR: bootable primary, extended partition with three logical ones, and a
# primary after it (sectors, no alignment).
truncate -s 64K mbr-logical
sfdisk -q mbr-logical <<'EOF'
label: dos
unit: sectors
start=2, size=8, type=c, bootable
start=12, size=100, type=5
start=14, size=10, type=83
start=26, size=20, type=82
start=48, size=30, type=7
start=114, size=10, type=83
EOF

# GPT by sgdisk: names (one not ASCII), types, legacy-bootable attribute.
truncate -s 64K gpt
sgdisk -a 1 -n1:40:47 -c1:boot -t1:ef00 -n2:48:63 -c2:Données -n3:64:80 -t3:af00 \
  -A3:set:2 gpt >/dev/null

# The same GPT with the primary header damaged: the backup is used.
cp gpt gpt-bad-primary
printf 'X' | dd of=gpt-bad-primary bs=1 seek=560 conv=notrunc status=none

# The same GPT with the primary entry array damaged.
cp gpt gpt-bad-array
printf 'X' | dd of=gpt-bad-array bs=1 seek=1064 conv=notrunc status=none

# msdos and mac labels by parted (mac needs 256 KiB; its map fits in 4 KiB).
truncate -s 64K parted-msdos
parted -s -a none parted-msdos unit s mklabel msdos mkpart primary 1 10 \
  mkpart extended 11 100 mkpart logical 12 20 mkpart logical 22 40 2>/dev/null
truncate -s 256K apm
parted -s -a none apm unit s mklabel mac mkpart a hfs+ 64 90 mkpart b ext2 91 120 2>/dev/null
truncate -s 4K apm

# A GPT on 4096-byte blocks (4Kn), written by hand: protective MBR, headers
# at LBA 1 and the last LBA, 16-entry arrays.
python3 - <<'EOF'
import struct, zlib
B, N = 4096, 16
disk = bytearray(B * N)
disk[0x1be:0x1ce] = struct.pack('<B3sB3sII', 0, b'\0\0\0', 0xee, b'\0\0\0', 1, N - 1)
disk[510:512] = b'\x55\xaa'
entries = bytearray(16 * 128)
efi = bytes.fromhex('28732ac11ff8d211ba4b00a0c93ec93b')
entries[0:128] = efi + bytes(range(1, 17)) + struct.pack('<QQQ', 4, 9, 0) + 'ESP'.encode('utf-16le').ljust(72, b'\0')
crc = zlib.crc32(entries)
def header(my, alt, array):
    h = bytearray(struct.pack('<8sIIIIQQQQ16sQIII', b'EFI PART', 0x10000, 92, 0, 0, my, alt,
                              3, N - 3, bytes(16), array, 16, 128, crc))
    h[16:20] = struct.pack('<I', zlib.crc32(h))
    return h
disk[B:B + 92] = header(1, N - 1, 2)
disk[2 * B:2 * B + len(entries)] = entries
disk[(N - 2) * B:(N - 2) * B + len(entries)] = entries
disk[(N - 1) * B:(N - 1) * B + 92] = header(N - 1, 1, N - 2)
open('gpt-4k', 'wb').write(disk)
EOF

# No table: an empty disk, and a FAT boot sector with 0x55aa (no table).
truncate -s 4K empty
python3 -c "
d = bytearray(4096); d[0:3] = b'\xeb\x3c\x90'; d[0x36:0x3e] = b'FAT16   '; d[510:512] = b'\x55\xaa'
open('fat-superfloppy', 'wb').write(d)"

cp mbr-logical gpt gpt-bad-primary gpt-bad-array parted-msdos apm gpt-4k empty fat-superfloppy \
  "$out/"
ls -l "$out"
