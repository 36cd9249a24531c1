// SPDX-License-Identifier: MIT
// Loading a UDIF image: koly trailer, then the blkx resources.
#include "formats/dmg/image.h"

#include <cerrno>
#include <cstdlib>

#include "core/util/checked.h"
#include "core/util/hex.h"
#include "formats/dmg/plist.h"
#include "formats/dmg/rsrc_fork.h"

namespace imgfs::dmg {
namespace {

// hdiutil writes ID and Attributes as strings ("-1", "0x0050"); some tools
// write <integer>. Accepts both; anything else keeps the default.
template <typename T>
T NumberOf(const plist::Value* v, T fallback) {
  if (v == nullptr) {
    return fallback;
  }
  if (v->type == plist::Type::kInteger) {
    return static_cast<T>(v->integer);
  }
  if (v->type == plist::Type::kString && !v->text.empty()) {
    errno = 0;
    char* end = nullptr;
    long long n = std::strtoll(v->text.c_str(), &end, 0);  // NOLINT(google-runtime-int)
    if (errno == 0 && end != nullptr && *end == '\0') {
      return static_cast<T>(n);
    }
  }
  return fallback;
}

std::string StringOf(const plist::Value* v) {
  return v != nullptr && v->type == plist::Type::kString ? v->text : std::string();
}

Result<std::string> ReadRange(const File& file, uint64_t offset, uint64_t length, const char* what,
                              uint64_t file_size) {
  if (!RangeWithin(offset, length, file_size)) {
    return CorruptError(std::string("dmg: ") + what + " at " + Hex(offset) + " (" +
                        std::to_string(length) + " bytes) leaves the file (size " + Hex(file_size) +
                        ")");
  }
  if (length > kMaxResourceBytes) {
    return CorruptError(std::string("dmg: ") + what + " of " + std::to_string(length) +
                        " bytes exceeds the cap of " + std::to_string(kMaxResourceBytes));
  }
  std::string bytes(static_cast<size_t>(length), '\0');
  IMGFS_RETURN_IF_ERROR(
      file.ReadExactAt(offset, std::as_writable_bytes(std::span(bytes)), "dmg: resource"));
  return bytes;
}

}  // namespace

Result<std::vector<BlkxEntry>> BlkxFromPlist(std::string_view xml) {
  IMGFS_ASSIGN_OR_RETURN(plist::Value root, plist::Parse(xml));
  const plist::Value* fork = root.Find("resource-fork");
  const plist::Value* blkx = fork != nullptr ? fork->Find("blkx") : nullptr;
  if (blkx == nullptr || blkx->type != plist::Type::kArray) {
    return CorruptError("dmg: XML plist has no resource-fork/blkx array");
  }
  std::vector<BlkxEntry> out;
  for (size_t i = 0; i < blkx->array.size(); ++i) {
    const plist::Value& e = blkx->array[i];
    const plist::Value* data = e.Find("Data");
    if (data == nullptr || data->type != plist::Type::kData) {
      return CorruptError("dmg: blkx entry " + std::to_string(i) + " has no Data");
    }
    BlkxEntry entry;
    entry.name = StringOf(e.Find("Name"));
    entry.cfname = StringOf(e.Find("CFName"));
    entry.id = NumberOf<int32_t>(e.Find("ID"), static_cast<int32_t>(i));
    entry.attributes = NumberOf<uint32_t>(e.Find("Attributes"), 0);
    auto table = DecodeBlkx(std::as_bytes(std::span(data->text)));
    if (!table.ok()) {
      return table.status().Annotate("blkx entry " + std::to_string(i) + " '" + entry.name + "'");
    }
    entry.table = std::move(*table);
    out.push_back(std::move(entry));
  }
  return out;
}

Result<std::vector<BlkxEntry>> BlkxFromResourceFork(std::span<const std::byte> fork) {
  IMGFS_ASSIGN_OR_RETURN(std::vector<Resource> resources,
                         ParseResourceFork(fork, kResourceTypeBlkx));
  std::vector<BlkxEntry> out;
  for (Resource& r : resources) {
    BlkxEntry entry;
    entry.name = r.name;
    entry.cfname = r.name;
    entry.id = r.id;
    entry.attributes = r.attributes;
    auto table = DecodeBlkx(r.data);
    if (!table.ok()) {
      return table.status().Annotate("blkx resource " + std::to_string(r.id) + " '" + r.name + "'");
    }
    entry.table = std::move(*table);
    out.push_back(std::move(entry));
  }
  return out;
}

Result<std::shared_ptr<const UdifImage>> LoadUdif(std::shared_ptr<const File> file) {
  auto image = std::make_shared<UdifImage>();
  IMGFS_ASSIGN_OR_RETURN(image->file_size, file->Size());
  if (image->file_size < kKolyBytes) {
    return CorruptError("dmg: file of " + std::to_string(image->file_size) +
                        " bytes is too small for a koly trailer");
  }
  std::array<std::byte, kKolyBytes> trailer;
  const uint64_t koly_at = image->file_size - kKolyBytes;
  IMGFS_RETURN_IF_ERROR(file->ReadExactAt(koly_at, trailer, "dmg: koly trailer"));
  IMGFS_ASSIGN_OR_RETURN(image->koly, DecodeKoly(trailer));
  const Koly& k = image->koly;
  if (k.segment_count > 1) {
    return UnsupportedError("dmg: segmented image (segment " + std::to_string(k.segment_number) +
                            " of " + std::to_string(k.segment_count) +
                            ", .dmgpart files) is not supported; join the segments first");
  }
  if (!RangeWithin(k.data_fork_offset, k.data_fork_length, image->file_size)) {
    return CorruptError("dmg: data fork at " + Hex(k.data_fork_offset) + " (" +
                        std::to_string(k.data_fork_length) + " bytes) leaves the file (size " +
                        Hex(image->file_size) + ")");
  }
  if (k.xml_length > 0) {
    IMGFS_ASSIGN_OR_RETURN(std::string xml, ReadRange(*file, k.xml_offset, k.xml_length,
                                                      "XML plist", image->file_size));
    IMGFS_ASSIGN_OR_RETURN(image->entries, BlkxFromPlist(xml));
  } else if (k.rsrc_fork_length > 0) {
    IMGFS_ASSIGN_OR_RETURN(std::string fork,
                           ReadRange(*file, k.rsrc_fork_offset, k.rsrc_fork_length, "resource fork",
                                     image->file_size));
    IMGFS_ASSIGN_OR_RETURN(image->entries, BlkxFromResourceFork(std::as_bytes(std::span(fork))));
    image->from_resource_fork = true;
  } else {
    return CorruptError("dmg: koly trailer names neither an XML plist nor a resource fork");
  }
  image->file = std::move(file);
  return std::shared_ptr<const UdifImage>(std::move(image));
}

}  // namespace imgfs::dmg
