// SPDX-License-Identifier: MIT
// The vpc driver: probing by the footer (at the end of every VHD, copied to
// offset 0 of growable ones) and opening fixed, dynamic and differencing
// disks with their parents (Virtual Hard Disk Image Format Specification 1.0).
#include "formats/vpc/driver.h"

#include <cstring>
#include <utility>

#include "core/blockmap/table_loader.h"
#include "core/util/checked.h"
#include "core/util/hex.h"
#include "core/util/sector.h"
#include "formats/vpc/device.h"

namespace imgfs::vpc {
namespace {

// 32 Mi entries: a 64 TiB disk in QEMU's 2 MiB blocks, 16 GiB in 512-byte
// ones; no real VHD (at most 2040 GiB) comes near it in the usual sizes.
constexpr TableSpec kBatSpec{"vpc", "BAT", ByteOrder::kBig, uint64_t{128} << 20};

bool HasCookie(std::span<const std::byte> bytes) {
  return bytes.size() >= 8 && std::memcmp(bytes.data(), "conectix", 8) == 0;
}

bool KnownType(uint32_t type) {
  return type >= static_cast<uint32_t>(DiskType::kFixed) &&
         type <= static_cast<uint32_t>(DiskType::kDifferencing);
}

int Probe(const ProbeInput& in) {
  if (HasCookie(in.head)) {
    return 100;
  }
  // A fixed disk has only the footer at its end. The tail could also be the
  // last sector of a disk inside another container, so a head magic wins.
  if (in.tail.size() == kFooterBytes && HasCookie(in.tail)) {
    auto f = DecodeFooter(in.tail);
    return f.ok() && KnownType(f->disk_type) ? 90 : 0;
  }
  return 0;
}

// Picks the footer: the one at the end when it is intact, else the copy at
// offset 0 of a growable disk; a footer with a wrong checksum only when
// neither is intact (QEMU reads those with a warning).
Status ReadFooter(Image* im) {
  std::vector<std::byte> tail(kFooterBytes);
  std::vector<std::byte> head(kFooterBytes);
  IMGFS_RETURN_IF_ERROR(im->file->ReadExactAt(im->file_size - kFooterBytes, tail, "vpc: footer"));
  IMGFS_RETURN_IF_ERROR(im->file->ReadExactAt(0, head, "vpc: footer copy"));
  auto t = DecodeFooter(tail);
  auto h = DecodeFooter(head);
  const bool head_usable = im->file_size >= 2 * kFooterBytes && h.ok() &&
                           (h->disk_type == static_cast<uint32_t>(DiskType::kDynamic) ||
                            h->disk_type == static_cast<uint32_t>(DiskType::kDifferencing));
  if (t.ok() && (t->checksum_ok || !head_usable || !h->checksum_ok)) {
    im->footer = *t;
    if (head_usable) {
      im->head_copy = *h;
    }
    return Status::Ok();
  }
  if (!head_usable) {
    return CorruptError("vpc: no footer at the end of the file (" + Hex(im->file_size - 512) +
                        ") nor a copy at offset 0");
  }
  im->footer = *h;
  im->footer_source = FooterSource::kHead;
  im->tail_problem = !t.ok() ? "the footer at " + Hex(im->file_size - 512) + " has no cookie"
                             : "the footer at " + Hex(im->file_size - 512) + " has a bad checksum";
  return Status::Ok();
}

Status ReadDynamic(Image* im) {
  const uint64_t at = im->footer.data_offset;
  if (!RangeWithin(at, kDynamicHeaderBytes, im->file_size)) {
    return CorruptError("vpc: dynamic disk header at " + Hex(at) +
                        " lies past the end of the file (size " + Hex(im->file_size) + ")");
  }
  std::vector<std::byte> bytes(kDynamicHeaderBytes);
  IMGFS_RETURN_IF_ERROR(im->file->ReadExactAt(at, bytes, "vpc: dynamic disk header"));
  IMGFS_ASSIGN_OR_RETURN(im->header, DecodeDynamicHeader(bytes));
  const DynamicHeader& h = im->header;
  const uint64_t needed = DivRoundUp(im->size.bytes, h.block_bytes);
  if (h.max_table_entries < needed) {
    return CorruptError("vpc: BAT of " + std::to_string(h.max_table_entries) +
                        " entries covers less than the virtual size (" + std::to_string(needed) +
                        " blocks of " + std::to_string(h.block_bytes) + " bytes)");
  }
  IMGFS_ASSIGN_OR_RETURN(im->bat, ReadTable<uint32_t>(*im->file, h.table_offset, needed, kBatSpec));
  return Status::Ok();
}

// The unique id `info` shows for a VHD device, or "" for other formats.
std::string VpcUniqueIdOf(const BlockDevice& dev) {
  const nlohmann::json fs = dev.Describe().format_specific;
  if (!fs.is_object() || fs.value("type", "") != "vpc" || !fs.contains("data") ||
      !fs["data"].is_object()) {
    return "";
  }
  return fs["data"].value("unique-id", "");
}

// Opens the parent of a differencing disk: the first candidate name that
// exists, whose unique id (when it is a VHD) must be the one recorded.
Status OpenParent(const OpenContext& ctx, Image* im) {
  IMGFS_ASSIGN_OR_RETURN(im->locators, ReadParentLocators(*im->file, im->file_size, im->header));
  const std::vector<std::string> names = ParentCandidates(im->locators, im->header.parent_name);
  if (names.empty()) {
    return CorruptError("vpc: differencing disk names no parent (no locator, no parent name)");
  }
  im->parent_ref = names.front();
  im->full_parent_path = ctx.resolve ? ctx.resolve(names.front()) : names.front();
  if (ctx.options != nullptr && !ctx.options->follow_backing) {
    return Status::Ok();
  }
  if (!ctx.open_backing) {
    return UnsupportedError("vpc: parent '" + names.front() + "' cannot be opened in this context");
  }
  Status last;
  for (const std::string& name : names) {
    auto parent = ctx.open_backing(name, "");
    if (!parent.ok()) {
      if (parent.status().code() != StatusCode::kNotFound) {
        return parent.status();
      }
      last = parent.status();
      continue;
    }
    const std::string want = UniqueIdText(im->header.parent_unique_id);
    const std::string got = VpcUniqueIdOf(**parent);
    if (!got.empty() && got != want) {
      return CorruptError("vpc: parent '" + name + "' has unique id " + got +
                          ", but this disk's parent is " + want);
    }
    im->parent_ref = name;
    im->full_parent_path = ctx.resolve ? ctx.resolve(name) : name;
    im->parent = std::move(*parent);
    return Status::Ok();
  }
  return last.Annotate("vpc: parent not found (tried " + std::to_string(names.size()) + " names)");
}

Result<std::unique_ptr<BlockDevice>> Open(std::unique_ptr<File> file, const OpenContext& ctx) {
  auto im = std::make_unique<Image>();
  IMGFS_ASSIGN_OR_RETURN(im->file_size, file->Size());
  im->file = std::move(file);
  if (im->file_size < kFooterBytes) {
    return CorruptError("vpc: file of " + std::to_string(im->file_size) +
                        " bytes is shorter than the 512-byte footer");
  }
  IMGFS_RETURN_IF_ERROR(ReadFooter(im.get()));
  if (!KnownType(im->footer.disk_type)) {
    return UnsupportedError("vpc: disk type " + std::to_string(im->footer.disk_type) +
                            " (only 2 fixed, 3 dynamic and 4 differencing are defined)");
  }
  im->type = static_cast<DiskType>(im->footer.disk_type);
  IMGFS_ASSIGN_OR_RETURN(im->size, DecideVirtualSize(im->footer));
  im->cache = ctx.cache;
  im->cache_id = ctx.cache->NewId();
  im->pool = ctx.options != nullptr ? ctx.options->pool : nullptr;
  if (im->type != DiskType::kFixed) {
    IMGFS_RETURN_IF_ERROR(ReadDynamic(im.get()));
  }
  if (im->type == DiskType::kDifferencing) {
    IMGFS_RETURN_IF_ERROR(OpenParent(ctx, im.get()));
  }
  return NewDevice(std::move(im));
}

}  // namespace

FormatDriver Driver() {
  return FormatDriver{"vpc", "Virtual PC / Hyper-V VHD: fixed, dynamic and differencing", &Probe,
                      &Open};
}

}  // namespace imgfs::vpc
