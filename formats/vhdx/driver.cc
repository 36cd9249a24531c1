// SPDX-License-Identifier: MIT
// The VHDX driver: probing by the file type identifier, then opening in the
// order [MS-VHDX] 2.2-2.6 prescribes: the current header, the log (replayed
// in memory), the region table, the metadata, the BAT's place, and for a
// differencing image its parent through the parent locator.
#include "formats/vhdx/driver.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/util/hex.h"
#include "formats/vhdx/device.h"
#include "formats/vhdx/log.h"

namespace imgfs::vhdx {
namespace {

int Probe(const ProbeInput& in) {
  return in.head.size() >= kFileSignature.size() &&
                 std::memcmp(in.head.data(), kFileSignature.data(), kFileSignature.size()) == 0
             ? 100
             : 0;
}

// The current header (2.2.2.1): the valid copy with the higher sequence
// number. Both invalid is an error naming both reasons.
Status ReadCurrentHeader(const File& file, uint64_t file_size, Image* image) {
  std::vector<std::byte> bytes(kHeaderBytes);
  Result<Header> copies[2] = {CorruptError(""), CorruptError("")};
  for (int i = 0; i < 2; ++i) {
    Status read = file.ReadExactAt(kHeaderOffsets[i], bytes, "vhdx: header");
    copies[i] = read.ok() ? DecodeHeader(bytes, file_size) : Result<Header>(read);
  }
  if (!copies[0].ok() && !copies[1].ok()) {
    auto reason = [](const Status& st) {
      std::string m = st.message();
      return m.starts_with("vhdx: ") ? m.substr(6) : m;
    };
    const std::string message =
        "vhdx: neither header is valid (header 1: " + reason(copies[0].status()) +
        "; header 2: " + reason(copies[1].status()) + ")";
    const bool unsupported = copies[0].status().code() == StatusCode::kUnsupported ||
                             copies[1].status().code() == StatusCode::kUnsupported;
    return unsupported ? UnsupportedError(message) : CorruptError(message);
  }
  const int pick = !copies[1].ok() ? 0
                   : !copies[0].ok()
                       ? 1
                       : (copies[1]->sequence_number > copies[0]->sequence_number ? 1 : 0);
  image->header = *copies[pick];
  image->current_header = pick;
  return Status::Ok();
}

// The first region table that checks out (2.2.3: both copies are equal).
Status ReadRegions(const File& view, uint64_t size, Image* image) {
  std::vector<std::byte> bytes(kRegionTableBytes);
  Status first;
  for (int i = 0; i < 2; ++i) {
    IMGFS_RETURN_IF_ERROR(view.ReadExactAt(kRegionTableOffsets[i], bytes, "vhdx: region table"));
    Result<RegionTable> rt = DecodeRegionTable(bytes, size);
    if (rt.ok()) {
      image->regions = *rt;
      return Status::Ok();
    }
    if (i == 0) {
      first = rt.status();
    }
  }
  return first;
}

// Where a locator path may be found from Linux: relative_path as it is
// (with '/' for '\'), then the last component of the Windows paths in the
// image's directory (Hyper-V moves whole VM folders).
std::vector<std::string> ParentCandidates(const ParentLocator& loc) {
  std::vector<std::string> out;
  auto add = [&out](std::string p) {
    if (!p.empty() && std::find(out.begin(), out.end(), p) == out.end()) {
      out.push_back(std::move(p));
    }
  };
  if (auto rel = loc.Find("relative_path")) {
    std::string p = *rel;
    std::replace(p.begin(), p.end(), '\\', '/');
    if (p.starts_with("./")) {
      p = p.substr(2);
    }
    add(p);
  }
  for (const char* key : {"relative_path", "volume_path", "absolute_win32_path"}) {
    if (auto v = loc.Find(key)) {
      const size_t slash = v->find_last_of("\\/");
      add(slash == std::string::npos ? *v : v->substr(slash + 1));
    }
  }
  return out;
}

// The parent's DataWriteGuid must be the one the child was made against
// (parent_linkage, or parent_linkage2 after a parent's header update).
Status CheckLinkage(const ParentLocator& loc, const BlockDevice& parent, const std::string& ref) {
  const ImageInfo info = parent.Describe();
  const auto& data = info.format_specific;
  if (!data.is_object() || !data.contains("data") || !data["data"].contains("data-write-guid")) {
    return CorruptError("vhdx: parent '" + ref + "' is not a VHDX image");
  }
  const std::string have = data["data"]["data-write-guid"].get<std::string>();
  std::string want;
  for (const char* key : {"parent_linkage", "parent_linkage2"}) {
    if (auto v = loc.Find(key)) {
      auto norm = NormalizeGuidText(*v);
      if (norm && *norm == have) {
        return Status::Ok();
      }
      want += (want.empty() ? "" : " or ") + *v;
    }
  }
  if (want.empty()) {
    return CorruptError("vhdx: parent locator has no parent_linkage");
  }
  return CorruptError("vhdx: parent '" + ref + "' has data write GUID {" + have +
                      "}, but the child was made against " + want + " (the parent changed since)");
}

Status OpenParent(const OpenContext& ctx, Image* image) {
  const ParentLocator& loc = *image->metadata.parent;
  if (GuidToString(loc.type) != kVhdxLocatorTypeGuid) {
    return UnsupportedError("vhdx: parent locator type " + GuidToString(loc.type) +
                            " is not the VHDX one");
  }
  const std::vector<std::string> candidates = ParentCandidates(loc);
  if (candidates.empty()) {
    return CorruptError("vhdx: parent locator names no path");
  }
  image->parent_ref = candidates.front();
  image->full_parent_filename = ctx.resolve ? ctx.resolve(candidates.front()) : candidates.front();
  if (ctx.options != nullptr && !ctx.options->follow_backing) {
    return Status::Ok();
  }
  if (!ctx.open_backing) {
    return UnsupportedError("vhdx: parent '" + candidates.front() +
                            "' cannot be opened in this context");
  }
  Status not_found;
  for (const std::string& ref : candidates) {
    Result<std::unique_ptr<BlockDevice>> parent = ctx.open_backing(ref, "vhdx");
    if (!parent.ok()) {
      if (parent.status().code() == StatusCode::kNotFound) {
        not_found = not_found.ok() ? parent.status() : not_found;
        continue;
      }
      return parent.status();
    }
    IMGFS_RETURN_IF_ERROR(CheckLinkage(loc, **parent, ref));
    image->parent_ref = ref;
    image->full_parent_filename = ctx.resolve ? ctx.resolve(ref) : ref;
    image->parent = std::shared_ptr<const BlockDevice>(std::move(*parent));
    return Status::Ok();
  }
  return not_found.Annotate("vhdx: cannot find the parent (tried '" + candidates.front() + "'" +
                            (candidates.size() > 1 ? " and its file name" : "") + ")");
}

Result<std::unique_ptr<BlockDevice>> Open(std::unique_ptr<File> file, const OpenContext& ctx) {
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file->Size());
  if (file_size < kHeaderSectionBytes) {
    return CorruptError("vhdx: file of " + Hex(file_size) +
                        " bytes is shorter than the 1 MiB header section");
  }
  auto image = std::make_shared<Image>();
  std::vector<std::byte> identifier(kCreatorOffset + kCreatorBytes);
  IMGFS_RETURN_IF_ERROR(file->ReadExactAt(0, identifier, "vhdx: file type identifier"));
  image->creator = DecodeCreator(identifier);
  IMGFS_RETURN_IF_ERROR(ReadCurrentHeader(*file, file_size, image.get()));
  image->file = std::shared_ptr<const File>(std::move(file));
  IMGFS_ASSIGN_OR_RETURN(ReplayResult replay, ReplayLog(image->file, image->header));
  image->view = replay.file;
  image->log_entries_replayed = replay.entries;
  IMGFS_ASSIGN_OR_RETURN(image->view_size, image->view->Size());
  IMGFS_RETURN_IF_ERROR(ReadRegions(*image->view, image->view_size, image.get()));
  IMGFS_ASSIGN_OR_RETURN(image->metadata, ReadMetadata(*image->view, image->regions));
  image->geometry = GeometryOf(image->metadata);
  if (image->geometry.bat_entries * 8 > image->regions.bat_length_bytes) {
    return CorruptError("vhdx: BAT of " + std::to_string(image->geometry.bat_entries) +
                        " entries does not fit in its region of " +
                        Hex(image->regions.bat_length_bytes) + " bytes");
  }
  image->cache = ctx.cache;
  image->pool = ctx.options != nullptr ? ctx.options->pool : nullptr;
  image->read_around = ReadAround::ForFile(
      *image->view, 16, ctx.options != nullptr ? ctx.options->read_around : ReadAroundMode::kAuto);
  if (image->metadata.has_parent) {
    IMGFS_RETURN_IF_ERROR(OpenParent(ctx, image.get()));
  }
  return NewDevice(std::move(image));
}

}  // namespace

FormatDriver Driver() {
  return FormatDriver{"vhdx", "Microsoft Hyper-V virtual hard disk v2 (VHDX)", &Probe, &Open};
}

}  // namespace imgfs::vhdx
