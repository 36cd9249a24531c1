// SPDX-License-Identifier: MIT
// DiskDescriptor.xml parsing and validation (see descriptor.h).
#include "formats/parallels/descriptor.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "formats/parallels/header.h"
#include "formats/parallels/xml.h"

namespace imgfs::parallels {
namespace {

Status Bad(const std::string& what) {
  return CorruptError("parallels: DiskDescriptor.xml: " + what);
}

Result<uint64_t> Number(const xml::Element& parent, std::string_view name,
                        const std::string& where) {
  const xml::Element* e = parent.Child(name);
  if (e == nullptr) {
    return Bad(where + " has no <" + std::string(name) + ">");
  }
  const std::string_view t = e->Trimmed();
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size() || v > kMaxDiskSectors) {
    return Bad(where + " <" + std::string(name) + "> '" + std::string(t.substr(0, 40)) +
               "' is not a sector count");
  }
  return v;
}

std::string Text(const xml::Element& parent, std::string_view name) {
  const xml::Element* e = parent.Child(name);
  return e != nullptr ? std::string(e->Trimmed()) : std::string();
}

Result<StorageEntry> ParseStorage(const xml::Element& s, size_t index) {
  const std::string where = "Storage " + std::to_string(index);
  StorageEntry st;
  IMGFS_ASSIGN_OR_RETURN(st.start_sectors, Number(s, "Start", where));
  IMGFS_ASSIGN_OR_RETURN(st.end_sectors, Number(s, "End", where));
  if (s.Child("Blocksize") != nullptr) {
    IMGFS_ASSIGN_OR_RETURN(st.block_sectors, Number(s, "Blocksize", where));
  }
  if (st.end_sectors <= st.start_sectors) {
    return Bad(where + " ends (sector " + std::to_string(st.end_sectors) + ") before it starts (" +
               std::to_string(st.start_sectors) + ")");
  }
  for (const xml::Element& c : s.children) {
    if (c.name != "Image") {
      continue;
    }
    if (st.images.size() == kMaxImagesPerStorage) {
      return UnsupportedError("parallels: DiskDescriptor.xml: " + where + " has more than " +
                              std::to_string(kMaxImagesPerStorage) + " images");
    }
    ImageEntry img;
    img.guid = NormalizeGuid(Text(c, "GUID"));
    img.file = Text(c, "File");
    const std::string type = Text(c, "Type");
    if (type == "Plain") {
      img.plain = true;
    } else if (type != "Compressed") {
      return UnsupportedError("parallels: DiskDescriptor.xml: " + where + " image type '" +
                              type.substr(0, 40) + "' is not Plain or Compressed");
    }
    if (img.guid.size() != 38 || img.file.empty()) {
      return Bad(where + " has an image without a GUID or a File");
    }
    st.images.push_back(std::move(img));
  }
  if (st.images.empty()) {
    return Bad(where + " has no <Image>");
  }
  return st;
}

Status ParseStorages(const xml::Element& root, Descriptor* d) {
  const xml::Element* data = root.Child("StorageData");
  if (data == nullptr) {
    return Bad("no <StorageData>");
  }
  for (const xml::Element& s : data->children) {
    if (s.name != "Storage") {
      continue;
    }
    if (d->storages.size() == kMaxStorages) {
      return UnsupportedError("parallels: DiskDescriptor.xml: more than " +
                              std::to_string(kMaxStorages) + " storages");
    }
    IMGFS_ASSIGN_OR_RETURN(StorageEntry st, ParseStorage(s, d->storages.size()));
    d->storages.push_back(std::move(st));
  }
  if (d->storages.empty()) {
    return Bad("<StorageData> has no <Storage>");
  }
  std::sort(d->storages.begin(), d->storages.end(),
            [](const StorageEntry& a, const StorageEntry& b) {
              return a.start_sectors < b.start_sectors;
            });
  uint64_t next = 0;
  for (const StorageEntry& st : d->storages) {
    if (st.start_sectors != next) {
      return Bad(
          std::string(st.start_sectors < next ? "storages overlap" : "storages leave a gap") +
          " at sector " + std::to_string(std::min(next, st.start_sectors)));
    }
    next = st.end_sectors;
  }
  if (next != d->disk_sectors) {
    return Bad("storages end at sector " + std::to_string(next) + ", the disk (Disk_size) at " +
               std::to_string(d->disk_sectors));
  }
  return Status::Ok();
}

Status ParseShots(const xml::Element& root, Descriptor* d) {
  const xml::Element* snaps = root.Child("Snapshots");
  if (snaps != nullptr) {
    for (const xml::Element& s : snaps->children) {
      if (s.name != "Shot") {
        continue;
      }
      if (d->shots.size() == kMaxShots) {
        return UnsupportedError("parallels: DiskDescriptor.xml: more than " +
                                std::to_string(kMaxShots) + " snapshots");
      }
      Shot shot{NormalizeGuid(Text(s, "GUID")), NormalizeGuid(Text(s, "ParentGUID"))};
      if (shot.parent.empty()) {
        shot.parent = kNullGuid;
      }
      d->shots.push_back(std::move(shot));
    }
    d->top_guid = NormalizeGuid(Text(*snaps, "TopGUID"));
  }
  if (d->top_guid.empty()) {
    d->top_guid = kPredefinedTopGuid;
  }
  // Without snapshots, a storage's only image is the disk.
  if (d->shots.empty()) {
    const auto& images = d->storages.front().images;
    if (images.size() != 1) {
      return Bad("no <Shot> says which of the images is current");
    }
    d->top_guid = images.front().guid;
    d->chain = {d->top_guid};
    return Status::Ok();
  }
  std::set<std::string> seen;
  for (std::string g = d->top_guid; g != kNullGuid;) {
    if (!seen.insert(g).second) {
      return Bad("snapshot parents loop back to " + g);
    }
    const auto it =
        std::find_if(d->shots.begin(), d->shots.end(), [&](const Shot& s) { return s.guid == g; });
    if (it == d->shots.end()) {
      return Bad(d->chain.empty() ? "no <Shot> for the top snapshot " + g
                                  : "snapshot " + d->chain.back() + " names unknown parent " + g);
    }
    d->chain.push_back(g);
    g = it->parent;
  }
  return Status::Ok();
}

// Every storage holds an image of each snapshot in the chain; only the root
// may be plain.
Status CheckImages(const Descriptor& d) {
  for (size_t i = 0; i < d.storages.size(); ++i) {
    for (size_t k = 0; k < d.chain.size(); ++k) {
      const auto& images = d.storages[i].images;
      const auto it = std::find_if(images.begin(), images.end(),
                                   [&](const ImageEntry& e) { return e.guid == d.chain[k]; });
      if (it == images.end()) {
        return Bad("storage at sector " + std::to_string(d.storages[i].start_sectors) +
                   " has no image of snapshot " + d.chain[k]);
      }
      if (it->plain && k + 1 != d.chain.size()) {
        return UnsupportedError("parallels: DiskDescriptor.xml: plain image '" + it->file +
                                "' is a snapshot overlay (only the root may be plain)");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

std::string NormalizeGuid(std::string_view guid) {
  std::string g(guid);
  std::transform(g.begin(), g.end(), g.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  if (!g.empty() && g.front() != '{') {
    g = "{" + g + "}";
  }
  return g;
}

Result<Descriptor> ParseDescriptor(std::string_view text) {
  IMGFS_ASSIGN_OR_RETURN(xml::Element root, xml::Parse(text));
  if (root.name != "Parallels_disk_image") {
    return Bad("root element is <" + root.name.substr(0, 40) + ">, not <Parallels_disk_image>");
  }
  const xml::Element* params = root.Child("Disk_Parameters");
  if (params == nullptr) {
    return Bad("no <Disk_Parameters>");
  }
  Descriptor d;
  IMGFS_ASSIGN_OR_RETURN(d.disk_sectors, Number(*params, "Disk_size", "Disk_Parameters"));
  if (const xml::Element* pad = params->Child("Padding"); pad != nullptr && pad->Trimmed() != "0") {
    return UnsupportedError("parallels: DiskDescriptor.xml: Padding '" +
                            std::string(pad->Trimmed().substr(0, 40)) + "' (only 0 is read)");
  }
  IMGFS_RETURN_IF_ERROR(ParseStorages(root, &d));
  IMGFS_RETURN_IF_ERROR(ParseShots(root, &d));
  IMGFS_RETURN_IF_ERROR(CheckImages(d));
  return d;
}

}  // namespace imgfs::parallels
