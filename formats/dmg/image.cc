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

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Opens segments 2..N next to the first (`file`, segment 1 of N) and points
// image->file at their data forks concatenated.
Status OpenSegments(const std::shared_ptr<const File>& file, const OpenContext* ctx,
                    UdifImage* image) {
  const Koly& k = image->koly;
  const std::string path = ctx != nullptr && !ctx->path.empty() ? ctx->path : file->name();
  const std::string base = BaseName(path);
  const std::string of_n = " of " + std::to_string(k.segment_count);
  if (k.segment_number != 1) {
    auto first = FirstSegmentName(base);
    return InvalidArgumentError("dmg: " + base + " is segment " + std::to_string(k.segment_number) +
                                of_n + " of a segmented image; open its first segment " +
                                (first ? "'" + *first + "'" : std::string("(the .dmg file)")) +
                                " instead");
  }
  if (k.segment_count > kMaxSegments) {
    return UnsupportedError("dmg: koly trailer says the image has " +
                            std::to_string(k.segment_count) + " segments (at most " +
                            std::to_string(kMaxSegments) + " are opened)");
  }
  if (ctx == nullptr || !ctx->open_aux_file) {
    return UnsupportedError("dmg: segmented image (" + std::to_string(k.segment_count) +
                            " segments): its .dmgpart files cannot be opened here");
  }
  std::vector<FilePiece> pieces;
  IMGFS_ASSIGN_OR_RETURN(SegmentFile first, CheckSegment(path, file, 1, k, 0));
  uint64_t running = first.koly.data_fork_length;
  pieces.push_back(FilePiece{file, first.koly.data_fork_offset, first.koly.data_fork_length});
  image->segments.push_back(std::move(first));
  for (uint32_t n = 2; n <= k.segment_count; ++n) {
    std::string ref = SegmentFileName(base, n);
    std::string shown = ctx->resolve ? ctx->resolve(ref) : ref;
    const std::string where = "dmg: segment " + std::to_string(n) + of_n + " '" + shown + "'";
    auto opened = ctx->open_aux_file(ref);
    if (auto numbered = NumberedSegmentFileName(base, n);
        !opened.ok() && opened.status().code() == StatusCode::kNotFound && numbered) {
      auto other = ctx->open_aux_file(*numbered);
      if (other.ok()) {
        opened = std::move(other);
        ref = *numbered;
        shown = ctx->resolve ? ctx->resolve(ref) : ref;
      }
    }
    if (!opened.ok()) {
      return InSegment(where + " cannot be opened", opened.status());
    }
    IMGFS_ASSIGN_OR_RETURN(
        SegmentFile seg,
        CheckSegment(shown, std::shared_ptr<const File>(std::move(*opened)), n, k, running));
    auto next = CheckedAdd(running, seg.koly.data_fork_length);
    if (!next) {
      return CorruptError(where + " data fork length overflows the concatenated data fork");
    }
    running = *next;
    pieces.push_back(FilePiece{seg.file, seg.koly.data_fork_offset, seg.koly.data_fork_length});
    image->segments.push_back(std::move(seg));
  }
  image->file = std::shared_ptr<const File>(NewConcatFile(file->name(), std::move(pieces)));
  image->file_size = running;
  image->data_fork_offset = 0;
  image->data_fork_length = running;
  return Status::Ok();
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

Result<std::shared_ptr<const UdifImage>> LoadUdif(std::shared_ptr<const File> file,
                                                  const OpenContext* ctx) {
  auto image = std::make_shared<UdifImage>();
  IMGFS_ASSIGN_OR_RETURN(const uint64_t file_size, file->Size());
  if (file_size < kKolyBytes) {
    return CorruptError("dmg: file of " + std::to_string(file_size) +
                        " bytes is too small for a koly trailer");
  }
  std::array<std::byte, kKolyBytes> trailer;
  const uint64_t koly_at = file_size - kKolyBytes;
  IMGFS_RETURN_IF_ERROR(file->ReadExactAt(koly_at, trailer, "dmg: koly trailer"));
  IMGFS_ASSIGN_OR_RETURN(image->koly, DecodeKoly(trailer));
  const Koly& k = image->koly;
  if (k.segment_count > 1) {
    IMGFS_RETURN_IF_ERROR(OpenSegments(file, ctx, image.get()));
  } else {
    if (!RangeWithin(k.data_fork_offset, k.data_fork_length, file_size)) {
      return CorruptError("dmg: data fork at " + Hex(k.data_fork_offset) + " (" +
                          std::to_string(k.data_fork_length) + " bytes) leaves the file (size " +
                          Hex(file_size) + ")");
    }
    image->file = file;
    image->file_size = file_size;
    image->data_fork_offset = k.data_fork_offset;
    image->data_fork_length = k.data_fork_length;
  }
  // The plist or resource fork is in the opened file (the first segment).
  if (k.xml_length > 0) {
    IMGFS_ASSIGN_OR_RETURN(std::string xml,
                           ReadRange(*file, k.xml_offset, k.xml_length, "XML plist", file_size));
    IMGFS_ASSIGN_OR_RETURN(image->entries, BlkxFromPlist(xml));
  } else if (k.rsrc_fork_length > 0) {
    IMGFS_ASSIGN_OR_RETURN(
        std::string fork,
        ReadRange(*file, k.rsrc_fork_offset, k.rsrc_fork_length, "resource fork", file_size));
    IMGFS_ASSIGN_OR_RETURN(image->entries, BlkxFromResourceFork(std::as_bytes(std::span(fork))));
    image->from_resource_fork = true;
  } else {
    return CorruptError("dmg: koly trailer names neither an XML plist nor a resource fork");
  }
  return std::shared_ptr<const UdifImage>(std::move(image));
}

}  // namespace imgfs::dmg
