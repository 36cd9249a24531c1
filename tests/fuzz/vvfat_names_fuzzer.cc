// SPDX-License-Identifier: MIT
// libFuzzer target for vvfat's name mangler: the input is a directory's
// host names separated by '/' (the one byte no host name holds). Any bytes
// must give valid, unique FAT names; a broken rule aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "vvfat/names.h"

namespace {

void Check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

char16_t Fold(char16_t c) { return c >= u'a' && c <= u'z' ? static_cast<char16_t>(c - 32) : c; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  std::string cur;
  for (size_t i = 0; i <= size; ++i) {
    if (i == size || data[i] == '/') {
      if (!cur.empty() && cur != "." && cur != ".." && cur.size() <= 255 &&
          seen.insert(cur).second) {
        names.push_back(cur);
      }
      cur.clear();
    } else if (data[i] != 0) {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  const auto out = imgfs::vvfat::MangleDirectory(names);
  Check(out.size() == names.size());
  std::set<std::array<char, 11>> shorts;
  std::set<std::u16string> longs;
  for (size_t i = 0; i < out.size(); ++i) {
    const auto& n = out[i];
    Check(shorts.insert(n.short_name).second);
    Check(n.short_name[0] != ' ' && n.short_name[0] != '.');
    for (char c : n.short_name) {
      Check(imgfs::vvfat::IsShortNameChar(static_cast<unsigned char>(c)));
      Check(!(c >= 'a' && c <= 'z'));
    }
    Check(n.long_name.size() <= imgfs::vvfat::kMaxLongNameUnits);
    Check(n.long_name.empty() || n.nt_case == 0);
    // The name the guest sees, as the key for uniqueness.
    std::u16string key;
    if (n.long_name.empty()) {
      for (char c : imgfs::vvfat::ShortNameText(n.short_name)) {
        key.push_back(static_cast<char16_t>(c));
      }
    } else {
      key = n.long_name;
      for (size_t k = 0; k < key.size(); ++k) {
        const char16_t c = key[k];
        Check(c >= 0x20 && c != u'/' && c != u'\\' && c != u':' && c != u'*' && c != u'?' &&
              c != u'"' && c != u'<' && c != u'>' && c != u'|');
        if (c >= 0xd800 && c <= 0xdbff) {
          Check(k + 1 < key.size() && key[k + 1] >= 0xdc00 && key[k + 1] <= 0xdfff);
          ++k;
        } else {
          Check(c < 0xdc00 || c > 0xdfff);
        }
      }
      Check(key.back() != u'.' && key.back() != u' ');
    }
    for (char16_t& c : key) {
      c = Fold(c);
    }
    Check(longs.insert(key).second);
  }
  return 0;
}
