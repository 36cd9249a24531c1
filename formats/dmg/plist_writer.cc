// SPDX-License-Identifier: MIT
// Where the shape comes from: the hdiutil-made plists quoted in the libmodi
// UDIF documentation and in libdmg-hfsplus' test transcripts (both listed in
// formats/dmg/WRITER.md). Every blkx dict there has exactly the keys
// Attributes, CFName, Data, ID, Name in that (sorted) order; `plst` holds one
// dict with Attributes, Data, ID 0 and an empty Name; <data> lines are 44
// characters at four tabs, i.e. CoreFoundation's 76-column rule.
#include "formats/dmg/plist_writer.h"

#include <algorithm>
#include <array>
#include <cstdio>

namespace imgfs::dmg {
namespace {

constexpr std::string_view kHeader =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
    "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
    "<plist version=\"1.0\">\n"
    "<dict>\n"
    "\t<key>resource-fork</key>\n"
    "\t<dict>\n";
constexpr std::string_view kFooter =
    "\t</dict>\n"
    "</dict>\n"
    "</plist>\n";

// CoreFoundation wraps base64 at 76 columns, counting a tab as 8.
constexpr unsigned kBase64Columns = 76;
constexpr unsigned kTabColumns = 8;
// Depth of the <data> element inside a blkx/plst dict.
constexpr unsigned kDataIndent = 4;

// The `plst` resource hdiutil adds to every image: 1032 bytes (0x408), all
// zero except 00 01 00 01 at offset 516. It is a legacy Mac resource whose
// meaning no public source explains; images carry it verbatim, so do we.
constexpr size_t kPlstBytes = 1032;
constexpr size_t kPlstFlagsOffset = 516;

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Tabs(unsigned n) { return std::string(n, '\t'); }

// hdiutil writes attributes as "0x0050": at least four lowercase hex digits.
std::string HexAttributes(uint32_t attributes) {
  std::array<char, 16> buf{};
  int n = std::snprintf(buf.data(), buf.size(), "0x%04x", attributes);
  return std::string(buf.data(), static_cast<size_t>(n));
}

void AppendKeyString(std::string* out, std::string_view key, std::string_view value) {
  std::string indent = Tabs(kDataIndent);
  *out += indent + "<key>" + std::string(key) + "</key>\n";
  *out += indent + "<string>" + XmlEscape(value) + "</string>\n";
}

void AppendData(std::string* out, std::span<const std::byte> data) {
  std::string indent = Tabs(kDataIndent);
  *out += indent + "<key>Data</key>\n";
  *out += indent + "<data>\n";
  *out += Base64Lines(data, kDataIndent);
  *out += indent + "</data>\n";
}

}  // namespace

std::string Base64Lines(std::span<const std::byte> data, unsigned indent_tabs) {
  const size_t line_chars = kBase64Columns - kTabColumns * std::min(indent_tabs, 8U);
  std::string encoded;
  encoded.reserve((data.size() + 2) / 3 * 4);
  for (size_t i = 0; i < data.size(); i += 3) {
    uint32_t group = std::to_integer<uint32_t>(data[i]) << 16;
    size_t n = std::min<size_t>(3, data.size() - i);
    if (n > 1) {
      group |= std::to_integer<uint32_t>(data[i + 1]) << 8;
    }
    if (n > 2) {
      group |= std::to_integer<uint32_t>(data[i + 2]);
    }
    encoded += kBase64Alphabet[(group >> 18) & 0x3f];
    encoded += kBase64Alphabet[(group >> 12) & 0x3f];
    encoded += n > 1 ? kBase64Alphabet[(group >> 6) & 0x3f] : '=';
    encoded += n > 2 ? kBase64Alphabet[group & 0x3f] : '=';
  }
  std::string out;
  std::string indent = Tabs(indent_tabs);
  for (size_t pos = 0; pos < encoded.size(); pos += line_chars) {
    out += indent;
    out.append(encoded, pos, line_chars);
    out += '\n';
  }
  return out;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default: {
        auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 && c != '\t' && c != '\n' && c != '\r') ? '?' : c;
      }
    }
  }
  return out;
}

std::string EmitUdifPlist(std::span<const PlistBlkx> blkx) {
  std::string out(kHeader);
  out += "\t\t<key>blkx</key>\n";
  out += "\t\t<array>\n";
  for (const PlistBlkx& b : blkx) {
    out += "\t\t\t<dict>\n";
    AppendKeyString(&out, "Attributes", HexAttributes(b.attributes));
    AppendKeyString(&out, "CFName", b.name);
    AppendData(&out, b.mish);
    AppendKeyString(&out, "ID", std::to_string(b.id));
    AppendKeyString(&out, "Name", b.name);
    out += "\t\t\t</dict>\n";
  }
  out += "\t\t</array>\n";
  out += "\t\t<key>plst</key>\n";
  out += "\t\t<array>\n";
  out += "\t\t\t<dict>\n";
  AppendKeyString(&out, "Attributes", "0x0050");
  std::array<std::byte, kPlstBytes> plst{};
  plst[kPlstFlagsOffset + 1] = std::byte{1};
  plst[kPlstFlagsOffset + 3] = std::byte{1};
  AppendData(&out, plst);
  AppendKeyString(&out, "ID", "0");
  AppendKeyString(&out, "Name", "");
  out += "\t\t\t</dict>\n";
  out += "\t\t</array>\n";
  out += kFooter;
  return out;
}

}  // namespace imgfs::dmg
