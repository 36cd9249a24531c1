// SPDX-License-Identifier: MIT
// The vdi driver: probing by the signature at 0x40, opening an image and,
// for a differencing image, finding its parent. A VDI names its parent only
// by the parent's image UUID (the "link" UUID at 0x1a8); VirtualBox finds it
// in its media registry, which imgfs does not have, so the parent is looked
// for among the VDI files in the image's directory (OpenContext's
// list_siblings), and opened through open_backing so that the chain rules
// (depth, loops, --confine-backing, --no-backing) apply as for qcow2.
#include "formats/vdi/driver.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "core/util/endian.h"
#include "formats/vdi/device.h"
#include "formats/vdi/header.h"

namespace imgfs::vdi {
namespace {

// Files beside a differencing image whose headers are read while looking
// for its parent: enough for any VM folder, bounded for huge directories.
constexpr size_t kMaxParentCandidates = 4096;

int Probe(const ProbeInput& in) {
  return in.head.size() >= kSignatureOffset + 4 &&
                 LoadLE32(in.head.data() + kSignatureOffset) == kSignature
             ? 100
             : 0;
}

Result<Header> ReadHeader(const File& file) {
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file.Size());
  std::vector<std::byte> head(std::min<uint64_t>(kHeaderReadBytes, file_size));
  IMGFS_RETURN_IF_ERROR(file.ReadExactAt(0, head, "vdi: header"));
  return DecodeHeader(head, file_size);
}

std::string Braced(const Uuid& uuid) { return "{" + FormatUuid(uuid) + "}"; }

// The sibling whose image UUID is the parent's: the one whose modification
// UUID also matches when several share the UUID, else the first by name.
// kNotFound when none does; notes say what was chosen and why.
Result<std::string> FindParent(const OpenContext& ctx, const Header& h,
                               std::vector<std::string>* notes) {
  const std::string want = Braced(h.parent_uuid);
  if (!ctx.list_siblings || !ctx.open_aux_file) {
    return UnsupportedError("vdi: " + ctx.path + " is a differencing image; its parent " + want +
                            " cannot be looked for in this context");
  }
  IMGFS_ASSIGN_OR_RETURN(std::vector<std::string> names,
                         ctx.list_siblings(kMaxParentCandidates + 1));
  if (names.size() > kMaxParentCandidates) {
    names.resize(kMaxParentCandidates);
    notes->push_back("vdi: only " + std::to_string(kMaxParentCandidates) +
                     " files beside the image were searched for its parent");
  }
  size_t vdi_files = 0;
  std::vector<std::string> matches;
  std::string exact;  // also matches the parent's modification UUID
  for (const std::string& name : names) {
    auto file = ctx.open_aux_file(name);
    if (!file.ok()) {
      continue;  // unreadable, or refused by --confine-backing
    }
    auto candidate = ReadHeader(**file);
    if (!candidate.ok()) {
      continue;
    }
    ++vdi_files;
    if (candidate->uuid != h.parent_uuid) {
      continue;
    }
    matches.push_back(name);
    if (exact.empty() && candidate->modification_uuid == h.parent_modification_uuid) {
      exact = name;
    }
  }
  if (matches.empty()) {
    return NotFoundError("vdi: parent " + want + " of " + ctx.path + " not found: none of the " +
                         std::to_string(vdi_files) + " VDI files beside it has that UUID");
  }
  const std::string chosen = exact.empty() ? matches.front() : exact;
  notes->push_back("vdi: parent " + want + " is " + chosen + ", found by UUID among " +
                   std::to_string(vdi_files) + " VDI files beside the image");
  if (matches.size() > 1) {
    std::string all;
    for (const std::string& m : matches) {
      all += (all.empty() ? "" : ", ") + m;
    }
    notes->push_back("vdi: " + std::to_string(matches.size()) + " files have the parent's UUID (" +
                     all + "); chose " + chosen +
                     (exact.empty() ? " (first by name)" : " (its modification UUID matches)"));
  }
  if (exact.empty() && !IsNullUuid(h.parent_modification_uuid)) {
    notes->push_back("vdi: " + chosen +
                     " was modified after this image was made (its modification UUID is not " +
                     Braced(h.parent_modification_uuid) + ")");
  }
  return chosen;
}

Status OpenParent(const OpenContext& ctx, Image* image) {
  const Header& h = image->header;
  if (ctx.options != nullptr && !ctx.options->follow_backing) {
    image->notes.push_back("vdi: parent " + Braced(h.parent_uuid) +
                           " not opened (--no-backing); its blocks read as zeros");
    return Status::Ok();
  }
  IMGFS_ASSIGN_OR_RETURN(std::string name, FindParent(ctx, h, &image->notes));
  if (!ctx.open_backing) {
    return UnsupportedError("vdi: parent '" + name + "' cannot be opened in this context");
  }
  IMGFS_ASSIGN_OR_RETURN(image->parent, ctx.open_backing(name, "vdi"));
  image->parent_name = name;
  image->parent_full_name = ctx.resolve ? ctx.resolve(name) : name;
  return Status::Ok();
}

Result<std::unique_ptr<BlockDevice>> Open(std::unique_ptr<File> file, const OpenContext& ctx) {
  Image image;
  IMGFS_ASSIGN_OR_RETURN(image.header, ReadHeader(*file));
  IMGFS_ASSIGN_OR_RETURN(image.file_size, file->Size());
  image.file = std::move(file);
  image.cache = ctx.cache;
  if (ctx.options != nullptr) {
    image.pool = ctx.options->pool;
    image.read_around = ctx.options->read_around;
  }
  if (image.header.has_parent()) {
    IMGFS_RETURN_IF_ERROR(OpenParent(ctx, &image));
  }
  return NewDevice(std::move(image));
}

}  // namespace

FormatDriver Driver() {
  return FormatDriver{"vdi", "VirtualBox disk image: dynamic, static and differencing", &Probe,
                      &Open};
}

}  // namespace imgfs::vdi
