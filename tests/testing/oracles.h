// SPDX-License-Identifier: MIT
// Independent readers as test oracles (docs/CONTRIBUTING.md#oracles): whether a tool is
// installed (a skip on a developer box, a failure under CI=true), and what
// `dmg2img`, `7zz x -tdmg` and `qemu-img convert -O raw` make of an image.
// Each extraction runs in a temp dir of its own and hands the bytes back, so
// a test only names its image. Commands run through RunIn/Sh from
// qemu_fixture.h.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testing/qemu_fixture.h"

namespace imgfs::testing {

// True when `tool` is on PATH (`command -v`).
bool HaveTool(const std::string& tool);

// Skips the test without `tool`, or fails it when CI=true (a green CI run
// must mean the oracle really ran).
#define IMGFS_REQUIRE_TOOL(tool)                                 \
  do {                                                           \
    const std::string imgfs_required_tool = (tool);              \
    if (!::imgfs::testing::HaveTool(imgfs_required_tool)) {      \
      if (::imgfs::testing::InCi()) {                            \
        FAIL() << imgfs_required_tool << " missing but CI=true"; \
      }                                                          \
      GTEST_SKIP() << imgfs_required_tool << " not installed";   \
    }                                                            \
  } while (false)

// `s` in single quotes for /bin/sh.
std::string ShellQuote(const std::string& s);

// The raw disk `dmg2img -i IMAGE -o OUT` writes, in *raw. Fails on a
// non-zero exit, with the tool's output in the message.
::testing::AssertionResult Dmg2imgRaw(const std::string& image, std::string* raw);

// The raw disk `qemu-img convert -f FORMAT -O raw IMAGE OUT` writes, in *raw.
::testing::AssertionResult QemuImgRaw(const std::string& image, const std::string& format,
                                      std::string* raw);

// One file `7zz x -tdmg` extracted: for a DMG, one per partition, named
// "<index>.<ext>" with the extension taken from the partition name.
struct ExtractedFile {
  std::string name;
  std::string bytes;
};

// Extracts `image` with `7zz x -tdmg` into *files, sorted by name. Fails on a
// non-zero exit, and on an "ERROR" or a "WARNING" (a CRC that does not
// match, say) in 7-Zip's log.
::testing::AssertionResult SevenZipExtractDmg(const std::string& image,
                                              std::vector<ExtractedFile>* files);

// The one disk `7zz x -t<type>` extracts from a virtual-disk image (vdi,
// vhd, vmdk, vhdx...), in *disk; a differencing VHD's parent is found by
// 7-Zip next to the image. Fails on a non-zero exit, an "ERROR" or a
// "WARNING" in 7-Zip's log, or other than one extracted file.
::testing::AssertionResult SevenZipExtractDisk(const std::string& image, const std::string& type,
                                               std::string* disk);

// The virtual disk of a VHD or VHDX as libvhdi reads it: `vhdimount IMAGE
// MNT`, then the top layer MNT/vhdi<N>, then unmount. Needs /dev/fuse.
// Debian 12's libvhdi (20210425) reads allocated blocks of differencing
// disks whole, ignoring their sector bitmaps.
::testing::AssertionResult VhdimountRaw(const std::string& image, std::string* raw);

// The raw disk vmdkmount (libvmdk-utils) shows for `image`, the same way
// (MNT/vmdk<N>). Needs /dev/fuse.
::testing::AssertionResult VmdkmountRaw(const std::string& image, std::string* raw);

// Runs `imgfs ARGS` in `dir` and expects a failure (non-zero exit) with
// exactly one line on stderr, which it returns. Uses `dir`/err.
std::string ExpectOneLineFailure(const TempDir& dir, const std::string& args);

}  // namespace imgfs::testing
