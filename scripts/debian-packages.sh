#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian 12 (bookworm) packages imgfs needs, named here and nowhere else:
# scripts/demo.sh and scripts/test.sh source this file, and the README prints
# the lists with it, so the three cannot drift apart.
#
#   bash scripts/debian-packages.sh demo   # build and run imgfs, and the demo's tools
#   bash scripts/debian-packages.sh test   # all of demo, plus what the tests and CI use
#
# Sourced, it only defines two arrays: IMGFS_DEMO_PACKAGES and
# IMGFS_TEST_PACKAGES (a superset of the first).

# What `bash scripts/demo.sh` needs on a minimal Debian 12.
IMGFS_DEMO_PACKAGES=(
  # The build (CMakeLists.txt: liburing is required with FUSE, nettle always;
  # bzip2, lzma, lz4, lzo, isal and argon2 are optional features, expected on by
  # scripts/expected-features.txt).
  cmake ninja-build g++ pkg-config
  libfuse3-dev liburing-dev zlib1g-dev libzstd-dev libdeflate-dev nlohmann-json3-dev
  libbz2-dev liblzma-dev liblz4-dev liblzo2-dev libisal-dev nettle-dev libargon2-dev
  # At run time: fusermount3.
  fuse3
  # The demo's independent readers: qemu-img (raw), dmg2img and 7zz (DMG);
  # hexdump and file to look at the disk.
  qemu-utils dmg2img 7zip bsdextrautils file
)

# What `bash scripts/test.sh` needs on top. clang-format-16: the tree's
# .clang-format uses InsertBraces, which clang-format 14 (Debian's default)
# rejects. debootstrap: the fresh stage builds a minimal Debian root with it.
IMGFS_TEST_PACKAGES=(
  "${IMGFS_DEMO_PACKAGES[@]}"
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  bzip2 xz-utils python3
  qemu-system-common libqcow-utils
  # vhdimount: libvhdi's reader, the second oracle for VHD (vpc) chains
  # and VHDX (tests/integration/vhdx_oracle_test.cc).
  libvhdi-utils
  clang libclang-rt-14-dev clang-format-16
  fio dpkg-dev
  # The nbdkit plugin (nbd/, an optional feature expected on in CI) and the
  # NBD clients its tests read with: nbdcopy and nbdinfo, the kernel's nbd-client.
  nbdkit nbdkit-plugin-dev libnbd-bin nbd-client
  fdisk gdisk parted dosfstools mtools e2fsprogs
  # scripts/bench-fat.sh: nbdkit's floppy plugin through nbdfuse (libnbd-bin).
  nbdkit libnbd-bin
  debootstrap
  # LUKS2 oracles (tests/formats/luks/): cryptsetup formats, python3-cryptography
  # encrypts; encrypted DMGs: tests/formats/dmg/make_encrcdsa.py wraps them
  # (vfdecrypt, from dmg2img above, unwraps them).
  cryptsetup-bin python3-cryptography
  # vmdkmount: the second vmdk reader (tests/integration/vmdk_oracle_test.cc).
  libvmdk-utils
  # bochs and cloop images made at test time: bximage (Bochs's image tool)
  # and cloop-utils' create_compressed_fs / extract_compressed_fs
  # (tests/integration/{bochs,cloop}_oracle_test.cc, tests/fuse/bochs_cloop_mount_test.cc).
  bximage cloop-utils
  # cloop 4.x lz4 and lzo1x blocks: no Debian tool writes them, so the test
  # builder (tests/formats/cloop/test_cloop_builder.h) compresses them with
  # these independent implementations.
  python3-lz4 python3-lzo
)

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  case ${1:-} in
    demo) echo "${IMGFS_DEMO_PACKAGES[*]}" ;;
    test) echo "${IMGFS_TEST_PACKAGES[*]}" ;;
    *)
      echo "usage: bash scripts/debian-packages.sh demo|test" >&2
      exit 2
      ;;
  esac
fi
