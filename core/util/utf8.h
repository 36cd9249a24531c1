// SPDX-License-Identifier: MIT
// UTF-8 encoding of one code point, for names decoded from UTF-16 (GPT) and
// character references (plists), and repair of text read from an image
// (which JSON output must not choke on).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace imgfs {

// REQUIRES: cp <= 0x10ffff.
inline void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// `in` with every byte that does not start a well-formed UTF-8 sequence
// (overlong forms, surrogates and code points past 0x10ffff included)
// replaced by U+FFFD.
inline std::string ToValidUtf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    const auto b = static_cast<uint8_t>(in[i]);
    const size_t n = b < 0x80           ? 1
                     : (b >> 5) == 0x6  ? 2
                     : (b >> 4) == 0xe  ? 3
                     : (b >> 3) == 0x1e ? 4
                                        : 0;
    uint32_t cp = n == 1 ? b : n == 2 ? (b & 0x1fu) : n == 3 ? (b & 0x0fu) : (b & 0x07u);
    bool ok = n != 0 && i + n <= in.size();
    for (size_t k = 1; ok && k < n; ++k) {
      const auto c = static_cast<uint8_t>(in[i + k]);
      ok = (c & 0xc0) == 0x80;
      cp = (cp << 6) | (c & 0x3fu);
    }
    constexpr uint32_t kMinOfLength[] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= kMinOfLength[n] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
    if (ok) {
      out.append(in.substr(i, n));
      i += n;
    } else {
      AppendUtf8(0xfffd, &out);
      ++i;
    }
  }
  return out;
}

}  // namespace imgfs
