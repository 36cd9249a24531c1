// SPDX-License-Identifier: MIT
// Test-side UDIF writer; see test_dmg_builder.h.
#include "tests/formats/dmg/test_dmg_builder.h"

#include <algorithm>
#include <string>

#include "core/util/crc32.h"
#include "formats/dmg/codec.h"
#include "formats/dmg/rsrc_fork.h"

namespace imgfs::dmg::testing {
namespace {

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

UdifChecksum Crc(uint32_t value, bool enabled) {
  UdifChecksum c;
  if (enabled) {
    c.type = kChecksumCrc32;
    c.bit_count = 32;
    c.data[0] = value;
  }
  return c;
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
  std::vector<BlkxTable> tables;
  uint64_t sector = 0;
  for (const TestPartition& part : partitions) {
    BlkxTable table;
    table.first_sector = sector;
    uint64_t in_table = 0;
    uint64_t max_sectors = 0;
    // The decoded partition, for the blkx CRC, which leaves out ignore
    // chunks as hdiutil does (formats/dmg/check.cc).
    std::vector<std::byte> raw;
    for (const TestChunk& tc : part.chunks) {
      Chunk c;
      c.type = tc.type;
      c.sector_number = in_table;
      c.sector_count = tc.sector_count;
      c.compressed_offset = file.size();
      c.compressed_length = tc.payload.size();
      table.chunks.push_back(c);
      file.insert(file.end(), tc.payload.begin(), tc.payload.end());
      const size_t out_bytes =
          tc.type == ChunkType::kIgnore ? 0 : static_cast<size_t>(tc.sector_count * kSectorBytes);
      const size_t at = raw.size();
      raw.resize(at + out_bytes);
      if (tc.type == ChunkType::kRaw) {
        std::copy_n(tc.payload.begin(), std::min(out_bytes, tc.payload.size()), raw.begin() + at);
      } else if (CanDecompress(tc.type)) {
        (void)DecompressChunk(tc.type, tc.payload, std::span(raw).subspan(at));
      }
      in_table += tc.sector_count;
      max_sectors = std::max(max_sectors, tc.sector_count);
    }
    Chunk end;
    end.type = ChunkType::kTerminator;
    end.sector_number = in_table;
    end.compressed_offset = file.size();
    table.chunks.push_back(end);
    table.sector_count = in_table;
    table.buffers_needed = static_cast<uint32_t>(max_sectors + 8);
    table.checksum = Crc(Crc32(raw), options.crc32_checksums);
    tables.push_back(std::move(table));
    sector += in_table;
  }
  const uint64_t data_fork_bytes = file.size();

  std::string xml;
  std::vector<Resource> resources;
  if (!options.resource_fork) {
    xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
        "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
        "<plist version=\"1.0\">\n<dict>\n\t<key>resource-fork</key>\n\t<dict>\n"
        "\t\t<key>blkx</key>\n\t\t<array>\n";
  }
  for (size_t i = 0; i < partitions.size(); ++i) {
    const std::vector<std::byte> mish = EncodeBlkx(tables[i]);
    const TestPartition& part = partitions[i];
    if (options.resource_fork) {
      resources.push_back(
          Resource{kResourceTypeBlkx, static_cast<int16_t>(part.id), 0x50, part.name, mish});
      continue;
    }
    xml +=
        "\t\t\t<dict>\n"
        "\t\t\t\t<key>Attributes</key>\n\t\t\t\t<string>0x0050</string>\n"
        "\t\t\t\t<key>CFName</key>\n\t\t\t\t<string>" +
        part.name +
        "</string>\n"
        "\t\t\t\t<key>Data</key>\n\t\t\t\t<data>\n\t\t\t\t" +
        Base64(mish) +
        "\n\t\t\t\t</data>\n"
        "\t\t\t\t<key>ID</key>\n\t\t\t\t<string>" +
        std::to_string(part.id) +
        "</string>\n"
        "\t\t\t\t<key>Name</key>\n\t\t\t\t<string>" +
        part.name +
        "</string>\n"
        "\t\t\t</dict>\n";
  }
  if (!options.resource_fork) {
    xml += "\t\t</array>\n\t</dict>\n</dict>\n</plist>\n";
  }

  Koly koly;
  koly.data_fork_offset = 0;
  koly.data_fork_length = data_fork_bytes;
  koly.data_checksum = Crc(Crc32(std::span(file)), options.crc32_checksums);
  koly.sector_count = sector;
  // The master checksum is a CRC-32 over the blkx checksums' values,
  // each big-endian, in table order.
  std::vector<std::byte> be;
  for (const BlkxTable& t : tables) {
    const uint32_t v = t.checksum.data[0];
    for (int i = 0; i < 4; ++i) {
      be.push_back(static_cast<std::byte>(v >> (24 - 8 * i)));
    }
  }
  koly.master_checksum = Crc(Crc32(be), options.crc32_checksums);
  if (options.resource_fork) {
    const std::vector<std::byte> fork = EncodeResourceFork(resources);
    koly.rsrc_fork_offset = file.size();
    koly.rsrc_fork_length = fork.size();
    file.insert(file.end(), fork.begin(), fork.end());
  } else {
    koly.xml_offset = file.size();
    koly.xml_length = xml.size();
    const auto* x = reinterpret_cast<const std::byte*>(xml.data());
    file.insert(file.end(), x, x + xml.size());
  }
  const auto trailer = EncodeKoly(koly);
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
    if (allow_raw && tc.payload.size() >= piece.size()) {
      tc.type = ChunkType::kRaw;
      tc.payload.assign(piece.begin(), piece.end());
    }
    chunks.push_back(std::move(tc));
  }
  return chunks;
}

}  // namespace imgfs::dmg::testing
