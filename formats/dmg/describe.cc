// SPDX-License-Identifier: MIT
#include "formats/dmg/describe.h"

#include <set>
#include <string>

#include "core/util/hex.h"
#include "core/util/utf8.h"
#include "formats/dmg/codec.h"
#include "formats/dmg/device.h"

namespace imgfs::dmg {
namespace {

// The hdiutil format whose chunks use `t`, or null for uncompressed kinds.
const char* CompressedVariant(ChunkType t) {
  switch (t) {
    case ChunkType::kAdc:
      return "UDCO";
    case ChunkType::kZlib:
      return "UDZO";
    case ChunkType::kBzip2:
      return "UDBZ";
    case ChunkType::kLzfse:
      return "ULFO";
    case ChunkType::kLzma:
      return "ULMO";
    default:
      return nullptr;
  }
}

std::string ChecksumText(const UdifChecksum& c) {
  switch (c.type) {
    case kChecksumNone:
      return "none";
    case kChecksumCrc32:
      return "crc32 " + Hex(c.data[0]);
    default:
      return ChecksumTypeName(c.type) + " (not verified by imgfs)";
  }
}

}  // namespace

nlohmann::json DescribeUdif(const UdifImage& image) {
  const Koly& k = image.koly;
  nlohmann::json data;
  data["variant"] = VariantName(image);
  data["image-variant"] = k.image_variant == kVariantDevice      ? "device"
                          : k.image_variant == kVariantPartition ? "partition"
                                                                 : std::to_string(k.image_variant);
  data["sector-count"] = k.sector_count;
  data["resource"] = image.from_resource_fork ? "resource fork" : "xml plist";
  data["data-checksum"] = ChecksumText(k.data_checksum);
  data["master-checksum"] = ChecksumText(k.master_checksum);
  if (!image.segments.empty()) {
    // data-checksum above is segment 1's; each segment's koly checks its
    // own data fork.
    nlohmann::json files = nlohmann::json::array();
    nlohmann::json checksums = nlohmann::json::array();
    for (const SegmentFile& s : image.segments) {
      files.push_back(Utf8Safe(s.name));
      checksums.push_back(ChecksumText(s.koly.data_checksum));
    }
    data["segments"] = nlohmann::json{
        {"count", image.segments.size()}, {"files", files}, {"data-checksums", checksums}};
  }
  nlohmann::json blkx = nlohmann::json::array();
  for (const BlkxEntry& e : image.entries) {
    std::set<std::string> kinds;
    for (const Chunk& c : e.table.chunks) {
      if (c.type != ChunkType::kComment && c.type != ChunkType::kTerminator) {
        kinds.insert(std::string(ChunkTypeName(c.type)));
      }
    }
    nlohmann::json j;
    j["id"] = e.id;
    j["name"] = Utf8Safe(e.name);
    j["first-sector"] = e.table.first_sector;
    j["sector-count"] = e.table.sector_count;
    j["chunks"] = e.table.chunks.size();
    std::string joined;  // one string, so `info` prints it on one line
    for (const std::string& kind : kinds) {
      joined += (joined.empty() ? "" : ", ") + kind;
    }
    j["compression"] = joined;
    j["checksum"] = ChecksumText(e.table.checksum);
    blkx.push_back(std::move(j));
  }
  data["blkx"] = std::move(blkx);
  return nlohmann::json{{"type", "dmg"}, {"data", data}};
}

std::string VariantName(const UdifImage& image) {
  std::set<std::string> variants;
  for (const BlkxEntry& e : image.entries) {
    for (const Chunk& c : e.table.chunks) {
      if (const char* v = CompressedVariant(c.type)) {
        variants.insert(v);
      }
    }
  }
  if (variants.empty()) {
    return "UDRO";
  }
  return variants.size() == 1 ? *variants.begin() : "mixed";
}

}  // namespace imgfs::dmg
