// SPDX-License-Identifier: MIT
// info and check for vmdk disks (see describe.h).
#include "formats/vmdk/describe.h"

#include <algorithm>
#include <cstdio>

#include "core/blockmap/table_loader.h"
#include "core/util/checked.h"
#include "core/util/hex.h"
#include "core/util/sector.h"
#include "core/util/utf8.h"
#include "formats/vmdk/sesparse.h"

namespace imgfs::vmdk {
namespace {

std::string CidText(uint32_t cid) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", cid);
  return buf;
}

nlohmann::json ExtentJson(const Image& image, const Extent& e) {
  nlohmann::json j;
  const bool sparse = e.sparse();
  if (sparse && e.header.compressed()) {
    j["compressed"] = true;
  }
  j["virtual-size"] = e.bytes;
  j["filename"] = Utf8Safe(e.path);
  if (sparse) {
    j["cluster-size"] = e.header.grain_bytes();
  }
  // qemu-img leaves the type empty for the extent of a monolithic image.
  j["format"] = image.embedded_descriptor ? "" : std::string(ExtentTypeName(e.line.type));
  if (e.line.access != Access::kReadWrite) {
    j["access"] = std::string(AccessName(e.line.access));
  }
  return j;
}

// Walks one sparse extent's grain tables.
Status CheckSparse(const Extent& e, CheckReport* report) {
  const SparseHeader& h = e.header;
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, e.file->Size());
  const std::string name = "extent '" + Utf8Safe(e.line.filename) + "'";
  uint64_t grains = 0;
  uint64_t bad = 0;  // findings reported, capped at 16
  // Each table is walked once, in file order; one listed twice is
  // reported, so a hostile directory cannot make the walk quadratic.
  std::vector<uint32_t> tables = e.gd;
  std::sort(tables.begin(), tables.end());
  for (size_t i = 1; i < tables.size(); ++i) {
    if (tables[i] != 0 && tables[i] == tables[i - 1] && bad++ < 16) {
      report->errors.push_back(name + ": grain table at sector " + std::to_string(tables[i]) +
                               " is listed twice in the grain directory");
    }
  }
  tables.erase(std::unique(tables.begin(), tables.end()), tables.end());
  std::erase(tables, 0u);
  for (const uint32_t table : tables) {
    auto gt = ReadTable<uint32_t>(
        *e.file, uint64_t{table} * kSectorBytes, h.gtes_per_gt,
        TableSpec{"vmdk", "grain table", ByteOrder::kLittle, uint64_t{kMaxGtesPerGt} * 4});
    if (!gt.ok()) {
      report->errors.push_back(name + ": " + gt.status().message());
      continue;
    }
    for (size_t j = 0; j < gt->size(); ++j) {
      const uint32_t entry = (*gt)[j];
      if (entry == 0 || (entry == 1 && h.zero_grain())) {
        continue;
      }
      ++grains;
      const uint64_t at = uint64_t{entry} * kSectorBytes;
      const uint64_t need = h.compressed() ? kGrainMarkerBytes : h.grain_bytes();
      if (!RangeWithin(at, need, file_size) && bad++ < 16) {
        report->errors.push_back(name + ": grain table at sector " + std::to_string(table) +
                                 " entry " + std::to_string(j) + " points to " + Hex(at) +
                                 ", past the end of the file (size " + Hex(file_size) + ")");
      }
    }
  }
  report->checked.push_back(name + ": " + std::to_string(tables.size()) + " grain tables, " +
                            std::to_string(grains) + " grains");
  if (h.unclean_shutdown) {
    report->warnings.push_back(name + ": header marks an unclean shutdown");
  }
  return Status::Ok();
}

// Walks one seSparse extent's grain tables: directory entries that name no
// table, entries of invalid types and grains past the end of the file.
Status CheckSeSparse(const Extent& e, CheckReport* report) {
  const SparseHeader& h = e.header;
  const std::string name = "extent '" + Utf8Safe(e.line.filename) + "'";
  uint64_t bad = 0;  // findings reported, capped at 16
  auto error = [&](const std::string& what) {
    if (bad++ < 16) {
      report->errors.push_back(name + ": " + what);
    }
  };
  std::vector<uint64_t> tables;
  for (const uint64_t entry : e.se_gd) {
    auto gt = DecodeSeSparseGde(entry);
    if (!gt.ok()) {
      error(gt.status().message());
    } else if (*gt) {
      tables.push_back(**gt);
    }
  }
  // Each table once, as for CheckSparse (a shared table is not an error
  // here: nothing says ESXi never shares one).
  std::sort(tables.begin(), tables.end());
  tables.erase(std::unique(tables.begin(), tables.end()), tables.end());
  uint64_t grains = 0;
  for (const uint64_t table : tables) {
    const uint64_t at = (h.gts_sector + table * kSeSparseGtSectors) * kSectorBytes;
    auto gt = ReadTable<uint64_t>(
        *e.file, at, h.gtes_per_gt,
        TableSpec{"vmdk", "seSparse grain table", ByteOrder::kLittle, kSeSparseGtesPerGt * 8});
    if (!gt.ok()) {
      error(gt.status().message());
      continue;
    }
    for (size_t j = 0; j < gt->size(); ++j) {
      auto g = DecodeSeSparseGte((*gt)[j]);
      if (!g.ok()) {
        error("grain table " + std::to_string(table) + ": " + g.status().message());
        continue;
      }
      if (g->kind != SeGrainKind::kAllocated) {
        continue;
      }
      ++grains;
      const auto rel = CheckedMul(g->cluster, h.grain_bytes());
      const auto host = rel ? CheckedAdd(h.grains_sector * kSectorBytes, *rel) : std::nullopt;
      if (!host || !RangeWithin(*host, h.grain_bytes(), e.file_bytes)) {
        error("grain table " + std::to_string(table) + " entry " + std::to_string(j) +
              " names cluster " + std::to_string(g->cluster) + ", past the end of the file (size " +
              Hex(e.file_bytes) + ")");
      }
    }
  }
  report->checked.push_back(name + ": " + std::to_string(tables.size()) +
                            " seSparse grain tables, " + std::to_string(grains) + " grains");
  return Status::Ok();
}

}  // namespace

std::string CidMismatch(const Image& image) {
  if (!image.parent_cid_seen || *image.parent_cid_seen == image.descriptor.parent_cid) {
    return "";
  }
  return "parentCID " + CidText(image.descriptor.parent_cid) + " does not match the parent's CID " +
         CidText(*image.parent_cid_seen) + " (the parent changed after this delta was made)";
}

ImageInfo DescribeImage(const Image& image) {
  ImageInfo info;
  info.format = "vmdk";
  info.filename = image.filename;
  info.virtual_size = image.size_bytes();
  for (const Extent& e : image.extents) {
    if (e.file != nullptr) {
      auto allocated = e.file->AllocatedBytes();
      info.actual_size += allocated.ok() ? *allocated : 0;
    }
  }
  if (!image.extents.empty() && image.extents[0].sparse()) {
    info.cluster_size = image.extents[0].header.grain_bytes();
  }
  // Descriptor strings may be in any encoding (or garbage); JSON needs UTF-8.
  info.backing_filename = Utf8Safe(image.descriptor.parent_hint);
  if (!info.backing_filename.empty()) {
    info.full_backing_filename = Utf8Safe(image.full_backing_filename);
  }
  nlohmann::json data;
  data["cid"] = image.descriptor.cid;
  data["parent-cid"] = image.descriptor.parent_cid;
  data["create-type"] = Utf8Safe(image.descriptor.create_type);
  nlohmann::json extents = nlohmann::json::array();
  for (const Extent& e : image.extents) {
    extents.push_back(ExtentJson(image, e));
  }
  data["extents"] = extents;
  if (std::string hw = image.descriptor.Ddb("ddb.virtualHWVersion"); !hw.empty()) {
    data["hwversion"] = Utf8Safe(hw);
  }
  info.format_specific = nlohmann::json{{"type", "vmdk"}, {"data", data}};
  for (const Extent& e : image.extents) {
    if (e.file != nullptr && e.header.unclean_shutdown) {
      info.dirty = true;
    }
  }
  if (std::string m = CidMismatch(image); !m.empty()) {
    info.notes.push_back(m);
  }
  return info;
}

Result<CheckReport> CheckImage(const Image& image) {
  CheckReport report;
  if (std::string m = CidMismatch(image); !m.empty()) {
    report.errors.push_back(m);
  } else if (image.parent_cid_seen) {
    report.checked.push_back("parentCID matches the parent's CID");
  }
  for (const Extent& e : image.extents) {
    if (e.sparse()) {
      IMGFS_RETURN_IF_ERROR(e.header.sesparse ? CheckSeSparse(e, &report)
                                              : CheckSparse(e, &report));
    }
  }
  return report;
}

}  // namespace imgfs::vmdk
