// SPDX-License-Identifier: MIT
// Test-side UDIF writer; see test_dmg_builder.h. Every structure is laid
// out here from the UDIF and Resource Manager layouts with plain big-endian
// stores, and every CRC-32 is zlib's, so nothing of formats/dmg (encoders,
// decompressors, CRC) decides what the tests' images contain.
#include "tests/formats/dmg/test_dmg_builder.h"

#include <zlib.h>

#include <algorithm>
#include <optional>
#include <string>

#include "formats/dmg/codec.h"

namespace imgfs::dmg::testing {
namespace {

constexpr uint32_t kCrc32Type = 2;          // UDIF checksum type CRC-32
constexpr uint32_t kBlkxType = 0x626c6b78;  // 'blkx'
constexpr size_t kKolySize = 512;
constexpr size_t kMishHeaderSize = 204;
constexpr size_t kMishChunkSize = 40;

// Big-endian stores into `out` at `at` (which must have room).
void Put(std::vector<std::byte>* out, size_t at, uint64_t v, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) {
    (*out)[at + i] = static_cast<std::byte>(v >> (8 * (bytes - 1 - i)));
  }
}
void Append(std::vector<std::byte>* out, uint64_t v, size_t bytes) {
  out->resize(out->size() + bytes);
  Put(out, out->size() - bytes, v, bytes);
}

uint32_t ZlibCrc(std::span<const std::byte> bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t at = 0; at < bytes.size(); at += 1u << 30) {
    const size_t n = std::min<size_t>(bytes.size() - at, size_t{1} << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + at), static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(crc);
}

// Inflates a zlib chunk with zlib itself into `out` (its output size);
// whatever a broken stream leaves stays zero.
void ZlibInflate(std::span<const std::byte> in, std::span<std::byte> out) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) {
    return;
  }
  z.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  (void)inflate(&z, Z_FINISH);
  inflateEnd(&z);
}

// The bytes `tc` decodes to (out_bytes of them), or nullopt when the
// builder cannot know them without a decoder of its own.
std::optional<std::vector<std::byte>> Decoded(const TestChunk& tc, size_t out_bytes) {
  std::vector<std::byte> out(out_bytes);
  if (!tc.decoded.empty()) {
    std::copy_n(tc.decoded.begin(), std::min(out_bytes, tc.decoded.size()), out.begin());
  } else if (tc.type == ChunkType::kRaw) {
    std::copy_n(tc.payload.begin(), std::min(out_bytes, tc.payload.size()), out.begin());
  } else if (tc.type == ChunkType::kZlib) {
    ZlibInflate(tc.payload, out);
  } else if (tc.type != ChunkType::kZeroFill && tc.type != ChunkType::kIgnore &&
             tc.type != ChunkType::kComment) {
    return std::nullopt;
  }
  return out;
}

std::string Base64(std::span<const std::byte> in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t line = 0;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = std::to_integer<uint32_t>(in[i]) << 16;
    if (i + 1 < in.size()) {
      v |= std::to_integer<uint32_t>(in[i + 1]) << 8;
    }
    if (i + 2 < in.size()) {
      v |= std::to_integer<uint32_t>(in[i + 2]);
    }
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < in.size() ? kAlphabet[v & 63] : '=');
    if (++line == 13) {  // 52 characters a line, as hdiutil writes
      out += "\n\t\t\t\t";
      line = 0;
    }
  }
  return out;
}

struct Table {
  uint64_t sectors = 0;
  std::vector<std::byte> mish;
  std::optional<uint32_t> crc;  // of the decoded table, ignore chunks left out
};

// One mish table: its chunks stored from data-fork offset file->size() on.
Table MakeTable(const TestPartition& part, uint64_t first_sector, bool crc,
                std::vector<std::byte>* file) {
  Table t;
  std::vector<std::byte> chunks;
  std::vector<std::byte> raw;
  bool known = crc;
  uint64_t in_table = 0;
  uint64_t max_sectors = 0;
  for (const TestChunk& tc : part.chunks) {
    Append(&chunks, static_cast<uint32_t>(tc.type), 4);
    Append(&chunks, 0, 4);  // comment
    Append(&chunks, in_table, 8);
    Append(&chunks, tc.sector_count, 8);
    Append(&chunks, file->size(), 8);
    Append(&chunks, tc.payload.size(), 8);
    file->insert(file->end(), tc.payload.begin(), tc.payload.end());
    // hdiutil's blkx CRC leaves out ignore chunks.
    const size_t out_bytes =
        tc.type == ChunkType::kIgnore ? 0 : static_cast<size_t>(tc.sector_count * 512);
    std::optional<std::vector<std::byte>> d = Decoded(tc, out_bytes);
    known = known && d.has_value();
    if (known) {
      raw.insert(raw.end(), d->begin(), d->end());
    }
    in_table += tc.sector_count;
    max_sectors = std::max(max_sectors, tc.sector_count);
  }
  Append(&chunks, static_cast<uint32_t>(ChunkType::kTerminator), 4);
  Append(&chunks, 0, 4);
  Append(&chunks, in_table, 8);
  Append(&chunks, 0, 8);
  Append(&chunks, file->size(), 8);
  Append(&chunks, 0, 8);
  if (known) {
    t.crc = ZlibCrc(raw);
  }
  t.sectors = in_table;
  std::vector<std::byte>& m = t.mish;
  m.resize(kMishHeaderSize);
  Put(&m, 0, 0x6d697368, 4);  // 'mish'
  Put(&m, 4, 1, 4);           // version
  Put(&m, 8, first_sector, 8);
  Put(&m, 16, in_table, 8);
  Put(&m, 24, 0, 8);                // data offset
  Put(&m, 32, max_sectors + 8, 4);  // buffers needed
  Put(&m, 36, 0, 4);                // block descriptors; 24 reserved bytes follow
  if (t.crc) {
    Put(&m, 64, kCrc32Type, 4);
    Put(&m, 68, 32, 4);
    Put(&m, 72, *t.crc, 4);
  }
  Put(&m, 200, chunks.size() / kMishChunkSize, 4);
  m.insert(m.end(), chunks.begin(), chunks.end());
  return t;
}

std::string Plist(std::span<const TestPartition> partitions, std::span<const Table> tables) {
  std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
      "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
      "<plist version=\"1.0\">\n<dict>\n\t<key>resource-fork</key>\n\t<dict>\n"
      "\t\t<key>blkx</key>\n\t\t<array>\n";
  for (size_t i = 0; i < partitions.size(); ++i) {
    const TestPartition& part = partitions[i];
    xml +=
        "\t\t\t<dict>\n"
        "\t\t\t\t<key>Attributes</key>\n\t\t\t\t<string>0x0050</string>\n"
        "\t\t\t\t<key>CFName</key>\n\t\t\t\t<string>" +
        part.name +
        "</string>\n"
        "\t\t\t\t<key>Data</key>\n\t\t\t\t<data>\n\t\t\t\t" +
        Base64(tables[i].mish) +
        "\n\t\t\t\t</data>\n"
        "\t\t\t\t<key>ID</key>\n\t\t\t\t<string>" +
        std::to_string(part.id) +
        "</string>\n"
        "\t\t\t\t<key>Name</key>\n\t\t\t\t<string>" +
        part.name +
        "</string>\n"
        "\t\t\t</dict>\n";
  }
  return xml + "\t\t</array>\n\t</dict>\n</dict>\n</plist>\n";
}

// A classic resource fork holding one 'blkx' resource per table (Inside
// Macintosh, "Format of a Resource Fork"): a 16-byte header, the data at
// 256, then the map: a copy of the header, handle, file reference and
// attributes, the type and name list offsets, a one-entry type list, the
// reference list and the Pascal-string names.
std::vector<std::byte> ResourceFork(std::span<const TestPartition> partitions,
                                    std::span<const Table> tables) {
  std::vector<std::byte> data;
  std::vector<std::byte> refs;
  std::vector<std::byte> names;
  for (size_t i = 0; i < tables.size(); ++i) {
    Append(&refs, static_cast<uint16_t>(partitions[i].id), 2);
    Append(&refs, names.size(), 2);
    Append(&refs, (uint32_t{0x50} << 24) | static_cast<uint32_t>(data.size()), 4);
    Append(&refs, 0, 4);  // handle
    const std::string& name = partitions[i].name;
    names.push_back(static_cast<std::byte>(std::min<size_t>(name.size(), 255)));
    for (size_t k = 0; k < std::min<size_t>(name.size(), 255); ++k) {
      names.push_back(static_cast<std::byte>(name[k]));
    }
    Append(&data, tables[i].mish.size(), 4);
    data.insert(data.end(), tables[i].mish.begin(), tables[i].mish.end());
  }
  constexpr size_t kTypeList = 28;
  std::vector<std::byte> map(kTypeList);
  Put(&map, 24, kTypeList, 2);
  Put(&map, 26, kTypeList + 2 + 8 + refs.size(), 2);
  Append(&map, 0, 2);  // one type
  Append(&map, kBlkxType, 4);
  Append(&map, tables.size() - 1, 2);
  Append(&map, 2 + 8, 2);  // its references, from the type list
  map.insert(map.end(), refs.begin(), refs.end());
  map.insert(map.end(), names.begin(), names.end());
  std::vector<std::byte> fork(256);
  Put(&fork, 0, 256, 4);
  Put(&fork, 4, 256 + data.size(), 4);
  Put(&fork, 8, data.size(), 4);
  Put(&fork, 12, map.size(), 4);
  std::copy_n(fork.begin(), 16, map.begin());
  fork.insert(fork.end(), data.begin(), data.end());
  fork.insert(fork.end(), map.begin(), map.end());
  return fork;
}

// The 512-byte koly trailer. A CRC is written when `crc` has a value.
std::vector<std::byte> Koly(uint64_t data_fork_bytes, std::optional<uint32_t> data_crc,
                            uint64_t rsrc_offset, uint64_t rsrc_bytes, uint64_t xml_offset,
                            uint64_t xml_bytes, std::optional<uint32_t> master_crc,
                            uint64_t sectors) {
  std::vector<std::byte> k(kKolySize);
  Put(&k, 0, 0x6b6f6c79, 4);  // 'koly'
  Put(&k, 4, 4, 4);           // version
  Put(&k, 8, kKolySize, 4);
  Put(&k, 12, 1, 4);  // flags: flattened
  Put(&k, 32, data_fork_bytes, 8);
  Put(&k, 40, rsrc_offset, 8);
  Put(&k, 48, rsrc_bytes, 8);
  Put(&k, 56, 1, 4);  // segment number
  Put(&k, 60, 1, 4);  // segment count
  if (data_crc) {
    Put(&k, 80, kCrc32Type, 4);
    Put(&k, 84, 32, 4);
    Put(&k, 88, *data_crc, 4);
  }
  Put(&k, 216, xml_offset, 8);
  Put(&k, 224, xml_bytes, 8);
  if (master_crc) {
    Put(&k, 352, kCrc32Type, 4);
    Put(&k, 356, 32, 4);
    Put(&k, 360, *master_crc, 4);
  }
  Put(&k, 488, 1, 4);  // image variant: device
  Put(&k, 492, sectors, 8);
  return k;
}

}  // namespace

std::vector<std::byte> BuildTestDmg(std::span<const TestChunk> chunks,
                                    const TestDmgOptions& options) {
  TestPartition part;
  part.name = options.partition_name;
  part.chunks.assign(chunks.begin(), chunks.end());
  return BuildTestDmgPartitions(std::span(&part, 1), options);
}

std::vector<std::byte> BuildTestDmgPartitions(std::span<const TestPartition> partitions,
                                              const TestDmgOptions& options) {
  std::vector<std::byte> file;
  std::vector<Table> tables;
  uint64_t sector = 0;
  // The master checksum is a CRC-32 over the blkx checksum values, each
  // big-endian, in table order (0 for a table without one).
  std::vector<std::byte> blkx_crcs;
  for (const TestPartition& part : partitions) {
    tables.push_back(MakeTable(part, sector, options.crc32_checksums, &file));
    Append(&blkx_crcs, tables.back().crc.value_or(0), 4);
    sector += tables.back().sectors;
  }
  const uint64_t data_fork_bytes = file.size();
  std::optional<uint32_t> data_crc;
  std::optional<uint32_t> master_crc;
  if (options.crc32_checksums) {
    data_crc = ZlibCrc(file);
    master_crc = ZlibCrc(blkx_crcs);
  }
  std::vector<std::byte> trailer;
  if (options.resource_fork) {
    const std::vector<std::byte> fork = ResourceFork(partitions, tables);
    trailer = Koly(data_fork_bytes, data_crc, file.size(), fork.size(), 0, 0, master_crc, sector);
    file.insert(file.end(), fork.begin(), fork.end());
  } else {
    const std::string xml = Plist(partitions, tables);
    trailer = Koly(data_fork_bytes, data_crc, 0, 0, file.size(), xml.size(), master_crc, sector);
    const auto* x = reinterpret_cast<const std::byte*>(xml.data());
    file.insert(file.end(), x, x + xml.size());
  }
  file.insert(file.end(), trailer.begin(), trailer.end());
  return file;
}

Result<std::vector<TestChunk>> CompressIntoChunks(ChunkType type, std::span<const std::byte> data,
                                                  uint64_t chunk_sectors, bool allow_raw) {
  std::vector<TestChunk> chunks;
  const size_t step = static_cast<size_t>(chunk_sectors * kSectorBytes);
  for (size_t at = 0; at < data.size(); at += step) {
    const auto piece = data.subspan(at, std::min(step, data.size() - at));
    TestChunk tc;
    tc.sector_count = (piece.size() + kSectorBytes - 1) / kSectorBytes;
    IMGFS_ASSIGN_OR_RETURN(tc.payload, CompressChunk(type, -1, piece));
    tc.type = type;
    tc.decoded.assign(piece.begin(), piece.end());
    tc.decoded.resize(static_cast<size_t>(tc.sector_count * kSectorBytes));
    if (allow_raw && tc.payload.size() >= piece.size()) {
      tc.type = ChunkType::kRaw;
      tc.payload.assign(piece.begin(), piece.end());
    }
    chunks.push_back(std::move(tc));
  }
  return chunks;
}

}  // namespace imgfs::dmg::testing
