// SPDX-License-Identifier: MIT
// The vmdk descriptor parser (see descriptor.h).
#include "formats/vmdk/descriptor.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

namespace imgfs::vmdk {
namespace {

constexpr std::string_view kSignature = "# Disk DescriptorFile";

std::string_view Trim(std::string_view s) {
  const char* ws = " \t\r";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) {
    return {};
  }
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string_view Unquote(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') {
    return s.substr(1, s.size() - 2);
  }
  return s;
}

// The next whitespace-separated token of *s, consumed.
std::string_view NextToken(std::string_view* s) {
  *s = Trim(*s);
  const size_t end = std::min(s->find_first_of(" \t"), s->size());
  std::string_view token = s->substr(0, end);
  s->remove_prefix(end);
  return token;
}

template <typename T>
bool ParseNumber(std::string_view s, int base, T* out) {
  if (s.empty()) {
    return false;
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return ec == std::errc() && ptr == s.data() + s.size();
}

std::string LineError(size_t line_no, std::string_view what, std::string_view line) {
  std::string shown(line.substr(0, 80));
  return "vmdk: descriptor line " + std::to_string(line_no) + ": " + std::string(what) + " ('" +
         shown + "')";
}

std::optional<Access> ParseAccess(std::string_view s) {
  if (s == "RW") {
    return Access::kReadWrite;
  }
  if (s == "RDONLY") {
    return Access::kReadOnly;
  }
  if (s == "NOACCESS") {
    return Access::kNoAccess;
  }
  return std::nullopt;
}

Result<ExtentType> ParseType(std::string_view s, size_t line_no, std::string_view line) {
  static constexpr std::pair<std::string_view, ExtentType> kTypes[] = {
      {"FLAT", ExtentType::kFlat},
      {"SPARSE", ExtentType::kSparse},
      {"ZERO", ExtentType::kZero},
      {"VMFS", ExtentType::kVmfs},
      {"VMFSSPARSE", ExtentType::kVmfsSparse},
      {"SESPARSE", ExtentType::kSeSparse},
  };
  for (const auto& [name, type] : kTypes) {
    if (s == name) {
      return type;
    }
  }
  return UnsupportedError(
      LineError(line_no, "extent type '" + std::string(s) + "' is not supported", line));
}

// ACCESS SECTORS TYPE ["FILENAME" [OFFSET]]; the file name may hold spaces.
Result<ExtentLine> ParseExtent(Access access, std::string_view rest, size_t line_no,
                               std::string_view line) {
  ExtentLine e;
  e.access = access;
  if (!ParseNumber(NextToken(&rest), 10, &e.sectors) || e.sectors == 0) {
    return CorruptError(LineError(line_no, "extent has no valid sector count", line));
  }
  IMGFS_ASSIGN_OR_RETURN(e.type, ParseType(NextToken(&rest), line_no, line));
  rest = Trim(rest);
  if (e.type == ExtentType::kZero) {
    return e;  // a ZERO extent names no file
  }
  if (rest.empty() || rest.front() != '"') {
    return CorruptError(LineError(line_no, "extent names no file", line));
  }
  const size_t close = rest.find('"', 1);
  if (close == std::string_view::npos || close == 1) {
    return CorruptError(LineError(line_no, "extent file name is not quoted", line));
  }
  e.filename = std::string(rest.substr(1, close - 1));
  rest = Trim(rest.substr(close + 1));
  if (!rest.empty()) {
    if (!ParseNumber(NextToken(&rest), 10, &e.offset_sectors) || !Trim(rest).empty()) {
      return CorruptError(LineError(line_no, "extent has a bad offset", line));
    }
    if (e.type != ExtentType::kFlat && e.type != ExtentType::kVmfs && e.offset_sectors != 0) {
      return CorruptError(LineError(line_no, "only FLAT and VMFS extents take an offset", line));
    }
  }
  return e;
}

// One "key = value" header or ddb line; false when it is not one.
bool SplitKeyValue(std::string_view line, std::string_view* key, std::string_view* value) {
  const size_t eq = line.find('=');
  if (eq == std::string_view::npos) {
    return false;
  }
  *key = Trim(line.substr(0, eq));
  *value = Unquote(Trim(line.substr(eq + 1)));
  return !key->empty();
}

Status ApplyHeaderKey(std::string_view key, std::string_view value, size_t line_no,
                      std::string_view line, Descriptor* d) {
  if (key == "version") {
    if (!ParseNumber(value, 10, &d->version)) {
      return CorruptError(LineError(line_no, "version is not a number", line));
    }
  } else if (key == "CID") {
    if (!ParseNumber(value, 16, &d->cid)) {
      return CorruptError(LineError(line_no, "CID is not a 32-bit hex number", line));
    }
  } else if (key == "parentCID") {
    if (!ParseNumber(value, 16, &d->parent_cid)) {
      return CorruptError(LineError(line_no, "parentCID is not a 32-bit hex number", line));
    }
  } else if (key == "createType") {
    d->create_type = std::string(value);
  } else if (key == "parentFileNameHint") {
    d->parent_hint = std::string(value);
  } else if (key.starts_with("ddb.")) {
    d->ddb.emplace_back(std::string(key), std::string(value));
  }
  return Status::Ok();  // other keys (encoding, isNativeSnapshot, ...) are informational
}

}  // namespace

std::string_view AccessName(Access access) {
  switch (access) {
    case Access::kReadWrite:
      return "RW";
    case Access::kReadOnly:
      return "RDONLY";
    case Access::kNoAccess:
      return "NOACCESS";
  }
  return "?";
}

std::string_view ExtentTypeName(ExtentType type) {
  switch (type) {
    case ExtentType::kFlat:
      return "FLAT";
    case ExtentType::kSparse:
      return "SPARSE";
    case ExtentType::kZero:
      return "ZERO";
    case ExtentType::kVmfs:
      return "VMFS";
    case ExtentType::kVmfsSparse:
      return "VMFSSPARSE";
    case ExtentType::kSeSparse:
      return "SESPARSE";
  }
  return "?";
}

uint64_t Descriptor::sectors() const {
  uint64_t total = 0;
  for (const ExtentLine& e : extents) {
    total += e.sectors;  // ParseDescriptor bounds the sum
  }
  return total;
}

std::string Descriptor::Ddb(std::string_view key) const {
  for (const auto& [k, v] : ddb) {
    if (k == key) {
      return v;
    }
  }
  return "";
}

bool LooksLikeDescriptor(std::string_view head) {
  if (head.starts_with(kSignature)) {
    return true;
  }
  // Some writers start with other comments; a descriptor is text naming
  // its createType early on (writers pad descriptor files with NULs).
  head = head.substr(0, std::min({head.size(), head.find('\0'), size_t{1024}}));
  return head.find("\ncreateType") != std::string_view::npos &&
         head.find("version") != std::string_view::npos;
}

Result<Descriptor> ParseDescriptor(std::string_view text) {
  text = text.substr(0, std::min(text.find('\0'), text.size()));
  if (text.size() > kMaxDescriptorBytes) {
    return UnsupportedError("vmdk: descriptor of " + std::to_string(text.size()) +
                            " bytes is larger than the 1 MiB cap");
  }
  Descriptor d;
  bool saw_create_type = false;
  uint64_t total_sectors = 0;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = std::min(text.find('\n'), text.size());
    const std::string_view raw = text.substr(0, nl);
    text.remove_prefix(std::min(nl + 1, text.size()));
    const std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    std::string_view rest = line;
    const std::string_view first = NextToken(&rest);
    if (std::optional<Access> access = ParseAccess(first)) {
      if (d.extents.size() >= kMaxExtents) {
        return UnsupportedError("vmdk: descriptor lists more than " + std::to_string(kMaxExtents) +
                                " extents");
      }
      IMGFS_ASSIGN_OR_RETURN(ExtentLine e, ParseExtent(*access, rest, line_no, line));
      // Bounded so that every guest byte offset fits in 63 bits.
      total_sectors += e.sectors;
      if (e.sectors > (uint64_t{1} << 54) || total_sectors > (uint64_t{1} << 54)) {
        return CorruptError(LineError(line_no, "extents add up to an absurd size", line));
      }
      d.extents.push_back(std::move(e));
      continue;
    }
    std::string_view key;
    std::string_view value;
    if (!SplitKeyValue(line, &key, &value)) {
      return CorruptError(LineError(line_no, "is neither a key=value line nor an extent", line));
    }
    if (key == "createType") {
      saw_create_type = true;
    }
    IMGFS_RETURN_IF_ERROR(ApplyHeaderKey(key, value, line_no, line, &d));
  }
  if (!saw_create_type) {
    return CorruptError("vmdk: descriptor has no createType");
  }
  return d;
}

}  // namespace imgfs::vmdk
