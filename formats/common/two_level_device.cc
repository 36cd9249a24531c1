// SPDX-License-Identifier: MIT
// TwoLevelDevice and the backing file link of qcow and qed.
#include "formats/common/two_level_device.h"

#include <algorithm>
#include <span>
#include <utility>

namespace imgfs {
namespace {

// Findings listed one by one by Check(); the rest are counted.
constexpr size_t kMaxListedFindings = 50;

BlockMapConfig ConfigFor(const TwoLevelImage& image, const TwoLevelLayout& layout,
                         const ReadAround* read_around) {
  BlockMapConfig c;
  c.format = layout.format;
  c.pool = image.pool;
  c.read_around = read_around;
  c.read_around_file = image.file.get();
  // One Extents call stays inside one piece of an L2 table.
  c.extents_window_bits = TwoLevelTable(layout, nullptr, nullptr, 0, nullptr).piece_coverage_bits();
  return c;
}

}  // namespace

Result<BackingLink> OpenBackingByName(const OpenContext& ctx, const File& file, uint64_t offset,
                                      uint32_t bytes, const std::string& backing_format,
                                      std::string_view format) {
  BackingLink link;
  const std::string prefix(format);
  link.name.assign(bytes, '\0');
  const std::string what = prefix + ": backing file name";
  IMGFS_RETURN_IF_ERROR(
      file.ReadExactAt(offset, std::as_writable_bytes(std::span(link.name)), what.c_str()));
  link.full_name = ctx.resolve ? ctx.resolve(link.name) : link.name;
  if (ctx.options != nullptr && !ctx.options->follow_backing) {
    return link;
  }
  if (!ctx.open_backing) {
    return UnsupportedError(prefix + ": backing file '" + link.name +
                            "' cannot be opened in this context");
  }
  IMGFS_ASSIGN_OR_RETURN(link.device, ctx.open_backing(link.name, backing_format));
  return link;
}

TwoLevelImage TwoLevelImageFrom(std::unique_ptr<File> file, uint64_t file_size,
                                const OpenContext& ctx) {
  TwoLevelImage image;
  image.file = std::move(file);
  image.file_size = file_size;
  image.cache = ctx.cache;
  if (ctx.options != nullptr) {
    image.pool = ctx.options->pool;
    image.read_around = ctx.options->read_around;
  }
  return image;
}

// Read around whole clusters, but no more than 64 KiB (as qcow2 does).
TwoLevelDevice::TwoLevelDevice(TwoLevelImage image, const TwoLevelLayout& layout)
    : TwoLevelDevice(
          std::move(image), layout,
          ReadAround::ForFile(*image.file, std::min(layout.cluster_bits, 16u), image.read_around)) {
}

// `image` is a reference so that it is still whole when the read-around
// argument is made from it.
TwoLevelDevice::TwoLevelDevice(TwoLevelImage&& image, const TwoLevelLayout& layout,
                               std::unique_ptr<const ReadAround> read_around)
    : BlockMapDevice(ConfigFor(image, layout, read_around.get())),
      format_(layout.format),
      image_(std::move(image)),
      read_around_(std::move(read_around)),
      cache_id_(image_.cache->NewId()),
      table_(layout, image_.file.get(), image_.cache, cache_id_, this) {}

TwoLevelDevice::~TwoLevelDevice() { image_.cache->EraseDevice(cache_id_); }

ImageInfo TwoLevelDevice::BaseInfo(uint64_t cluster_bytes) const {
  ImageInfo info = FileImageInfo(format_, *image_.file, Size());
  info.cluster_size = cluster_bytes;
  info.backing_filename = image_.backing.name;
  info.full_backing_filename = image_.backing.full_name;
  return info;
}

Status TwoLevelDevice::WalkForCheck(
    const std::function<void(uint64_t cluster, uint64_t entry)>& visit,
    std::vector<std::string>* errors, CheckReport* report) const {
  IMGFS_RETURN_IF_ERROR(table_.Walk(visit, errors));
  for (size_t i = 0; i < errors->size() && i < kMaxListedFindings; ++i) {
    report->errors.push_back((*errors)[i]);
  }
  if (errors->size() > kMaxListedFindings) {
    report->errors.push_back(std::string(format_) + ": " +
                             std::to_string(errors->size() - kMaxListedFindings) +
                             " more errors not listed");
  }
  return Status::Ok();
}

}  // namespace imgfs
