// SPDX-License-Identifier: MIT
// Name mangling: host names to FAT long and short names (see names.h).
#include "vvfat/names.h"

#include <cstdio>
#include <string_view>
#include <unordered_set>

#include "core/util/utf8.h"

namespace imgfs::vvfat {
namespace {

constexpr char32_t kReplacement = U'_';
constexpr size_t kBaseChars = 8;
constexpr size_t kExtChars = 3;
// Windows tries "~1" to "~4" before it switches to the hashed tail.
constexpr int kPlainTails = 4;

// Characters a long name cannot hold (FAT specification 7, and what
// Linux's vfat refuses): controls and \/:*?"<>|.
bool IsBadLongChar(char32_t c) {
  return c < 0x20 || c == U'"' || c == U'*' || c == U'/' || c == U':' || c == U'<' || c == U'>' ||
         c == U'?' || c == U'\\' || c == U'|';
}

// Strict UTF-8 decoding; each byte of an invalid sequence becomes '_'.
std::u32string DecodeUtf8(std::string_view s, bool* changed) {
  std::u32string out;
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if (b0 < 0x80) {
      len = 1;
      cp = b0;
    } else if ((b0 & 0xe0) == 0xc0) {
      len = 2;
      cp = b0 & 0x1fU;
      min = 0x80;
    } else if ((b0 & 0xf0) == 0xe0) {
      len = 3;
      cp = b0 & 0x0fU;
      min = 0x800;
    } else if ((b0 & 0xf8) == 0xf0) {
      len = 4;
      cp = b0 & 0x07U;
      min = 0x10000;
    }
    bool ok = len != 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      ok = (b & 0xc0) == 0x80;
      cp = (cp << 6) | (b & 0x3fU);
    }
    ok = ok && cp >= min && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
    if (!ok) {
      out.push_back(kReplacement);
      *changed = true;
      ++i;
      continue;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

size_t Utf16Units(char32_t c) { return c >= 0x10000 ? 2 : 1; }

std::u16string ToUtf16(const std::u32string& s) {
  std::u16string out;
  for (char32_t c : s) {
    if (c >= 0x10000) {
      const char32_t v = c - 0x10000;
      out.push_back(static_cast<char16_t>(0xd800 + (v >> 10)));
      out.push_back(static_cast<char16_t>(0xdc00 + (v & 0x3ff)));
    } else {
      out.push_back(static_cast<char16_t>(c));
    }
  }
  return out;
}

std::string ToUtf8(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) {
    AppendUtf8(static_cast<uint32_t>(c), &out);
  }
  return out;
}

// Case folding for the uniqueness of long names: ASCII, Latin-1, Greek and
// Cyrillic, the letters whose case Windows and Linux both fold.
char32_t FoldCase(char32_t c) {
  if ((c >= U'a' && c <= U'z') || (c >= 0xe0 && c <= 0xfe && c != 0xf7) ||
      (c >= 0x3b1 && c <= 0x3c9 && c != 0x3c2) || (c >= 0x430 && c <= 0x44f)) {
    return c - 0x20;
  }
  if (c >= 0x450 && c <= 0x45f) {
    return c - 0x50;
  }
  return c;
}

std::u32string FoldKey(const std::u32string& s) {
  std::u32string k = s;
  for (char32_t& c : k) {
    c = FoldCase(c);
  }
  return k;
}

// Makes `name` a valid long name: bad characters and trailing dots and
// spaces (Windows strips them) become '_', and it is cut to 255 units.
void SanitizeLongName(std::u32string* name, bool* changed) {
  for (char32_t& c : *name) {
    if (IsBadLongChar(c)) {
      c = kReplacement;
      *changed = true;
    }
  }
  for (size_t i = name->size(); i > 0 && ((*name)[i - 1] == U'.' || (*name)[i - 1] == U' '); --i) {
    (*name)[i - 1] = kReplacement;
    *changed = true;
  }
  size_t units = 0;
  for (size_t i = 0; i < name->size(); ++i) {
    units += Utf16Units((*name)[i]);
    if (units > kMaxLongNameUnits) {
      name->resize(i);
      *changed = true;
      break;
    }
  }
}

// "stem~N.ext": the N-th variant of a long name that collides.
std::u32string NumberedVariant(const std::u32string& name, int n) {
  size_t dot = name.rfind(U'.');
  if (dot == 0 || dot == std::u32string::npos) {
    dot = name.size();
  }
  std::u32string suffix;
  for (char c : "~" + std::to_string(n)) {
    suffix.push_back(static_cast<char32_t>(c));
  }
  suffix.append(name, dot, std::u32string::npos);
  size_t suffix_units = 0;
  for (char32_t c : suffix) {
    suffix_units += Utf16Units(c);
  }
  std::u32string out;
  size_t units = 0;
  for (size_t i = 0; i < dot; ++i) {
    units += Utf16Units(name[i]);
    if (units + suffix_units > kMaxLongNameUnits) {
      break;
    }
    out.push_back(name[i]);
  }
  out.append(suffix);
  return out;
}

char Upper(char32_t c) { return static_cast<char>(c >= U'a' && c <= U'z' ? c - 0x20 : c); }

// A name that is already 8.3: its short name and NT case flags, and
// whether its case still needs a long name (mixed case in one part).
struct Fit {
  bool fits = false;
  bool needs_long = false;
  std::array<char, 11> short_name{};
  uint8_t nt_case = 0;
};

Fit FitShortName(const std::u32string& name) {
  Fit f;
  f.short_name.fill(' ');
  const size_t dot = name.find(U'.');
  if (dot == 0 ||
      (dot != std::u32string::npos && name.find(U'.', dot + 1) != std::u32string::npos)) {
    return f;
  }
  const size_t base_len = dot == std::u32string::npos ? name.size() : dot;
  const size_t ext_len = dot == std::u32string::npos ? 0 : name.size() - dot - 1;
  if (base_len == 0 || base_len > kBaseChars || ext_len > kExtChars ||
      (dot != std::u32string::npos && ext_len == 0)) {
    return f;
  }
  uint8_t flags = 0;
  for (int part = 0; part < 2; ++part) {
    const size_t from = part == 0 ? 0 : base_len + 1;
    const size_t len = part == 0 ? base_len : ext_len;
    bool lower = false;
    bool upper = false;
    for (size_t i = 0; i < len; ++i) {
      const char32_t c = name[from + i];
      if (c >= 0x80 || c == U' ' || !IsShortNameChar(static_cast<unsigned char>(Upper(c)))) {
        return f;
      }
      lower = lower || (c >= U'a' && c <= U'z');
      upper = upper || (c >= U'A' && c <= U'Z');
      f.short_name[(part == 0 ? 0 : kBaseChars) + i] = Upper(c);
    }
    if (lower && upper) {
      f.needs_long = true;
    } else if (lower) {
      flags |= part == 0 ? kNtLowerBase : kNtLowerExt;
    }
  }
  f.fits = true;
  f.nt_case = f.needs_long ? 0 : flags;
  return f;
}

// The basis name (FAT specification, "Basis-Name Generation Algorithm"):
// upper case, spaces and extra dots dropped, other characters that a short
// name cannot hold (all non-ASCII, as imgfs uses no OEM code page) as '_'.
void BasisName(const std::u32string& name, std::string* base, std::string* ext) {
  size_t start = 0;
  while (start < name.size() && name[start] == U'.') {
    ++start;
  }
  size_t dot = name.rfind(U'.');
  if (dot == std::u32string::npos || dot < start) {
    dot = name.size();
  }
  auto collect = [&](size_t from, size_t to, size_t limit, std::string* out) {
    for (size_t i = from; i < to && out->size() < limit; ++i) {
      const char32_t c = name[i];
      if (c == U' ' || c == U'.') {
        continue;
      }
      const char u = c < 0x80 ? Upper(c) : '_';
      out->push_back(IsShortNameChar(static_cast<unsigned char>(u)) ? u : '_');
    }
  };
  collect(start, dot, kBaseChars, base);
  if (dot < name.size()) {
    collect(dot + 1, name.size(), kExtChars, ext);
  }
  if (base->empty()) {
    *base = "_";
  }
}

// FNV-1a of the long name and a salt: the hashed tail's four hex digits.
// Windows' own hash is undocumented; this one is stable across runs.
uint16_t NameHash(const std::u16string& name, uint32_t salt) {
  uint32_t h = 2166136261U ^ salt;
  for (char16_t c : name) {
    h = (h ^ (c & 0xffU)) * 16777619U;
    h = (h ^ (static_cast<uint32_t>(c) >> 8)) * 16777619U;
  }
  return static_cast<uint16_t>(h ^ (h >> 16));
}

// The set of short names taken in one directory.
struct ShortNameHash {
  size_t operator()(const std::array<char, 11>& s) const {
    return std::hash<std::string_view>()(std::string_view(s.data(), s.size()));
  }
};
using ShortNameSet = std::unordered_set<std::array<char, 11>, ShortNameHash>;

// The short name base[0, keep) + middle + "~" + digit, then ext, space
// padded; built in place, as tails are tried for every name that needs one.
std::array<char, 11> ComposeTailed(std::string_view base, size_t keep, std::string_view middle,
                                   char digit, std::string_view ext) {
  std::array<char, 11> s{};
  s.fill(' ');
  size_t at = 0;
  for (size_t i = 0; i < keep && i < base.size(); ++i) {
    s[at++] = base[i];
  }
  for (char c : middle) {
    s[at++] = c;
  }
  s[at++] = '~';
  s[at] = digit;
  for (size_t i = 0; i < ext.size() && i < kExtChars; ++i) {
    s[kBaseChars + i] = ext[i];
  }
  return s;
}

// A short name with a numeric tail that no earlier entry took (FAT
// specification, "Numeric-Tail Generation Algorithm"): BASE~1 to BASE~4,
// then two characters, four hex digits of a hash and ~1 to ~9.
std::array<char, 11> TailedShortName(const std::string& base, const std::string& ext,
                                     const std::u16string& long_name, ShortNameSet* used) {
  static_assert(kPlainTails < 10);
  for (int n = 1; n <= kPlainTails; ++n) {
    auto s = ComposeTailed(base, kBaseChars - 2, {}, static_cast<char>('0' + n), ext);
    if (used->insert(s).second) {
      return s;
    }
  }
  for (uint32_t salt = 0;; ++salt) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "%04X", NameHash(long_name, salt));
    for (int n = 1; n <= 9; ++n) {
      auto s = ComposeTailed(base, 2, std::string_view(hex, 4), static_cast<char>('0' + n), ext);
      if (used->insert(s).second) {
        return s;
      }
    }
  }
}

}  // namespace

bool IsShortNameChar(unsigned char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80) {
    return true;
  }
  return std::string_view("!#$%&'()-@^_`{}~ ").find(static_cast<char>(c)) != std::string_view::npos;
}

uint8_t ShortNameChecksum(const std::array<char, 11>& short_name) {
  uint8_t sum = 0;
  for (char c : short_name) {
    sum = static_cast<uint8_t>(((sum & 1) << 7) + (sum >> 1) + static_cast<uint8_t>(c));
  }
  return sum;
}

std::string ShortNameText(const std::array<char, 11>& short_name) {
  std::string base(short_name.data(), kBaseChars);
  std::string ext(short_name.data() + kBaseChars, kExtChars);
  base.erase(base.find_last_not_of(' ') + 1);
  ext.erase(ext.find_last_not_of(' ') + 1);
  return ext.empty() ? base : base + "." + ext;
}

std::vector<FatName> MangleDirectory(std::span<const std::string> host_names) {
  std::vector<std::string_view> views(host_names.begin(), host_names.end());
  return MangleDirectory(std::span<const std::string_view>(views));
}

std::vector<FatName> MangleDirectory(std::span<const std::string_view> host_names) {
  std::vector<FatName> out(host_names.size());
  std::vector<std::u32string> names(host_names.size());
  std::unordered_set<std::u32string> keys(host_names.size());
  for (size_t i = 0; i < host_names.size(); ++i) {
    bool changed = false;
    std::u32string name = DecodeUtf8(host_names[i], &changed);
    SanitizeLongName(&name, &changed);
    if (name.empty()) {
      name.push_back(kReplacement);
      changed = true;
    }
    if (!keys.insert(FoldKey(name)).second) {
      for (int n = 2;; ++n) {
        std::u32string v = NumberedVariant(name, n);
        if (keys.insert(FoldKey(v)).second) {
          name = std::move(v);
          break;
        }
      }
      changed = true;
    }
    out[i].shown = ToUtf8(name);
    out[i].changed = changed;
    names[i] = std::move(name);
  }
  // Names that are already 8.3 claim their short names first, so a later
  // generated "~1" never takes the name a host file has.
  ShortNameSet used(host_names.size());
  std::vector<bool> done(names.size(), false);
  for (size_t i = 0; i < names.size(); ++i) {
    Fit f = FitShortName(names[i]);
    if (f.fits && used.insert(f.short_name).second) {
      out[i].short_name = f.short_name;
      out[i].nt_case = f.nt_case;
      if (f.needs_long) {
        out[i].long_name = ToUtf16(names[i]);
      }
      done[i] = true;
    }
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (done[i]) {
      continue;
    }
    std::string base;
    std::string ext;
    BasisName(names[i], &base, &ext);
    out[i].long_name = ToUtf16(names[i]);
    out[i].short_name = TailedShortName(base, ext, out[i].long_name, &used);
  }
  return out;
}

}  // namespace imgfs::vvfat
