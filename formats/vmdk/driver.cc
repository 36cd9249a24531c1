// SPDX-License-Identifier: MIT
// Probing and opening vmdk disks (see driver.h).
#include "formats/vmdk/driver.h"

#include <cctype>
#include <cstring>
#include <fstream>
#include <string>

#include "core/util/checked.h"
#include "core/util/endian.h"
#include "core/util/sector.h"
#include "formats/vmdk/describe.h"
#include "formats/vmdk/descriptor.h"
#include "formats/vmdk/device.h"
#include "formats/vmdk/header.h"
#include "formats/vmdk/sesparse.h"

namespace imgfs::vmdk {
namespace {

// createTypes that name raw host disks or partitions rather than files.
constexpr std::string_view kRawDeviceTypes[] = {"fullDevice", "partitionedDevice", "vmfsRDM",
                                                "vmfsRaw", "vmfsPassthroughRawDeviceMap"};

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// KDMV (hosted sparse), COWD (ESX vmfsSparse) or seSparse at the start.
bool IsSparseMagic(std::span<const std::byte> head) {
  return (head.size() >= 4 &&
          (LoadLE32(head.data()) == kSparseMagic || LoadLE32(head.data()) == kCowdMagic)) ||
         IsSeSparseMagic(head);
}

int Probe(const ProbeInput& in) {
  if (IsSparseMagic(in.head)) {
    return 100;
  }
  std::string_view text(reinterpret_cast<const char*>(in.head.data()), in.head.size());
  return LooksLikeDescriptor(text) ? 100 : 0;
}

Result<std::string> ReadText(const File& file, uint64_t offset, uint64_t bytes, const char* what) {
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file.Size());
  if (!RangeWithin(offset, bytes, file_size)) {
    return CorruptError("vmdk: " + std::string(what) + " at " + std::to_string(offset) +
                        " extends past the end of the file");
  }
  if (bytes > kMaxDescriptorBytes) {
    return UnsupportedError("vmdk: " + std::string(what) + " of " + std::to_string(bytes) +
                            " bytes is larger than the 1 MiB cap");
  }
  std::string text(static_cast<size_t>(bytes), '\0');
  IMGFS_RETURN_IF_ERROR(file.ReadExactAt(offset, std::as_writable_bytes(std::span(text)), what));
  return text;
}

// Whether `text` holds a descriptor: qemu-img leaves an empty (all NUL)
// descriptor area in each extent of a split disk.
bool HasDescriptorText(std::string_view text) {
  return text.find_first_not_of(std::string_view("\0 \t\r\n", 5)) != std::string_view::npos;
}

// A monolithic sparse file: one extent, itself; its embedded descriptor
// (if any) gives the CID, parent and createType.
Status OpenSparseFile(std::unique_ptr<File> file, const OpenContext& ctx, Image* image) {
  Extent e;
  e.line = ExtentLine{Access::kReadWrite, 0, ExtentType::kSparse, BaseName(ctx.path), 0};
  e.path = ctx.path;
  e.file = std::shared_ptr<const File>(std::move(file));
  e.bytes = kMaxCapacitySectors * kSectorBytes;  // bounds the directory until the header is known
  IMGFS_RETURN_IF_ERROR(LoadSparseExtent(&e));
  const SparseHeader& h = e.header;
  if (h.cowd) {
    e.line.type = ExtentType::kVmfsSparse;
  } else if (h.sesparse) {
    e.line.type = ExtentType::kSeSparse;
  }
  e.line.sectors = h.capacity_sectors;
  e.bytes = h.capacity_sectors * kSectorBytes;
  std::string text;
  if (h.descriptor_sector != 0 && h.descriptor_sectors != 0) {
    IMGFS_ASSIGN_OR_RETURN(text,
                           ReadText(*e.file, h.descriptor_sector * kSectorBytes,
                                    h.descriptor_sectors * kSectorBytes, "embedded descriptor"));
  }
  if (HasDescriptorText(text)) {
    IMGFS_ASSIGN_OR_RETURN(image->descriptor, ParseDescriptor(text));
    image->embedded_descriptor = true;
  } else {
    image->descriptor.create_type = h.cowd           ? "vmfsSparse"
                                    : h.sesparse     ? "seSparse"
                                    : h.compressed() ? "streamOptimized"
                                                     : "monolithicSparse";
  }
  if (e.bytes > 0) {
    image->extents.push_back(std::move(e));
  }
  return Status::Ok();
}

Status OpenExtents(const OpenContext& ctx, Image* image) {
  uint64_t first_byte = 0;
  for (const ExtentLine& line : image->descriptor.extents) {
    Extent e;
    e.line = line;
    e.first_byte = first_byte;
    e.bytes = line.sectors * kSectorBytes;  // ParseDescriptor bounds the sum
    first_byte += e.bytes;
    if (line.type != ExtentType::kZero) {  // access is informational, as for libvmdk
      e.path = ctx.resolve ? ctx.resolve(line.filename) : line.filename;
      if (!ctx.open_aux_file) {
        return UnsupportedError("vmdk: extent '" + line.filename + "' cannot be opened here");
      }
      auto file = ctx.open_aux_file(line.filename);
      if (!file.ok()) {
        return file.status().Annotate("vmdk: cannot open extent '" + line.filename + "'");
      }
      e.file = std::shared_ptr<const File>(std::move(*file));
      if (e.sparse()) {
        IMGFS_RETURN_IF_ERROR(LoadSparseExtent(&e));
      } else {
        auto at = CheckedMul(line.offset_sectors, kSectorBytes);
        if (!at || *at > (uint64_t{1} << 62)) {
          return CorruptError("vmdk: extent '" + line.filename + "' offset is absurd");
        }
        e.flat_offset_bytes = *at;
      }
    }
    image->extents.push_back(std::move(e));
  }
  return Status::Ok();
}

// "C:\VMs\base.vmdk" -> "base.vmdk"; "" when `hint` is not a Windows path.
std::string WindowsBaseName(const std::string& hint) {
  const bool drive =
      hint.size() > 2 && hint[1] == ':' && std::isalpha(static_cast<unsigned char>(hint[0]));
  if (!drive && hint.find('\\') == std::string::npos) {
    return "";
  }
  const size_t sep = hint.find_last_of("\\/");
  return sep == std::string::npos ? "" : hint.substr(sep + 1);
}

Status OpenParent(const OpenContext& ctx, Image* image) {
  const Descriptor& d = image->descriptor;
  if (d.parent_hint.empty()) {
    return Status::Ok();
  }
  const std::string win = WindowsBaseName(d.parent_hint);
  image->full_backing_filename = ctx.resolve ? ctx.resolve(d.parent_hint) : d.parent_hint;
  if (ctx.options != nullptr && !ctx.options->follow_backing) {
    return Status::Ok();
  }
  if (!ctx.open_backing) {
    return UnsupportedError("vmdk: parent '" + d.parent_hint + "' cannot be opened here");
  }
  auto parent = ctx.open_backing(d.parent_hint, "");
  if (!parent.ok() && !win.empty() && parent.status().code() == StatusCode::kNotFound) {
    // A Windows absolute hint: look next to the image too.
    image->full_backing_filename = ctx.resolve ? ctx.resolve(win) : win;
    parent = ctx.open_backing(win, "");
  }
  if (!parent.ok()) {
    return parent.status();
  }
  const ImageInfo info = (*parent)->Describe();
  if (info.format == "vmdk" && info.format_specific.contains("data")) {
    image->parent_cid_seen = info.format_specific["data"].value("cid", uint32_t{0});
  }
  image->backing = std::shared_ptr<const BlockDevice>(std::move(*parent));
  return Status::Ok();
}

Result<std::unique_ptr<BlockDevice>> Open(std::unique_ptr<File> file, const OpenContext& ctx) {
  auto image = std::make_shared<Image>();
  image->filename = ctx.path;
  image->cache = ctx.cache;
  image->pool = ctx.options != nullptr ? ctx.options->pool : nullptr;
  image->read_around = ctx.options != nullptr ? ctx.options->read_around : ReadAroundMode::kAuto;
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file->Size());
  std::byte magic[8] = {};
  const auto magic_bytes = static_cast<size_t>(std::min<uint64_t>(file_size, sizeof magic));
  IMGFS_RETURN_IF_ERROR(file->ReadExactAt(0, std::span(magic, magic_bytes), "vmdk: magic"));
  if (IsSparseMagic(std::span(magic, magic_bytes))) {
    IMGFS_RETURN_IF_ERROR(OpenSparseFile(std::move(file), ctx, image.get()));
  } else {
    IMGFS_ASSIGN_OR_RETURN(std::string text, ReadText(*file, 0, file_size, "descriptor file"));
    if (!LooksLikeDescriptor(text)) {
      return CorruptError("vmdk: " + ctx.path + " is neither a sparse extent nor a descriptor");
    }
    IMGFS_ASSIGN_OR_RETURN(image->descriptor, ParseDescriptor(text));
    for (std::string_view raw : kRawDeviceTypes) {
      if (image->descriptor.create_type == raw) {
        return UnsupportedError("vmdk: createType '" + std::string(raw) +
                                "' names raw host devices, which imgfs does not open");
      }
    }
    IMGFS_RETURN_IF_ERROR(OpenExtents(ctx, image.get()));
  }
  if (image->extents.empty()) {
    return CorruptError("vmdk: " + ctx.path + " describes a disk of no extents");
  }
  IMGFS_RETURN_IF_ERROR(OpenParent(ctx, image.get()));
  return NewDevice(std::move(image));
}

// A sparse extent of a descriptor disk (NAME-s001.vmdk, NAME-delta.vmdk,
// ...): read through NAME.vmdk when that descriptor file lies next to it
// and names it.
std::optional<std::string> ExtentOwner(const std::string& path, const ProbeInput& in) {
  if (!IsSparseMagic(in.head)) {
    return std::nullopt;
  }
  const std::string base = BaseName(path);
  const size_t dash = base.rfind('-');
  if (dash == std::string::npos || dash == 0) {
    return std::nullopt;
  }
  const std::string owner = base.substr(0, dash) + ".vmdk";
  std::ifstream f(path.substr(0, path.size() - base.size()) + owner, std::ios::binary);
  std::string text(kProbeHeadBytes * 16, '\0');
  f.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(f.gcount()));
  if (!LooksLikeDescriptor(text) || text.find('"' + base + '"') == std::string::npos) {
    return std::nullopt;
  }
  return owner;
}

}  // namespace

FormatDriver Driver() {
  FormatDriver d{"vmdk",
                 "VMware virtual disk (sparse, flat, split, streamOptimized, ESX COWD and "
                 "seSparse), read-only",
                 &Probe, &Open};
  d.companion_of = &ExtentOwner;
  return d;
}

}  // namespace imgfs::vmdk
