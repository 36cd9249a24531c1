// SPDX-License-Identifier: MIT
// Parent locators of differencing VHDs (see parent.h).
#include "formats/vpc/parent.h"

#include <algorithm>

#include "core/util/checked.h"
#include "core/util/hex.h"
#include "core/util/utf16.h"

namespace imgfs::vpc {
namespace {

constexpr uint32_t kW2ru = FourCc("W2ru");  // relative, UTF-16LE
constexpr uint32_t kW2ku = FourCc("W2ku");  // absolute, UTF-16LE
constexpr uint32_t kWi2r = FourCc("Wi2r");  // relative, ANSI (deprecated)
constexpr uint32_t kWi2k = FourCc("Wi2k");  // absolute, ANSI (deprecated)
constexpr uint32_t kMacX = FourCc("MacX");  // file URL, UTF-8
constexpr uint32_t kMac = FourCc("Mac ");   // Mac OS alias record

std::string Decode(uint32_t code, std::span<const std::byte> data) {
  if (code == kW2ru || code == kW2ku) {
    return Utf16ToUtf8(data, Utf16Order::kLittle);
  }
  if (code == kMac) {
    return "";
  }
  std::string s(reinterpret_cast<const char*>(data.data()), data.size());
  return s.substr(0, s.find('\0'));
}

// A Windows path with '/' separators and without a leading "./".
std::string Slashed(std::string s) {
  std::replace(s.begin(), s.end(), '\\', '/');
  while (s.rfind("./", 0) == 0) {
    s.erase(0, 2);
  }
  return s;
}

std::string BaseName(const std::string& s) {
  const size_t slash = s.find_last_of('/');
  return slash == std::string::npos ? s : s.substr(slash + 1);
}

// "C:/dir/p.vhd" and "//server/share/p.vhd" name nothing here: keep the
// file name, to be looked for next to the image.
std::string FromAbsoluteWindows(const std::string& path) {
  const bool drive = path.size() >= 2 && path[1] == ':';
  return drive || path.rfind("//", 0) == 0 ? BaseName(path) : path;
}

// "file://localhost/Users/a/p.vhd" or "file:///Users/a/p.vhd" -> the path.
std::string FromFileUrl(const std::string& url) {
  constexpr std::string_view kScheme = "file://";
  if (url.rfind(kScheme, 0) != 0) {
    return url;
  }
  std::string rest = url.substr(kScheme.size());
  if (rest.rfind("localhost/", 0) == 0) {
    rest.erase(0, std::string_view("localhost").size());
  }
  return rest;
}

}  // namespace

Result<std::vector<LocatorPath>> ReadParentLocators(const File& file, uint64_t file_size,
                                                    const DynamicHeader& header) {
  std::vector<LocatorPath> out;
  for (const ParentLocator& l : header.locators) {
    if (l.platform_code == 0 || l.data_length == 0) {
      continue;
    }
    const std::string what =
        "vpc: parent locator '" + FourCcText(l.platform_code) + "' at " + Hex(l.data_offset);
    if (l.data_length > kMaxLocatorBytes) {
      return UnsupportedError(what + " holds " + std::to_string(l.data_length) +
                              " bytes (at most " + std::to_string(kMaxLocatorBytes) + ")");
    }
    if (!RangeWithin(l.data_offset, l.data_length, file_size)) {
      return CorruptError(what + " extends past the end of the file (size " + Hex(file_size) + ")");
    }
    std::vector<std::byte> data(l.data_length);
    IMGFS_RETURN_IF_ERROR(file.ReadExactAt(l.data_offset, data, "vpc: parent locator"));
    out.push_back(LocatorPath{l.platform_code, l.data_offset, Decode(l.platform_code, data)});
  }
  return out;
}

std::vector<std::string> ParentCandidates(const std::vector<LocatorPath>& locators,
                                          const std::string& parent_name) {
  std::vector<std::string> out;
  auto add = [&out](const std::string& name) {
    if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end()) {
      out.push_back(name);
    }
  };
  for (uint32_t code : {kW2ru, kWi2r, kMacX, kW2ku, kWi2k}) {
    for (const LocatorPath& l : locators) {
      if (l.platform_code != code) {
        continue;
      }
      if (code == kMacX) {
        add(FromFileUrl(l.text));
      } else if (code == kW2ku || code == kWi2k) {
        add(FromAbsoluteWindows(Slashed(l.text)));
      } else {
        add(Slashed(l.text));
      }
    }
  }
  add(BaseName(Slashed(parent_name)));
  return out;
}

}  // namespace imgfs::vpc
