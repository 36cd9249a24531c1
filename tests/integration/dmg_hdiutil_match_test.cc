// SPDX-License-Identifier: MIT
// Does `imgfs convert -O dmg` write what hdiutil writes? The DMGs of
// tests/data/dmg-real/ (hdiutil-made; provenance in tests/data/README.md)
// and imgfs's output are read with a parser written here, not with
// formats/dmg, and compared field by field:
//   koly    the newest real images' values (Keramics's, see WRITER.md):
//           version, flags, forks, segment 0/0 with a zero ID, no data-fork
//           checksum, CRC-32 master checksum over the blkx CRC-32s
//   blkx    ID, name, first sector, sector count and block descriptor equal
//           the real image of the same disk layout (a twin disk made here
//           with sfdisk or sgdisk, or a bare volume); APM, of which there is
//           no real image, gets libdmg-hfsplus's descriptors
//   mish    version 1, data offset 0, reserved zero, CRC-32 checksum over
//           every sector except those of ignore (type 2) chunks, buffers
//           needed as the real image with the same codec declares
//   chunks  zero-fill (type 0) chunks within one 2048-sector cell and with
//           length 0, free space never zero-fill, terminator with offset
//           and length 0
//   xz      ULMO chunks with check None and an 8 MiB dictionary
// The rules are first checked on the real images themselves, so the test
// cannot pass by checking something hdiutil does not do. The disk each real
// image holds comes from 7-Zip (`7zz x -so`), which tests/data/README.md
// records as reading all ten right. That every output reads back
// byte-identical through qemu-img, dmg2img and 7-Zip is
// tests/integration/dmg_writer_test.cc's job; here 7-Zip's and the input's
// bytes feed the CRC-32 rule.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/util/crc32.h"
#include "tests/fuse/test_util.h"
#include "tests/integration/dmg_real_fixtures.h"

namespace imgfs::testing {
namespace {

constexpr uint32_t kZeroFill = 0;
constexpr uint32_t kIgnore = 2;
constexpr uint32_t kLzma = 0x80000008;
constexpr uint32_t kTerminator = 0xffffffff;
constexpr uint64_t kCell = 2048;  // hdiutil's chunk: 1 MiB of sectors

// ---- A parser for this test only ----------------------------------------

uint32_t Be32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) {
    v = (v << 8) | static_cast<uint8_t>(s.at(at + i));
  }
  return v;
}

uint64_t Be64(const std::string& s, size_t at) {
  return (uint64_t{Be32(s, at)} << 32) | Be32(s, at + 4);
}

bool AllZero(const std::string& s, size_t at, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (s.at(at + i) != '\0') {
      return false;
    }
  }
  return true;
}

std::string Base64(const std::string& text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    }
    if (v < 0) {
      continue;  // whitespace and '='
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

struct TChunk {
  uint32_t type = 0;
  uint64_t sector = 0;  // relative to the blkx
  uint64_t count = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct TBlkx {
  std::string id;
  std::string name;
  uint32_t version = 0;
  uint64_t first = 0;
  uint64_t count = 0;
  uint64_t data_offset = 0;
  uint32_t buffers = 0;
  uint32_t descriptor = 0;
  bool reserved_zero = false;
  uint32_t checksum_type = 0;
  uint32_t checksum_bits = 0;
  uint32_t checksum = 0;
  std::vector<TChunk> chunks;
};

struct TDmg {
  std::string file;
  uint32_t version = 0;
  uint32_t header_size = 0;
  uint32_t flags = 0;
  uint64_t running_offset = 0;
  uint64_t data_offset = 0;
  uint64_t data_length = 0;
  uint64_t rsrc_offset = 0;
  uint64_t rsrc_length = 0;
  uint32_t segment_number = 0;
  uint32_t segment_count = 0;
  bool segment_id_zero = false;
  uint32_t data_checksum_type = 0;
  uint32_t data_checksum_bits = 0;
  uint32_t master_type = 0;
  uint32_t master_bits = 0;
  uint32_t master = 0;
  uint32_t variant = 0;
  uint64_t sectors = 0;
  std::vector<TBlkx> blkx;
};

// The text between `open` and `close` after position *pos, advancing it.
std::optional<std::string> Between(const std::string& s, const std::string& open,
                                   const std::string& close, size_t* pos) {
  size_t a = s.find(open, *pos);
  if (a == std::string::npos) {
    return std::nullopt;
  }
  a += open.size();
  size_t b = s.find(close, a);
  if (b == std::string::npos) {
    return std::nullopt;
  }
  *pos = b + close.size();
  return s.substr(a, b - a);
}

::testing::AssertionResult Parse(const std::string& file, TDmg* d) {
  if (file.size() < 512 || file.compare(file.size() - 512, 4, "koly") != 0) {
    return ::testing::AssertionFailure() << "no koly trailer";
  }
  d->file = file;
  const size_t k = file.size() - 512;
  d->version = Be32(file, k + 4);
  d->header_size = Be32(file, k + 8);
  d->flags = Be32(file, k + 12);
  d->running_offset = Be64(file, k + 16);
  d->data_offset = Be64(file, k + 24);
  d->data_length = Be64(file, k + 32);
  d->rsrc_offset = Be64(file, k + 40);
  d->rsrc_length = Be64(file, k + 48);
  d->segment_number = Be32(file, k + 56);
  d->segment_count = Be32(file, k + 60);
  d->segment_id_zero = AllZero(file, k + 64, 16);
  d->data_checksum_type = Be32(file, k + 80);
  d->data_checksum_bits = Be32(file, k + 84);
  const uint64_t xml_offset = Be64(file, k + 216);
  const uint64_t xml_length = Be64(file, k + 224);
  d->master_type = Be32(file, k + 352);
  d->master_bits = Be32(file, k + 356);
  d->master = Be32(file, k + 360);
  d->variant = Be32(file, k + 488);
  d->sectors = Be64(file, k + 492);
  if (xml_offset + xml_length > k) {
    return ::testing::AssertionFailure() << "plist outside the file";
  }
  const std::string xml = file.substr(xml_offset, xml_length);
  size_t pos = xml.find("<key>blkx</key>");
  const size_t end = xml.find("</array>", pos);
  if (pos == std::string::npos || end == std::string::npos) {
    return ::testing::AssertionFailure() << "no blkx array";
  }
  const std::string array = xml.substr(pos, end - pos);
  pos = 0;
  for (;;) {
    auto dict = Between(array, "<dict>", "</dict>", &pos);
    if (!dict) {
      break;
    }
    TBlkx b;
    size_t p = 0;
    auto value = [&](const std::string& key, const std::string& tag) {
      p = dict->find("<key>" + key + "</key>");
      auto v = p == std::string::npos ? std::nullopt
                                      : Between(*dict, "<" + tag + ">", "</" + tag + ">", &p);
      return v.value_or("");
    };
    b.id = value("ID", "string");
    b.name = value("Name", "string");
    const std::string m = Base64(value("Data", "data"));
    if (m.size() < 204 || m.compare(0, 4, "mish") != 0) {
      return ::testing::AssertionFailure() << b.name << ": no mish data";
    }
    b.version = Be32(m, 4);
    b.first = Be64(m, 8);
    b.count = Be64(m, 16);
    b.data_offset = Be64(m, 24);
    b.buffers = Be32(m, 32);
    b.descriptor = Be32(m, 36);
    b.reserved_zero = AllZero(m, 40, 24);
    b.checksum_type = Be32(m, 64);
    b.checksum_bits = Be32(m, 68);
    b.checksum = Be32(m, 72);
    const uint32_t n = Be32(m, 200);
    if (m.size() < 204 + uint64_t{n} * 40) {
      return ::testing::AssertionFailure() << b.name << ": short chunk table";
    }
    for (uint32_t i = 0; i < n; ++i) {
      const size_t c = 204 + size_t{i} * 40;
      b.chunks.push_back(
          {Be32(m, c), Be64(m, c + 8), Be64(m, c + 16), Be64(m, c + 24), Be64(m, c + 32)});
    }
    d->blkx.push_back(std::move(b));
  }
  return d->blkx.empty() ? ::testing::AssertionFailure() << "no blkx"
                         : ::testing::AssertionSuccess();
}

uint32_t Crc(const std::string& s) {
  return Crc32(std::span(reinterpret_cast<const std::byte*>(s.data()), s.size()));
}

// The xz stream of an LZMA chunk: its integrity check id and LZMA2
// dictionary size (xz file format 1.0.4, sections 2.1.1.2, 3.1 and 5.3.1).
struct XzShape {
  int check = -1;
  uint64_t dict = 0;
};

std::optional<XzShape> XzOf(const std::string& s) {
  static const char kMagic[] =
      "\xfd"
      "7zXZ";
  if (s.size() < 24 || s.compare(0, 6, std::string(kMagic, 6)) != 0) {
    return std::nullopt;
  }
  XzShape x;
  x.check = static_cast<uint8_t>(s[7]) & 0x0f;
  size_t p = 12;  // block header
  const uint8_t flags = static_cast<uint8_t>(s[p + 1]);
  p += 2;
  auto vli = [&]() {
    uint64_t v = 0;
    for (int shift = 0; p < s.size(); shift += 7) {
      uint8_t b = static_cast<uint8_t>(s[p++]);
      v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) {
        break;
      }
    }
    return v;
  };
  if (flags & 0x40) {
    vli();  // compressed size
  }
  if (flags & 0x80) {
    vli();  // uncompressed size
  }
  if (vli() != 0x21 || vli() != 1 || p >= s.size()) {
    return std::nullopt;  // not a lone LZMA2 filter
  }
  const uint8_t bits = static_cast<uint8_t>(s[p]);
  x.dict = (uint64_t{2} | (bits & 1u)) << (bits / 2 + 11);
  return x;
}

// ---- The rules, checked on real and imgfs images alike ----------------------

// The disk bytes a DMG holds (`disk`, padded to whole sectors) against
// every blkx's CRC-32, counting every chunk but ignore chunks.
void ExpectCrcRule(const TDmg& d, const std::string& disk) {
  std::vector<uint32_t> sums;
  for (const TBlkx& b : d.blkx) {
    SCOPED_TRACE(b.name);
    uint32_t crc = 0;
    for (const TChunk& c : b.chunks) {
      if (c.type == kTerminator || c.type == kIgnore || c.count == 0) {
        continue;
      }
      const uint64_t at = (b.first + c.sector) * 512;
      ASSERT_LE(at + c.count * 512, disk.size());
      const std::string part = disk.substr(at, c.count * 512);
      crc = CrcCombine(crc, Crc(part), part.size());
    }
    EXPECT_EQ(b.checksum_type, 2u);
    EXPECT_EQ(b.checksum_bits, 32u);
    EXPECT_EQ(b.checksum, crc);
    sums.push_back(b.checksum);
  }
  std::string be;
  for (uint32_t v : sums) {
    for (int s = 24; s >= 0; s -= 8) {
      be.push_back(static_cast<char>((v >> s) & 0xff));
    }
  }
  EXPECT_EQ(d.master_type, 2u);
  EXPECT_EQ(d.master_bits, 32u);
  EXPECT_EQ(d.master, Crc(be));
}

// Chunk shapes; `newest` adds the conventions of Keramics's images that
// imgfs follows (terminator at offset 0, no raw chunk over a cell).
void ExpectChunkRules(const TDmg& d, bool newest) {
  for (const TBlkx& b : d.blkx) {
    SCOPED_TRACE(b.name);
    EXPECT_EQ(b.version, 1u);
    EXPECT_EQ(b.data_offset, 0u);
    EXPECT_TRUE(b.reserved_zero);
    ASSERT_FALSE(b.chunks.empty());
    const TChunk& t = b.chunks.back();
    EXPECT_EQ(t.type, kTerminator);
    EXPECT_EQ(t.sector, b.count);
    EXPECT_EQ(t.length, 0u);
    if (newest) {
      EXPECT_EQ(t.offset, 0u);
    }
    const bool free_space = b.name.find("(Apple_Free : ") != std::string::npos;
    uint64_t next = 0;
    for (size_t i = 0; i + 1 < b.chunks.size(); ++i) {
      const TChunk& c = b.chunks[i];
      SCOPED_TRACE("chunk at sector " + std::to_string(c.sector));
      EXPECT_EQ(c.sector, next);
      next = c.sector + c.count;
      if (c.type == kZeroFill) {
        EXPECT_FALSE(free_space);
        EXPECT_EQ(c.sector / kCell, (c.sector + c.count - 1) / kCell) << "crosses a cell";
        EXPECT_EQ(c.length, 0u);
      } else if (c.type == kIgnore) {
        EXPECT_EQ(c.length, 0u);
      } else if (newest || (c.type & 0x80000000u) != 0) {
        // Compressed chunks fill at most one buffer (old hdiutil's raw
        // chunks in nodeudif-raw.dmg are longer).
        EXPECT_LE(c.count, kCell);
      }
      if (c.type == kLzma) {
        auto x = XzOf(d.file.substr(d.data_offset + c.offset, c.length));
        ASSERT_TRUE(x.has_value());
        EXPECT_EQ(x->check, 0) << "integrity check None";
        EXPECT_EQ(x->dict, 8u << 20);
      }
    }
    EXPECT_EQ(next, b.count);
  }
}

std::string Shell(const std::string& script) {
  RunResult r = RunCommand({"bash", "-o", "pipefail", "-c", script});
  EXPECT_EQ(r.exit_code, 0) << script << ": " << r.err;
  return r.out;
}

std::string Q(const std::string& s) { return "'" + s + "'"; }

bool Have(const std::string& tool) {
  return RunCommand({"bash", "-c", "command -v " + tool}).exit_code == 0;
}

const RealDmg& Real(std::string_view stem) {
  for (const RealDmg& d : kRealDmgs) {
    if (stem == d.stem) {
      return d;
    }
  }
  ADD_FAILURE() << "no real image " << stem;
  return kRealDmgs[0];
}

std::string UnpackReal(std::string_view stem) {
  return Shell("xz -dc " + Q(RealDmgXzPath(Real(stem))));
}

std::string Hex8(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

// "ID name first+count descriptor" per blkx, for comparing layouts.
std::string Layout(const TDmg& d) {
  std::string s;
  for (const TBlkx& b : d.blkx) {
    s += b.id + " '" + b.name + "' " + std::to_string(b.first) + "+" + std::to_string(b.count) +
         " " + Hex8(b.descriptor) + "\n";
  }
  return s;
}

class DmgHdiutilMatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
    IMGFS_REQUIRE(Have("7zz"), "7zz (7-Zip)");
    IMGFS_REQUIRE(Have("sfdisk") && Have("sgdisk") && Have("parted"), "sfdisk, sgdisk and parted");
  }

  // The disk of a real image, as 7-Zip extracts it.
  std::string RealDisk(std::string_view stem) {
    const std::string path = dir_ / (std::string(stem) + ".dmg");
    WriteFile(path, UnpackReal(stem));
    return Shell("7zz x -tdmg -so " + Q(path) + " 2>/dev/null");
  }

  TDmg ParseReal(std::string_view stem) {
    TDmg d;
    EXPECT_TRUE(Parse(UnpackReal(stem), &d)) << stem;
    return d;
  }

  // Makes input `name` with `script` ($f is the file).
  std::string MakeInput(const std::string& name, const std::string& script) {
    const std::string path = dir_ / name;
    RunResult r =
        RunCommand({"bash", "-c", "set -e; cd " + Q(dir_.path()) + "; f=" + name + "; " + script});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    return path;
  }

  // Converts `input` to a DMG of `format` and parses it; `disk` gets the
  // input padded to whole sectors.
  TDmg Convert(const std::string& input, const std::string& format, std::string* disk) {
    const std::string dmg = input + "." + format + ".dmg";
    RunResult r = RunCommand(
        {ImgfsBinary(), "convert", "-O", "dmg", "-o", "format=" + format, "-m", "2", input, dmg});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    *disk = ReadFile(input);
    disk->resize((disk->size() + 511) / 512 * 512);
    TDmg d;
    EXPECT_TRUE(Parse(ReadFile(dmg), &d)) << format;
    std::filesystem::remove(dmg);
    return d;
  }

  TempDir dir_;
};

const char* const kFormats[] = {"UDZO", "UDBZ", "ULMO", "ULFO", "UDCO", "UDRO", "UDRW"};

// The real image whose codec matches `format` (UDRW: no real one exists
// here; it stores raw chunks like UDRO).
std::string_view SameCodec(const std::string& format) {
  static const std::map<std::string, std::string_view> kByFormat = {
      {"UDZO", "keramics-hfsplus_zlib"},   {"UDBZ", "keramics-hfsplus_bzip2"},
      {"ULMO", "keramics-hfsplus_lzma"},   {"ULFO", "keramics-hfsplus_lzfse"},
      {"UDCO", "keramics-hfsplus_adc"},    {"UDRO", "nodeudif-compression-raw"},
      {"UDRW", "nodeudif-compression-raw"}};
  return kByFormat.at(format);
}

// The newest real image: the koly fields every output must share.
constexpr std::string_view kNewest = "keramics-hfsplus_zlib";

TEST_F(DmgHdiutilMatchTest, RealImagesFollowTheRules) {
  for (const RealDmg& r : kRealDmgs) {
    SCOPED_TRACE(r.stem);
    TDmg d = ParseReal(r.stem);
    const std::string disk = RealDisk(r.stem);
    ASSERT_EQ(disk.size(), r.virtual_bytes);
    ExpectCrcRule(d, disk);
    const bool keramics = std::string_view(r.stem).starts_with("keramics");
    ExpectChunkRules(d, keramics);
    // Newer images: segment 0/0, no data-fork checksum; older: 1/1, CRC-32.
    EXPECT_EQ(d.segment_number, keramics ? 0u : 1u);
    EXPECT_EQ(d.segment_count, keramics ? 0u : 1u);
    EXPECT_EQ(d.segment_id_zero, keramics);
    EXPECT_EQ(d.data_checksum_type, keramics ? 0u : 2u);
    // Every blkx of a Keramics image declares the same buffers.
    for (const TBlkx& b : d.blkx) {
      if (keramics) {
        EXPECT_EQ(b.buffers, d.blkx[0].buffers) << b.name;
      }
    }
  }
  // What the issue claims, seen in the real images.
  TDmg whole = ParseReal("nodeudif-raw");
  ASSERT_EQ(whole.blkx.size(), 1u);
  EXPECT_EQ(whole.blkx[0].id, "0");
  EXPECT_EQ(whole.blkx[0].descriptor, 0xfffffffeu);
  EXPECT_EQ(whole.variant, 2u);
  TDmg mbr = ParseReal("nodeudif-compression-zlib");
  EXPECT_EQ(mbr.blkx[0].id, "-1");
  EXPECT_EQ(mbr.blkx[0].descriptor, 0u);
  EXPECT_EQ(mbr.blkx[2].name, " (Windows_FAT_16 : 2)");
  TDmg lzma = ParseReal("keramics-hfsplus_lzma");
  EXPECT_EQ(lzma.blkx[0].buffers, 2051u);
  // hdiutil splits a zero-fill run at the 2048-sector line of the blkx.
  const TBlkx& hfs = lzma.blkx[4];
  ASSERT_GE(hfs.chunks.size(), 3u);
  EXPECT_EQ(hfs.chunks[1].type, kZeroFill);
  EXPECT_EQ(hfs.chunks[1].sector + hfs.chunks[1].count, kCell);
  EXPECT_EQ(hfs.chunks[2].type, kZeroFill);
  EXPECT_EQ(hfs.chunks[2].sector, kCell);
}

// Inputs shaped like the real images' disks, so that the blkx layouts can
// be compared line for line, plus an APM disk (no real image of one).
TEST_F(DmgHdiutilMatchTest, EveryFormatAndLayoutMatchesHdiutil) {
  // The node-udif disk: MBR, two type-0x0E partitions of 2048 sectors at
  // 128 and 2176, 10240 sectors.
  const std::string mbr = MakeInput(
      "mbr.raw",
      "truncate -s 5M $f; printf 'label: dos\\n128,2048,e\\n2176,2048,e\\n' | sfdisk -q $f "
      ">/dev/null;"
      "yes fat | head -c 27648 | dd of=$f bs=512 seek=128 conv=notrunc status=none;"
      "yes fat2 | head -c 27648 | dd of=$f bs=512 seek=2176 conv=notrunc status=none");
  // The Keramics disk: GPT, 3836 sectors, "disk image" (Apple HFS) at
  // 40-3799; inside it data, a hole across the 2048-sector line, data.
  const std::string gpt = MakeInput(
      "gpt.raw",
      "truncate -s 1964032 $f; sgdisk -a 8 -n 1:40:3799 -t 1:af00 -c '1:disk image' $f "
      ">/dev/null;"
      "printf 'H+\\0\\004' | dd of=$f bs=1 seek=$((40 * 512 + 1024)) conv=notrunc status=none;"
      "yes hfs | head -c $((1500 * 512)) | dd of=$f bs=512 seek=48 conv=notrunc status=none;"
      "head -c 28672 /dev/urandom | dd of=$f bs=512 seek=3736 conv=notrunc status=none");
  // The node-udif whole volume: 4576 sectors of an HFS+ volume, no map;
  // data, then a long hole, data, a hole.
  const std::string whole = MakeInput(
      "whole.raw",
      "truncate -s 2342912 $f; yes volume | head -c $((3264 * 512)) | dd of=$f conv=notrunc "
      "status=none;"
      "printf 'H+\\0\\004' | dd of=$f bs=1 seek=1024 conv=notrunc status=none;"
      "yes end | head -c 512 | dd of=$f bs=512 seek=4574 conv=notrunc status=none");
  // APM made by parted, 12 MiB, partitions with long holes (whole 1 MiB
  // cells of zeros) and a written zero run.
  const std::string apm =
      MakeInput("apm.raw",
                "truncate -s 12M $f; parted -s $f mklabel mac mkpart p1 hfs+ 1MiB 6MiB"
                " mkpart p2 hfs+ 6MiB 11MiB;"
                "yes p1 | head -c 300000 | dd of=$f bs=4096 seek=257 conv=notrunc status=none;"
                "head -c 3145728 /dev/zero | dd of=$f bs=4096 seek=1537 conv=notrunc status=none;"
                "yes p2 | head -c 9000 | dd of=$f bs=4096 seek=2500 conv=notrunc status=none");

  const TDmg newest = ParseReal(kNewest);
  const std::string real_mbr = Layout(ParseReal("nodeudif-compression-zlib"));
  const std::string real_gpt = Layout(ParseReal("keramics-hfsplus_zlib"));
  const std::string real_whole = Layout(ParseReal("nodeudif-raw"));
  for (const char* name : kFormats) {
    const std::string format(name);
    const TDmg codec_twin = ParseReal(SameCodec(format));
    bool saw_ignore_in_partition = false;
    for (const std::string& input : {mbr, gpt, whole, apm}) {
      SCOPED_TRACE(format + " from " + input);
      std::string disk;
      const TDmg d = Convert(input, format, &disk);
      ASSERT_FALSE(d.blkx.empty());
      // koly as the newest real image.
      EXPECT_EQ(d.version, newest.version);
      EXPECT_EQ(d.header_size, newest.header_size);
      EXPECT_EQ(d.flags, newest.flags);
      EXPECT_EQ(d.running_offset, newest.running_offset);
      EXPECT_EQ(d.data_offset, newest.data_offset);
      EXPECT_EQ(d.rsrc_offset, newest.rsrc_offset);
      EXPECT_EQ(d.rsrc_length, newest.rsrc_length);
      EXPECT_EQ(d.segment_number, newest.segment_number);
      EXPECT_EQ(d.segment_count, newest.segment_count);
      EXPECT_EQ(d.segment_id_zero, newest.segment_id_zero);
      EXPECT_EQ(d.data_checksum_type, newest.data_checksum_type);
      EXPECT_EQ(d.data_checksum_bits, newest.data_checksum_bits);
      EXPECT_EQ(d.sectors * 512, disk.size());
      // Rules shared with the real images.
      ExpectCrcRule(d, disk);
      ExpectChunkRules(d, true);
      for (const TBlkx& b : d.blkx) {
        EXPECT_EQ(b.buffers, codec_twin.blkx[0].buffers) << b.name;
        for (const TChunk& c : b.chunks) {
          saw_ignore_in_partition |=
              c.type == kIgnore && b.name.find("(Apple_Free : ") == std::string::npos;
        }
      }
      // The layout.
      if (input == mbr) {
        EXPECT_EQ(d.variant, 1u);
        EXPECT_EQ(Layout(d), real_mbr);
      } else if (input == gpt) {
        EXPECT_EQ(d.variant, 1u);
        EXPECT_EQ(Layout(d), real_gpt);
      } else if (input == whole) {
        EXPECT_EQ(d.variant, 2u);
        EXPECT_EQ(Layout(d), real_whole);
      } else {
        // libdmg-hfsplus's APM convention: descriptor = ID, DDM 0xFFFFFFFF.
        EXPECT_EQ(d.variant, 1u);
        EXPECT_EQ(d.blkx[0].name, "Driver Descriptor Map (DDM : 0)");
        EXPECT_EQ(d.blkx[0].id, "-1");
        EXPECT_EQ(d.blkx[0].descriptor, 0xffffffffu);
        for (size_t i = 0; i < d.blkx.size(); ++i) {
          EXPECT_EQ(d.blkx[i].id, std::to_string(static_cast<int>(i) - 1));
          EXPECT_EQ(d.blkx[i].descriptor, static_cast<uint32_t>(static_cast<int>(i) - 1));
        }
        EXPECT_NE(Layout(d).find("(Apple_partition_map : 1)"), std::string::npos) << Layout(d);
      }
    }
    // UDRW keeps a flat data fork: its holes are raw chunks, not ignore.
    EXPECT_EQ(saw_ignore_in_partition, format != "UDRW") << format;
  }
}

}  // namespace
}  // namespace imgfs::testing
