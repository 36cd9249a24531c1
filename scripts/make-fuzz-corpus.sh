#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Regenerates the fuzz seed corpora under tests/fuzz/corpus/ with qemu-img
# and qemu-io (Debian package qemu-utils). Each seed is a small but valid
# image that reaches one feature of the parser; the fuzzer mutates from there.
#
#   bash scripts/make-fuzz-corpus.sh            # rewrite tests/fuzz/corpus/
#   bash scripts/make-fuzz-corpus.sh OUTDIR     # write elsewhere
#
# Snapshot seeds embed the creation time, so regenerating changes their bytes;
# commit the result only when the seed set itself changes.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/tests/fuzz/corpus}")
command -v qemu-img >/dev/null && command -v qemu-io >/dev/null ||
  { echo "make-fuzz-corpus: needs qemu-img and qemu-io (apt-get install qemu-utils)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# qemu-img creates relative data_file names in the current directory.
cd "$work"
q2=$out/qcow2
probe=$out/probe
rm -rf "$q2" "$probe"
mkdir -p "$q2" "$probe"

# io IMAGE CMD...: run each qemu-io command on IMAGE (qcow2).
io() {
  local img=$1
  shift
  local args=()
  for c in "$@"; do args+=(-c "$c"); done
  qemu-io -f qcow2 "${args[@]}" "$img" >/dev/null
}
# mk NAME SIZE OPTIONS: create $work/NAME.qcow2 (-u: do not open the
# backing file, which need not exist).
mk() { qemu-img create -q -u -f qcow2 -o "$3" "$work/$1.qcow2" "$2"; }
keep() { cp "$work/$1.qcow2" "$q2/$1.qcow2"; }

# Version 2 (compat=0.10) and 3, with data written unaligned and across
# cluster boundaries, and a sparse tail.
mk v2-c512 64K compat=0.10,cluster_size=512
io "$work/v2-c512.qcow2" "write -P 0x5a 0 1k" "write -P 0xa5 1500 700" "write -P 0x11 60k 512"
keep v2-c512

mk v3-c512 64K compat=1.1,cluster_size=512
io "$work/v3-c512.qcow2" "write -P 0x5a 512 1k" "write -P 0x33 3000 2000" "write -z 8k 1k"
keep v3-c512

mk v3-c4k 256K cluster_size=4096
io "$work/v3-c4k.qcow2" "write -P 0x01 0 4k" "write -P 0x02 6k 4k" "write -z 64k 8k" \
  "write -P 0x03 200k 1"
keep v3-c4k

# 64 KiB clusters (the default): larger, but the layout most images in the
# wild have.
mk v3-c64k 1M cluster_size=65536
io "$work/v3-c64k.qcow2" "write -P 0x44 65000 1000"
keep v3-c64k

# Compressed clusters, zlib (the default) and zstd (compression_type, v3).
mk zlib-c4k 64K cluster_size=4096
io "$work/zlib-c4k.qcow2" "write -c -P 0x61 0 4k" "write -c -P 0x62 8k 4k" "write -P 0x63 16k 4k"
keep zlib-c4k

mk zstd-c4k 64K cluster_size=4096,compression_type=zstd
io "$work/zstd-c4k.qcow2" "write -c -P 0x71 0 4k" "write -c -P 0x72 4k 4k" "write -P 0x73 12k 100"
keep zstd-c4k

mk zlib-c512-v2 16K compat=0.10,cluster_size=512
io "$work/zlib-c512-v2.qcow2" "write -c -P 0x81 0 512" "write -c -P 0x82 1k 512"
keep zlib-c512-v2

# Zero clusters (v3 flag) next to data, over a whole cluster and a part.
mk zero-c4k 64K cluster_size=4096
io "$work/zero-c4k.qcow2" "write -P 0x91 0 16k" "write -z 4k 4k" "write -z 9k 1k" "write -z 32k 8k"
keep zero-c4k

# Extended L2 entries (subclusters; needs clusters of at least 16 KiB).
mk extl2-c16k 256K cluster_size=16384,extended_l2=on
io "$work/extl2-c16k.qcow2" "write -P 0xe1 0 512" "write -P 0xe2 1536 1k" "write -z 16k 2k" \
  "write -P 0xe3 40k 3k"
keep extl2-c16k

mk extl2-zstd-c16k 64K cluster_size=16384,extended_l2=on,compression_type=zstd
io "$work/extl2-zstd-c16k.qcow2" "write -c -P 0xe4 0 16k" "write -P 0xe5 17k 1k"
keep extl2-zstd-c16k

# Internal snapshots: data written before and after each snapshot.
mk snap-c512 32K cluster_size=512
io "$work/snap-c512.qcow2" "write -P 0x01 0 2k"
qemu-img snapshot -c first "$work/snap-c512.qcow2"
io "$work/snap-c512.qcow2" "write -P 0x02 1k 2k"
qemu-img snapshot -c second "$work/snap-c512.qcow2"
io "$work/snap-c512.qcow2" "write -z 0 1k"
keep snap-c512

mk snap-v2-c4k 64K compat=0.10,cluster_size=4096
io "$work/snap-v2-c4k.qcow2" "write -P 0x0a 4k 4k"
qemu-img snapshot -c only "$work/snap-v2-c4k.qcow2"
io "$work/snap-v2-c4k.qcow2" "write -P 0x0b 4k 1k"
keep snap-v2-c4k

# Backing file names (qemu-img 7.2 refuses to write one without a format);
# the fuzzer does not open them, but the header and its extensions are parsed.
qemu-img create -q -f raw "$work/base.raw" 64K
mk overlay-c512 64K cluster_size=512,backing_file=base.raw,backing_fmt=raw
io "$work/overlay-c512.qcow2" "write -P 0xb1 1k 1k"
keep overlay-c512
mk overlay-relpath-c4k 64K cluster_size=4096,backing_file=../images/some/base.qcow2,backing_fmt=qcow2
keep overlay-relpath-c4k

# External data file (header extension + incompatible bit), raw and not.
mk datafile-c4k 64K cluster_size=4096,data_file=datafile-c4k.data
io "$work/datafile-c4k.qcow2" "write -P 0xd1 0 4k"
keep datafile-c4k
mk datafile-raw-c512 16K cluster_size=512,data_file=datafile-raw.data,data_file_raw=on
keep datafile-raw-c512

# Other header variations: refcount widths, lazy refcounts, a bitmap
# extension.
mk refcount1-c512 16K cluster_size=512,refcount_bits=1
io "$work/refcount1-c512.qcow2" "write -P 0x21 0 1k"
keep refcount1-c512
mk refcount64-lazy-c4k 32K cluster_size=4096,refcount_bits=64,lazy_refcounts=on
io "$work/refcount64-lazy-c4k.qcow2" "write -P 0x22 0 5k"
keep refcount64-lazy-c4k
mk bitmap-c4k 64K cluster_size=4096
qemu-img bitmap --add "$work/bitmap-c4k.qcow2" b0
io "$work/bitmap-c4k.qcow2" "write -P 0x23 0 4k"
keep bitmap-c4k

# Empty image and a virtual size that is not a multiple of the cluster size.
mk empty-c512 0 cluster_size=512
keep empty-c512
mk oddsize-c4k 10001 cluster_size=4096
io "$work/oddsize-c4k.qcow2" "write -P 0x31 9728 273"
keep oddsize-c4k

# vpc (VHD): what qemu-img makes (dynamic and fixed, CHS and force_size
# sizes), and the head and footer of the Windows-made fixture (its blocks
# cut away, so its BAT points past the end). Seeds qemu-img cannot make
# (small blocks, differencing disks, locators) are written by
# vpc_device_test's DISABLED_WriteFuzzSeeds (see tests/formats/vpc/).
vpc=$out/vpc
rm -f "$vpc"/qemu-* "$vpc"/real-*
mkdir -p "$vpc"
qemu-img create -q -f vpc "$vpc/qemu-dynamic-empty.vhd" 3M
qemu-img create -q -f vpc -o force_size=on "$vpc/qemu-dynamic-forcesize.vhd" 1M
qemu-img create -q -f vpc -o subformat=fixed "$vpc/qemu-fixed.vhd" 12K
qemu-io -f vpc -c "write -P 0x5a 1k 2k" "$vpc/qemu-fixed.vhd" >/dev/null
xz -dc "$root/tests/data/vpc-real/nodevhd-dynamic.vhd.xz" >"$work/real.vhd"
{ head -c 2560 "$work/real.vhd"; tail -c 512 "$work/real.vhd"; } >"$vpc/real-windows-head.vhd"
# vdi: qemu-img writes only 1 MiB blocks, too big for seeds with data; those
# come from the test builder (vdi_device_test --gtest_also_run_disabled_tests
# --gtest_filter='*WriteFuzzSeeds*'), and qemu's own header is here, empty.
mkdir -p "$out/vdi"
qemu-img create -q -f vdi "$out/vdi/qemu-empty-4m.vdi" 4M
# parallels: qemu-img's own image with 4 KiB clusters; the old signature,
# tiny clusters, extensions and descriptors come from the test builder
# (parallels_header_test --gtest_also_run_disabled_tests
# --gtest_filter='*WriteFuzzSeeds*', IMGFS_FUZZ_CORPUS_DIR set).
mkdir -p "$out/parallels" "$out/parallels_descriptor"
qemu-img create -q -f parallels -o cluster_size=4k "$out/parallels/qemu-c4k-64k.hds" 64K
qemu-io -f parallels -c "write -P 0x5a 5000 3000" "$out/parallels/qemu-c4k-64k.hds" >/dev/null
# qcow (version 1) and qed: small qemu-made images, one per feature (data,
# compressed clusters, a backing name, qed zero clusters and table sizes,
# the need-check flag). qemu-img 7.2 exits 1 after writing a compressed
# qcow although the image is complete (tests/integration/qcow_qed_oracle_test.cc).
mkdir -p "$out/qcow" "$out/qed"
rm -f "$out"/qcow/qemu-* "$out"/qed/qemu-*
qemu-img create -q -f qcow "$out/qcow/qemu-empty.qcow" 64K
qemu-img create -q -f qcow "$out/qcow/qemu-data.qcow" 64K
qemu-io -f qcow -c "write -P 0x5a 1000 5000" "$out/qcow/qemu-data.qcow" >/dev/null
qemu-img create -q -f raw "$work/small.raw" 16K
qemu-io -f raw -c "write -P 0x33 0 6000" "$work/small.raw" >/dev/null
qemu-img convert -c -f raw -O qcow "$work/small.raw" "$out/qcow/qemu-compressed.qcow" || true
qemu-img create -q -f qcow -u -b base.raw -F raw "$out/qcow/qemu-backing.qcow" 64K
# Encrypted qcow2 (LUKS with aes-128-cbc-essiv: the smallest key slots
# qemu makes; legacy AES) and qcow (AES). The fuzzers open them without a
# passphrase (metadata_only): headers, extension and LUKS header only.
printf 'fuzz' >"$work/pw"
sec="--object secret,id=s0,file=$work/pw"
qemu-img create -q -f qcow2 $sec -o encrypt.format=luks,encrypt.key-secret=s0,\
encrypt.iter-time=10,encrypt.cipher-alg=aes-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=essiv,\
encrypt.ivgen-hash-alg=sha256,cluster_size=512 "$q2/luks-aes128-cbc-c512.qcow2" 64K
qemu-img create -q -f qcow2 $sec -o encrypt.format=aes,encrypt.key-secret=s0,cluster_size=512 \
  "$q2/aes-c512.qcow2" 64K
qemu-img create -q -f qcow $sec -o encrypt.format=aes,encrypt.key-secret=s0 "$out/qcow/qemu-aes.qcow" 64K
for img in "$q2/luks-aes128-cbc-c512.qcow2" "$q2/aes-c512.qcow2"; do
  qemu-io $sec --image-opts "driver=qcow2,file.filename=$img,encrypt.key-secret=s0" \
    -c "write -P 0x5a 1k 2k" -c "write -z 8k 1k" >/dev/null
done
qemu-io $sec --image-opts "driver=qcow,file.filename=$out/qcow/qemu-aes.qcow,encrypt.key-secret=s0" \
  -c "write -P 0x5a 1k 2k" >/dev/null
qemu-img create -q -f qed -o cluster_size=4096,table_size=2 "$out/qed/qemu-data.qed" 64K
qemu-io -f qed -c "write -P 0x5a 1000 5000" -c "write -z 32K 8K" "$out/qed/qemu-data.qed" >/dev/null
qemu-img create -q -f qed -o cluster_size=4096,table_size=4 "$out/qed/qemu-empty.qed" 1M
qemu-img create -q -f qed -o cluster_size=4096,table_size=2 -u -b base.raw -F raw \
  "$out/qed/qemu-backing-raw.qed" 64K
cp "$out/qed/qemu-data.qed" "$out/qed/qemu-need-check.qed"
printf '\002' | dd of="$out/qed/qemu-need-check.qed" bs=1 seek=16 conv=notrunc status=none
# vhdx: a qemu-made dynamic image, and the test builder's images for what
# qemu-img cannot write (IMGFS_VHDX_SEEDS: the make_vhdx_seeds program of a
# build tree; without it only the qemu seed is made).
vx=$out/vhdx
rm -rf "$vx"
mkdir -p "$vx"
qemu-img create -q -f vhdx -o block_size=1M "$work/qemu-dynamic.vhdx" 3M
qemu-io -f vhdx -c "write -P 0x5a 1536 3000" -c "write -z 1M 4k" "$work/qemu-dynamic.vhdx" >/dev/null
vhdx_seeds=${IMGFS_VHDX_SEEDS:-$root/build/tests/formats/make_vhdx_seeds}
if [[ -x $vhdx_seeds ]]; then
  # Compacts every seed for the fuzzer (see tests/fuzz/vhdx_fuzzer.cc).
  "$vhdx_seeds" "$vx" "$work/qemu-dynamic.vhdx"
else
  echo "make-fuzz-corpus: $vhdx_seeds not built; vhdx seeds skipped" >&2
fi
# bochs: bximage's own images, empty and holding a few sectors (its
# smallest disks: 512-byte extents, so the catalog is small); v1 and
# out-of-order seeds come from bochs_header_test's DISABLED_WriteFuzzSeeds.
mkdir -p "$out/bochs"
rm -f "$out/bochs"/bximage-*
bximage -q -func=create -hd=10M -imgmode=growing "$out/bochs/bximage-empty-10m.img" >/dev/null
{ printf 'sector0'; head -c 70000 /dev/zero; printf 'later'; } >"$work/bochs.raw"
truncate -s 1M "$work/bochs.raw"
bximage -q -func=convert -imgmode=growing "$work/bochs.raw" "$out/bochs/bximage-two-sectors.img" >/dev/null
# cloop: create_compressed_fs's V2.0 with 512-byte blocks; V4.0 and
# header-last seeds come from cloop_header_test's DISABLED_WriteFuzzSeeds.
mkdir -p "$out/cloop"
{ printf "cloop seed"; head -c 1000 /dev/zero; seq 1 200; } >"$work/cloop.raw"
truncate -s 8K "$work/cloop.raw"  # it refuses inputs that are not whole blocks
create_compressed_fs -q -B 512 "$work/cloop.raw" "$out/cloop/ccfs-b512.cloop" >/dev/null 2>&1
# vmdk: every single-file kind (the fuzzer opens one file, so descriptor
# seeds name no files or only ZERO extents), small disks, data written
# unaligned and across grains.
vm=$out/vmdk
rm -rf "$vm"
mkdir -p "$vm"
vio() { local img=$1; shift; local a=(); for c in "$@"; do a+=(-c "$c"); done; qemu-io -f vmdk "${a[@]}" "$img" >/dev/null; }
qemu-img create -q -f vmdk "$vm/sparse.vmdk" 1M
vio "$vm/sparse.vmdk" "write -P 0x5a 1536 3000" "write -P 0x11 65000 1000"
qemu-img create -q -f vmdk -o zeroed_grain=on "$vm/zeroed.vmdk" 1M
vio "$vm/zeroed.vmdk" "write -P 0x22 0 128k" "write -z 64k 64k"
qemu-img create -q -f vmdk -o compat6=on "$vm/compat6-odd.vmdk" 1000k
vio "$vm/compat6-odd.vmdk" "write -P 0x33 1023488 512"
qemu-img create -q -f raw "$work/src.raw" 1M
qemu-io -f raw -c "write -P 0x44 0 100k" -c "write -P 0x55 900k 3k" "$work/src.raw" >/dev/null
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$work/src.raw" "$vm/stream.vmdk"
# The same stream as VMware writes it: header "GD at end", footer after the data.
python3 - "$vm/stream.vmdk" "$vm/stream-footer.vmdk" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
b += bytes(-len(b) % 512)
marker = struct.pack('<QII', 1, 0, 3) + bytes(496)
b += marker + b[:512] + bytes(512)
b[56:64] = struct.pack('<Q', 2**64 - 1)
open(sys.argv[2], 'wb').write(b)
PY
qemu-img create -q -f vmdk -b sparse.vmdk -F vmdk "$vm/delta.vmdk"
vio "$vm/delta.vmdk" "write -P 0x66 4096 4096"
# An ESX COWD (vmfsSparse) file: 2048-byte header, directory at sector 4,
# one 4096-entry grain table, two 1-sector grains.
python3 - "$vm/cowd-delta.vmdk" <<'PY'
import struct, sys
gt = 5
grains = 5 + 32
b = bytearray(2048 + 512 + 16384)
b[0:28] = struct.pack('<4sIIIIII', b'COWD', 1, 3, 2048, 1, 4, 1)
b[2048:2052] = struct.pack('<I', gt)
for i, (grain, fill) in enumerate([(0, 0x61), (2047, 0x62)]):
    b[gt * 512 + 4 * grain:gt * 512 + 4 * grain + 4] = struct.pack('<I', grains + i)
    b += bytes([fill]) * 512
open(sys.argv[1], 'wb').write(b)
PY
printf '# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 8 ZERO\nRDONLY 16 ZERO\nNOACCESS 1 ZERO\n' >"$vm/zero-extents.vmdk"
printf '# Disk DescriptorFile\nversion=1\ncreateType="twoGbMaxExtentSparse"\nRW 4192256 SPARSE "x-s001.vmdk"\nRW 8 FLAT "x-f001.vmdk" 8\n' >"$vm/named-extents.vmdk"
# seSparse extents (ESXi snapshots, opened alone), from the test builder
# (IMGFS_SESPARSE_SEEDS: the make_sesparse_seeds program of a build tree).
sesparse_seeds=${IMGFS_SESPARSE_SEEDS:-$root/build/tests/formats/make_sesparse_seeds}
if [[ -x $sesparse_seeds ]]; then
  "$sesparse_seeds" "$vm"
else
  echo "make-fuzz-corpus: $sesparse_seeds not built; seSparse seeds skipped" >&2
fi

# Probe corpus: a few magics at the offsets probing looks at, plus two of the
# small qcow2 seeds.
pad() { head -c "$1" /dev/zero; }
{ printf 'QFI\xfb\x00\x00\x00\x03'; pad 1016; } >"$probe/qcow2-magic-only"
{ printf 'QFI\xfb\x00\x00\x00\x01'; pad 504; } >"$probe/qcow1"
{ printf 'KDMV'; pad 508; } >"$probe/vmdk-sparse"
{ printf '# Disk DescriptorFile\nversion=1\n'; } >"$probe/vmdk-descriptor"
{ printf 'vhdxfile'; pad 504; } >"$probe/vhdx"
{ printf 'conectix'; pad 504; } >"$probe/vpc"
{ pad 64; printf '\x7f\x10\xda\xbe'; pad 444; } >"$probe/vdi"
{ printf 'QED\x00'; pad 508; } >"$probe/qed"
{ printf 'LUKS\xba\xbe\x00\x01'; pad 504; } >"$probe/luks1"
{ pad 1024; printf 'koly'; pad 508; } >"$probe/dmg-tail"
{ pad 510; printf '\x55\xaa'; } >"$probe/mbr"
pad 4096 >"$probe/zeros-4k"
printf '' >"$probe/empty"
cp "$q2/v3-c512.qcow2" "$probe/qcow2-v3-c512"
cp "$q2/zlib-c512-v2.qcow2" "$probe/qcow2-v2-zlib"

echo "make-fuzz-corpus: $(ls "$q2" | wc -l) qcow2 seeds, $(ls "$vpc" | wc -l) vpc seeds, $(ls "$probe" | wc -l) probe seeds in $out"
du -sh "$q2" "$vpc" "$probe"
echo "make-fuzz-corpus: $(ls "$q2" | wc -l) qcow2 seeds, $(ls "$vm" | wc -l) vmdk seeds," \
  "$(ls "$probe" | wc -l) probe seeds in $out"
du -sh "$q2" "$vm" "$probe"
