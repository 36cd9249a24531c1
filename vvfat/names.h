// SPDX-License-Identifier: MIT
// Name mangling for vvfat: host names (arbitrary bytes, usually UTF-8) to
// FAT directory names. Each name gets a long name (UTF-16, the VFAT LFN
// entries) when it needs one and an 8.3 short name made by Windows' rules
// (Microsoft FAT specification, "Basis-Name Generation Algorithm" and
// "Numeric-Tail Generation Algorithm"). Names FAT cannot hold are changed
// deterministically; see vvfat/README.md "Names".
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace imgfs::vvfat {

// The longest long name (UTF-16 code units), FAT specification 7.
inline constexpr size_t kMaxLongNameUnits = 255;

// NT reserved-byte flags (DIR_NTRes): the base or the extension of the
// short name is shown in lower case, so no LFN entries are needed.
inline constexpr uint8_t kNtLowerBase = 0x08;
inline constexpr uint8_t kNtLowerExt = 0x10;

struct FatName {
  // DIR_Name: 8 + 3 characters, space padded, upper case, never starting
  // with 0xe5 or a space (0x05 is stored for an initial 0xe5, never made).
  std::array<char, 11> short_name{};
  uint8_t nt_case = 0;       // kNtLowerBase | kNtLowerExt, only without LFN
  std::u16string long_name;  // empty when the short name says it all
  std::string shown;         // the name the guest sees, UTF-8
  bool changed = false;      // shown differs from the host name
};

// The names of one directory's entries, in the order given: long names
// unique without regard to ASCII case, short names unique, neither "." nor
// "..". REQUIRES: no host name is empty, "." or "..". Never fails: any
// byte string gets a valid name.
std::vector<FatName> MangleDirectory(std::span<const std::string_view> host_names);
std::vector<FatName> MangleDirectory(std::span<const std::string> host_names);

// The LFN checksum of a short name (FAT specification 7, ChkSum()).
uint8_t ShortNameChecksum(const std::array<char, 11>& short_name);

// True when `c` may appear in a short name (FAT specification 6.1, plus
// the upper-case letters; lower case is stored upper case).
bool IsShortNameChar(unsigned char c);

// "FOO.TXT" for {"FOO     TXT"}: the short name as a guest lists it.
std::string ShortNameText(const std::array<char, 11>& short_name);

}  // namespace imgfs::vvfat
