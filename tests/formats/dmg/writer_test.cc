// SPDX-License-Identifier: MIT
// The DMG writer from a scripted device into memory: every format reads
// back byte-identical through a small independent reader with consistent
// koly, mish and checksum fields, and the fields that do not depend on the
// disk are byte-for-byte those of a real hdiutil image's trailer and first
// mish table (tests/data/dmg-real/, read by offset). Oracle tests with real
// readers are in tests/integration/dmg_writer_test.cc.
#include "formats/dmg/writer.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <random>
#include <string_view>

#include "core/util/crc32.h"
#include "formats/dmg/layout.h"
#include "tests/formats/dmg/udif_readback.h"
#include "tests/integration/dmg_real_fixtures.h"
#include "tests/testing/faulty_block_device.h"
#include "tests/testing/memory_block_device.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::dmg {
namespace {

using testing::ReadBack;
using testing::ReadBackDmg;

constexpr uint64_t kKiB = 1024;

std::string Contents(const File& f) {
  std::string s(*f.Size(), '\0');
  EXPECT_OK(f.ReadExactAt(0, std::as_writable_bytes(std::span(s)), "contents"));
  return s;
}

std::span<const std::byte> Bytes(const std::string& s) { return std::as_bytes(std::span(s)); }

Extent Ext(uint64_t offset, uint64_t length, ExtentKind kind) {
  return Extent{offset, length, kind, 0, std::nullopt, false};
}

// Bytes with a scripted allocation map. Unlike tests/fuse/fake_device.h it
// lets holes be read (as every real device does): the writer reads whole
// sectors, and a sector may be partly hole. One extent per Extents call, so
// callers must loop.
class ScriptedDisk final : public imgfs::testing::FaultyBlockDevice {
 public:
  ScriptedDisk(const std::string& bytes, std::vector<Extent> map)
      : FaultyBlockDevice(
            std::make_unique<imgfs::testing::MemoryBlockDevice>(bytes, std::move(map)),
            {.max_extents_per_call = 1}) {}
};

// 300 KiB + 7 bytes: random data, a data extent that reads as zeros, a
// hole, compressible text, an unallocated tail ending mid-sector.
ScriptedDisk MakeDevice(std::string* bytes) {
  std::string b(300 * kKiB + 7, '\0');
  std::mt19937 gen(42);
  for (size_t i = 0; i < 40 * kKiB; ++i) {
    b[i] = static_cast<char>(gen());
  }
  for (size_t i = 120 * kKiB; i < 200 * kKiB; ++i) {
    b[i] = "dmg writer "[i % 11];
  }
  *bytes = b;
  return ScriptedDisk(b, {Ext(0, 40 * kKiB, ExtentKind::kData),
                          Ext(40 * kKiB, 30 * kKiB, ExtentKind::kData),  // reads as zeros
                          Ext(70 * kKiB, 50 * kKiB, ExtentKind::kZero),
                          Ext(120 * kKiB, 80 * kKiB + 1, ExtentKind::kData),
                          Ext(200 * kKiB + 1, 100 * kKiB + 6, ExtentKind::kUnallocated)});
}

// The blkx CRC-32 rule of hdiutil's images: every chunk's sectors of
// `disk` in order except those of ignore chunks.
uint32_t CrcWithoutIgnored(const BlkxTable& t, const std::string& disk) {
  uint32_t crc = 0;
  for (const Chunk& c : t.chunks) {
    if (c.type == ChunkType::kIgnore || c.type == ChunkType::kTerminator) {
      continue;
    }
    const std::string part =
        disk.substr((t.first_sector + c.sector_number) * 512, c.sector_count * 512);
    crc = CrcCombine(crc, Crc32(Bytes(part)), part.size());
  }
  return crc;
}

class WriterFormatTest : public ::testing::TestWithParam<DmgFormat> {};

TEST_P(WriterFormatTest, ReadsBackIdenticalWithConsistentFields) {
  std::string bytes;
  ScriptedDisk dev = MakeDevice(&bytes);
  for (bool parallel : {false, true}) {
    SCOPED_TRACE(parallel ? "on a pool" : "serial");
    ThreadPool pool(2);
    auto out = NewMemoryFile("out.dmg");
    DmgWriteOptions o;
    o.format = GetParam();
    o.chunk_sectors = 16;  // 8 KiB chunks: many of them
    o.pool = parallel ? &pool : nullptr;
    auto stats = WriteDmg(dev, *out, o);
    ASSERT_OK(stats);
    std::string file = Contents(*out);
    ReadBack rb;
    ASSERT_TRUE(ReadBackDmg(file, &rb));
    std::string padded = bytes;
    padded.resize((bytes.size() + 511) / 512 * 512);
    EXPECT_EQ(rb.disk, padded);
    EXPECT_EQ(stats->padding_bytes, padded.size() - bytes.size());

    const Koly& k = rb.koly;
    EXPECT_EQ(k.version, 4u);
    EXPECT_EQ(k.header_bytes, 512u);
    EXPECT_EQ(k.flags, 1u);
    EXPECT_EQ(k.data_fork_offset, 0u);
    EXPECT_EQ(k.rsrc_fork_offset, 0u);
    EXPECT_EQ(k.rsrc_fork_length, 0u);
    // hdiutil's newer form (WRITER.md): segment 0 of 0 (which DecodeKoly
    // reads as 1 of 1), zero ID.
    EXPECT_EQ(file.substr(file.size() - 512 + 0x38, 8), std::string(8, '\0'));
    EXPECT_EQ(k.segment_id, (std::array<uint8_t, 16>{}));
    EXPECT_EQ(k.xml_offset, k.data_fork_length);
    EXPECT_EQ(file.size(), k.xml_offset + k.xml_length + 512);
    EXPECT_EQ(k.image_variant, kVariantPartition);
    EXPECT_EQ(k.sector_count, padded.size() / 512);
    EXPECT_EQ(k.data_checksum.type, kChecksumNone);  // as hdiutil's newer images
    EXPECT_EQ(k.data_checksum.bit_count, 0u);
    ASSERT_EQ(rb.tables.size(), 1u);
    const BlkxTable& t = rb.tables[0];
    EXPECT_EQ(t.first_sector, 0u);
    EXPECT_EQ(t.sector_count, k.sector_count);
    EXPECT_EQ(t.data_offset, 0u);
    EXPECT_EQ(
        t.buffers_needed,
        BuffersNeeded(GetParam() == DmgFormat::kUdrw ? std::nullopt : FormatCodec(GetParam()), 16));
    EXPECT_EQ(t.buffers_needed == 0,
              GetParam() == DmgFormat::kUdro || GetParam() == DmgFormat::kUdrw);
    EXPECT_EQ(t.block_descriptors, kDescriptorEntireDevice);
    EXPECT_EQ(t.checksum.type, kChecksumCrc32);
    EXPECT_EQ(t.checksum.data[0], CrcWithoutIgnored(t, padded));
    EXPECT_EQ(k.master_checksum.type, kChecksumCrc32);
    const UdifChecksum sums[] = {t.checksum};
    EXPECT_EQ(k.master_checksum.data[0], MasterChecksum(sums));
    ASSERT_FALSE(t.chunks.empty());
    EXPECT_EQ(t.chunks.back().type, ChunkType::kTerminator);
    EXPECT_EQ(t.chunks.back().sector_number, t.sector_count);
    uint64_t next = 0;
    bool saw_zero = false;
    for (const Chunk& c : t.chunks) {
      if (c.type == ChunkType::kTerminator) {
        continue;
      }
      EXPECT_EQ(c.sector_number, next);
      next += c.sector_count;
      saw_zero |= IsZero(c.type);
      if (c.type == ChunkType::kZeroFill) {
        // Within one 16-sector chunk cell (hdiutil's rule).
        EXPECT_EQ(c.sector_number / 16, (c.sector_number + c.sector_count - 1) / 16);
        EXPECT_EQ(c.compressed_length, 0u);
      } else if (c.type == ChunkType::kIgnore) {
        EXPECT_EQ(c.sector_number % 16, 0u);  // whole cells
        EXPECT_EQ(c.sector_count % 16, 0u);
        EXPECT_EQ(c.compressed_length, 0u);
      } else {
        EXPECT_LE(c.sector_count, 16u);
      }
      if (GetParam() == DmgFormat::kUdrw) {
        EXPECT_EQ(c.type, ChunkType::kRaw);
        EXPECT_EQ(c.compressed_offset, c.sector_number * 512);  // flat data fork
      } else if (GetParam() == DmgFormat::kUdro) {
        EXPECT_TRUE(c.type == ChunkType::kRaw || IsZero(c.type));
      }
    }
    EXPECT_EQ(next, t.sector_count);
    EXPECT_EQ(saw_zero, GetParam() != DmgFormat::kUdrw);
    if (FormatCodec(GetParam())) {
      EXPECT_GT(stats->compressed_chunks, 0u);
      EXPECT_GT(stats->raw_chunks, 0u);  // the random data does not shrink
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, WriterFormatTest,
                         ::testing::Values(DmgFormat::kUdzo, DmgFormat::kUdbz, DmgFormat::kUlmo,
                                           DmgFormat::kUdro, DmgFormat::kUdrw),
                         [](const auto& p) { return std::string(DmgFormatName(p.param)); });

// The unpacked bytes of a tests/data/dmg-real/ image ("" if xz fails).
std::string UnpackRealDmg(const char* stem) {
  for (const imgfs::testing::RealDmg& d : imgfs::testing::kRealDmgs) {
    if (std::string_view(d.stem) != stem) {
      continue;
    }
    std::string out;
    FILE* pipe = ::popen(("xz -dc '" + imgfs::testing::RealDmgXzPath(d) + "'").c_str(), "r");
    if (pipe == nullptr) {
      return out;
    }
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) {
      out.append(buf, n);
    }
    return ::pclose(pipe) == 0 ? out : std::string();
  }
  return {};
}

// The first blkx table's mish bytes, base64-decoded from the XML plist
// that the koly at the end of `dmg` points to (a plain scan and decoder,
// not imgfs's plist reader).
std::string FirstMish(const std::string& dmg) {
  const std::string koly = dmg.substr(dmg.size() - 512);
  auto be64 = [&](size_t at) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i) {
      v = v << 8 | static_cast<uint8_t>(koly[at + i]);
    }
    return v;
  };
  const std::string xml = dmg.substr(be64(0xd8), be64(0xe0));
  size_t at = xml.find("<key>blkx</key>");
  at = xml.find("<data>", at);
  const size_t end = xml.find("</data>", at);
  if (at == std::string::npos || end == std::string::npos) {
    return {};
  }
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t bits = 0;
  int have = 0;
  for (size_t i = at + 6; i < end; ++i) {
    const size_t v = kAlphabet.find(xml[i]);
    if (v == std::string_view::npos) {
      continue;  // whitespace and '=' padding
    }
    bits = bits << 6 | static_cast<uint32_t>(v);
    have += 6;
    if (have >= 8) {
      have -= 8;
      out.push_back(static_cast<char>(bits >> have & 0xff));
    }
  }
  return out;
}

// Bytes [at, at + n) of `ours` and `real` are the same.
void ExpectSameField(const std::string& ours, const std::string& real, size_t at, size_t n,
                     const char* field) {
  ASSERT_GE(ours.size(), at + n);
  ASSERT_GE(real.size(), at + n);
  EXPECT_EQ(ours.substr(at, n), real.substr(at, n)) << field << " at " << at;
}

// The fields hdiutil writes the same for every disk, pinned to the raw
// bytes of the newest real UDZO image that hdiutil made (Keramics's test
// data; node-udif's older ones differ in the segment and data-checksum
// fields, see WRITER.md).
TEST(WriterTest, TrailerFieldsMatchARealHdiutilImage) {
  const std::string real = UnpackRealDmg("keramics-hfsplus_zlib");
  ASSERT_GT(real.size(), 512u) << "cannot unpack the real DMG (is xz installed?)";
  std::string bytes;
  ScriptedDisk dev = MakeDevice(&bytes);
  auto out = NewMemoryFile("out.dmg");
  DmgWriteOptions o;
  o.format = DmgFormat::kUdzo;
  ASSERT_OK(WriteDmg(dev, *out, o));
  const std::string file = Contents(*out);
  ASSERT_GT(file.size(), 512u);
  const std::string ours_koly = file.substr(file.size() - 512);
  const std::string real_koly = real.substr(real.size() - 512);
  struct Field {
    size_t at, n;
    const char* name;
  };
  const Field kKolyFields[] = {
      {0x00, 4, "koly magic"},
      {0x04, 4, "version"},
      {0x08, 4, "header size"},
      {0x0c, 4, "flags"},
      {0x10, 8, "running data fork offset"},
      {0x18, 8, "data fork offset"},
      {0x28, 16, "resource fork offset and length"},
      {0x38, 8, "segment number and count"},
      {0x40, 16, "segment ID"},
      {0x50, 0x88, "data checksum"},
      {0xe8, 0x78, "reserved"},
      {0x160, 8, "master checksum type and bits"},
  };
  for (const Field& f : kKolyFields) {
    ExpectSameField(ours_koly, real_koly, f.at, f.n, f.name);
  }
  // Our disk has no partition table, like node-udif's raw image (variant 2;
  // the zlib one holds an MBR disk: variant 1).
  const std::string real_unpartitioned = UnpackRealDmg("nodeudif-raw");
  ASSERT_GT(real_unpartitioned.size(), 512u);
  ExpectSameField(ours_koly, real_unpartitioned.substr(real_unpartitioned.size() - 512), 0x1e8, 4,
                  "image variant");
  ExpectSameField(ours_koly, real_koly, 0x1f4, 12, "reserved tail");

  const std::string ours_mish = FirstMish(file);
  const std::string real_mish = FirstMish(real);
  ASSERT_GE(real_mish.size(), 204u);
  const Field kMishFields[] = {
      {0x00, 4, "mish magic"},
      {0x04, 4, "mish version"},
      {0x08, 8, "mish first sector"},
      {0x18, 8, "mish data offset"},
      {0x20, 4, "mish buffers needed"},
      {0x28, 0x18, "mish reserved"},
      {0x40, 8, "mish checksum type and bits"},
  };
  for (const Field& f : kMishFields) {
    ExpectSameField(ours_mish, real_mish, f.at, f.n, f.name);
  }
  // A whole-disk blkx's block descriptor ("entire device").
  ExpectSameField(ours_mish, FirstMish(real_unpartitioned), 0x24, 4, "mish block descriptor");
}

TEST(WriterTest, EmptyAndAllZeroDisksKeepANonEmptyDataFork) {
  for (uint64_t size : {uint64_t{0}, uint64_t{1} << 20}) {
    ScriptedDisk dev(
        std::string(size, '\0'),
        size == 0 ? std::vector<Extent>{} : std::vector<Extent>{Ext(0, size, ExtentKind::kZero)});
    auto out = NewMemoryFile("out.dmg");
    ASSERT_OK(WriteDmg(dev, *out, {}));
    ReadBack rb;
    ASSERT_TRUE(ReadBackDmg(Contents(*out), &rb));
    EXPECT_EQ(rb.disk, std::string(size, '\0'));
    EXPECT_EQ(rb.koly.data_fork_length, 512u);  // dmg2img needs XML offset != 0
    ASSERT_EQ(rb.tables.size(), 1u);
    EXPECT_EQ(rb.tables[0].sector_count, size / 512);
  }
}

TEST(WriterTest, ZeroFillChunksStayWithinQemusLimit) {
  const uint64_t size = 200ULL << 20;  // one 200 MiB hole
  imgfs::testing::MemoryBlockDevice dev("");
  dev.ZeroExtend(size);
  dev.SetExtents({Ext(0, size, ExtentKind::kUnallocated)});
  auto out = NewMemoryFile("out.dmg");
  ASSERT_OK(WriteDmg(dev, *out, {}));
  ReadBack rb;
  ASSERT_TRUE(ReadBackDmg(Contents(*out), &rb));
  ASSERT_EQ(rb.tables.size(), 1u);
  EXPECT_EQ(rb.tables[0].chunks.size(), 4u + 1u);  // 64+64+64+8 MiB, terminator
  for (const Chunk& c : rb.tables[0].chunks) {
    EXPECT_LE(c.sector_count, kMaxChunkSectors);
    if (c.type != ChunkType::kTerminator) {
      EXPECT_EQ(c.type, ChunkType::kIgnore);  // whole chunk cells of nothing
    }
  }
  EXPECT_EQ(rb.tables[0].checksum.data[0], 0u);  // ignore chunks count as nothing
}

TEST(WriterTest, ReadErrorsNameTheOffset) {
  // The partition-map probe (the first 34 KiB) reads fine, then the disk fails.
  imgfs::testing::FaultyBlockDevice dev(
      std::make_unique<imgfs::testing::MemoryBlockDevice>(2048 * kKiB),
      {.failing_ranges = {{34 * kKiB, 2014 * kKiB}}});
  ThreadPool pool(2);
  auto out = NewMemoryFile("out.dmg");
  DmgWriteOptions o;
  o.pool = &pool;
  auto r = WriteDmg(dev, *out, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot read source at"), std::string::npos)
      << r.status().ToString();
  o.chunk_sectors = 0;
  EXPECT_EQ(WriteDmg(dev, *out, o).status().code(), StatusCode::kInvalidArgument);
}

TEST(WriterTest, MasterChecksumIsCrcOfBigEndianBlkxCrcs) {
  UdifChecksum a;
  a.type = kChecksumCrc32;
  a.bit_count = 32;
  a.data[0] = 0x41f2fa33;
  UdifChecksum none;  // type 0: left out
  UdifChecksum b = a;
  b.data[0] = 0x01020304;
  const UdifChecksum sums[] = {a, none, b};
  const std::byte be[] = {std::byte{0x41}, std::byte{0xf2}, std::byte{0xfa}, std::byte{0x33},
                          std::byte{0x01}, std::byte{0x02}, std::byte{0x03}, std::byte{0x04}};
  EXPECT_EQ(MasterChecksum(sums), Crc32(be));
}

TEST(WriterTest, FormatNames) {
  for (std::string_view name : {"UDZO", "udbz", "Ulmo", "ULFO", "UDCO", "UDRO", "UDRW"}) {
    auto f = ParseDmgFormat(name);
    ASSERT_OK(f);
    std::string upper(name);
    for (char& c : upper) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    EXPECT_EQ(DmgFormatName(*f), upper);
  }
  EXPECT_EQ(ParseDmgFormat("UDXX").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FormatCodec(DmgFormat::kUdzo), ChunkType::kZlib);
  EXPECT_FALSE(FormatCodec(DmgFormat::kUdrw).has_value());
}

}  // namespace
}  // namespace imgfs::dmg
