// SPDX-License-Identifier: MIT
// A small VHD writer for tests, written from the Virtual Hard Disk Image
// Format Specification 1.0: fixed, dynamic and differencing disks with
// chosen blocks, bitmaps, creator and parent locators. QEMU cannot make
// differencing disks, so the tests build them here and let vhdimount and
// 7-Zip judge them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "formats/vpc/header.h"

namespace imgfs::vpc::testing {

struct LocatorSpec {
  std::string code;  // "W2ru", "W2ku", "MacX"...
  std::string path;  // UTF-8; W2ru/W2ku are written as UTF-16LE
};

struct VhdSpec {
  DiskType type = DiskType::kDynamic;
  uint64_t size_bytes = 0;  // a multiple of 512
  uint32_t block_bytes = 64 * 1024;
  std::string creator_app = "win ";  // four bytes
  // The disk's bytes (size_bytes of them) and which sectors this image
  // stores: blocks holding any stored sector are allocated, and their
  // bitmaps mark exactly the stored sectors. Empty `stored`: every
  // non-zero sector.
  std::string contents;
  std::vector<bool> stored;
  UniqueId unique_id{};
  // Differencing disks.
  UniqueId parent_unique_id{};
  std::string parent_name;
  std::vector<LocatorSpec> locators;
};

// The image file's bytes.
std::string BuildVhd(const VhdSpec& spec);

// A unique id made of `seed` repeated.
UniqueId IdOf(uint8_t seed);

// Sets the VHD CHS geometry of `sectors` as the specification computes it.
void SetGeometry(uint64_t sectors, Footer* footer);

}  // namespace imgfs::vpc::testing
