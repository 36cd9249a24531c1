// SPDX-License-Identifier: MIT
// The UDSB reader (see sparsebundle.h).
#include "formats/dmg/sparsebundle.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/blockmap/block_map_device.h"
#include "core/io/file.h"
#include "core/util/checked.h"
#include "formats/dmg/plist.h"

namespace imgfs::dmg {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kBundleType = "com.apple.diskimage.sparsebundle";
// hdiutil's default band is 8 MiB; a band beyond 1 GiB is hostile.
constexpr uint64_t kMaxBandBytes = uint64_t{1} << 30;
// Byte offsets stay far from overflow.
constexpr uint64_t kMaxSizeBytes = uint64_t{1} << 62;
// Info.plist is a few hundred bytes.
constexpr uint64_t kMaxInfoBytes = uint64_t{1} << 20;

Result<std::string> ReadSmallFile(const std::string& path) {
  IMGFS_ASSIGN_OR_RETURN(std::unique_ptr<File> f,
                         OpenPosixFile(path, {.direct_read_ahead = false}));
  IMGFS_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  if (size > kMaxInfoBytes) {
    return CorruptError("sparsebundle: " + path + " of " + std::to_string(size) +
                        " bytes is too large");
  }
  std::string s(static_cast<size_t>(size), '\0');
  IMGFS_RETURN_IF_ERROR(f->ReadExactAt(0, std::as_writable_bytes(std::span(s)), path.c_str()));
  return s;
}

// Each band is its own file, opened per read: Map says which bands exist
// (kIndirect, the band number in driver_data) and ReadIndirect reads one;
// the shared block-map base does the rest.
class Device final : public BlockMapDevice {
 public:
  Device(std::string dir, SparseBundleInfo info)
      : BlockMapDevice(BlockMapConfig{"sparsebundle"}), dir_(std::move(dir)), info_(info) {}

  uint64_t Size() const override { return info_.size_bytes; }

  // Every band maps indirectly; a read opens its file (a missing one reads
  // as zeros), so no read pays for a separate existence check.
  Result<Mapping> Map(uint64_t offset, uint64_t max_length) const override {
    const uint64_t band = offset / info_.band_bytes;
    const uint64_t length = std::min(max_length, info_.band_bytes - offset % info_.band_bytes);
    return Mapping{MapKind::kIndirect, length, nullptr, 0, 0, 0, band};
  }

  Status ReadIndirect(const Mapping& m, uint64_t offset, std::span<std::byte> dst) const override {
    return ReadBand(m.driver_data, offset % info_.band_bytes, dst);
  }

  // For Extents: a band never written has no file. A band that cannot be
  // looked up (not "missing") counts as data and is left to the read,
  // which reports why.
  Result<ExtentKind> IndirectExtentKind(const Mapping& m, uint64_t /*offset*/) const override {
    std::error_code ec;
    const bool missing = !fs::exists(BandPath(m.driver_data), ec) && !ec;
    return missing ? ExtentKind::kUnallocated : ExtentKind::kData;
  }

  ImageInfo Describe() const override {
    ImageInfo info;
    info.format = "sparsebundle";
    info.filename = dir_;
    info.virtual_size = info_.size_bytes;
    uint64_t actual = 0;
    uint64_t bands = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_ + "/bands", ec)) {
      std::error_code size_ec;
      const uint64_t s = e.file_size(size_ec);
      actual += size_ec ? 0 : s;
      ++bands;
    }
    info.actual_size = actual;
    info.cluster_size = info_.band_bytes;
    nlohmann::json data;
    data["variant"] = "UDSB";
    data["band-bytes"] = info_.band_bytes;
    data["bands-stored"] = bands;
    data["backingstore-version"] = info_.backingstore_version;
    info.format_specific = nlohmann::json{{"type", "sparsebundle"}, {"data", data}};
    return info;
  }

 private:
  std::string BandPath(uint64_t band) const {
    char name[32];
    std::snprintf(name, sizeof name, "%llx", static_cast<unsigned long long>(band));
    return dir_ + "/bands/" + name;
  }

  Status ReadBand(uint64_t band, uint64_t in_band, std::span<std::byte> dst) const {
    // Opened for this one read, so no O_DIRECT read-ahead descriptor: it
    // would cost an open, an fstat and a close per read and never stream.
    auto file = OpenPosixFile(BandPath(band), {.direct_read_ahead = false});
    if (!file.ok()) {
      if (file.status().code() == StatusCode::kNotFound) {
        std::memset(dst.data(), 0, dst.size());  // never written
        return Status::Ok();
      }
      return file.status().Annotate("sparsebundle");
    }
    return ReadHostZeroFilled(**file, in_band, dst);  // a short band reads as zeros
  }

  const std::string dir_;
  const SparseBundleInfo info_;
};

}  // namespace

Result<SparseBundleInfo> ParseSparseBundleInfo(std::string_view xml) {
  IMGFS_ASSIGN_OR_RETURN(plist::Value root, plist::Parse(xml));
  const plist::Value* type = root.Find("diskimage-bundle-type");
  if (type == nullptr || type->type != plist::Type::kString || type->text != kBundleType) {
    return UnsupportedError("sparsebundle: Info.plist does not name a " + std::string(kBundleType));
  }
  const plist::Value* band = root.Find("band-size");
  const plist::Value* size = root.Find("size");
  if (band == nullptr || band->type != plist::Type::kInteger || size == nullptr ||
      size->type != plist::Type::kInteger) {
    return CorruptError("sparsebundle: Info.plist lacks an integer band-size or size");
  }
  SparseBundleInfo info;
  if (band->integer <= 0 || static_cast<uint64_t>(band->integer) > kMaxBandBytes) {
    return CorruptError("sparsebundle: band-size " + std::to_string(band->integer) +
                        " is outside 1..1 GiB");
  }
  if (size->integer < 0 || static_cast<uint64_t>(size->integer) > kMaxSizeBytes) {
    return CorruptError("sparsebundle: size " + std::to_string(size->integer) + " is absurd");
  }
  info.band_bytes = static_cast<uint64_t>(band->integer);
  info.size_bytes = static_cast<uint64_t>(size->integer);
  if (const plist::Value* v = root.Find("bundle-backingstore-version");
      v != nullptr && v->type == plist::Type::kInteger) {
    info.backingstore_version = v->integer;
  }
  if (info.backingstore_version != 1) {
    return UnsupportedError("sparsebundle: bundle-backingstore-version " +
                            std::to_string(info.backingstore_version) + " (only 1 is known)");
  }
  return info;
}

bool IsSparseBundle(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec) || !fs::is_regular_file(path + "/Info.plist", ec)) {
    return false;
  }
  auto xml = ReadSmallFile(path + "/Info.plist");
  return xml.ok() && xml->find(kBundleType) != std::string::npos;
}

Result<std::unique_ptr<BlockDevice>> OpenSparseBundle(const std::string& path) {
  auto xml = ReadSmallFile(path + "/Info.plist");
  if (!xml.ok()) {
    return xml.status().Annotate("sparsebundle");
  }
  IMGFS_ASSIGN_OR_RETURN(SparseBundleInfo info, ParseSparseBundleInfo(*xml));
  // Encrypted bundles keep their key material in `token` ("encrcdsa").
  if (auto token = ReadSmallFile(path + "/token"); token.ok() && token->rfind("encrcdsa", 0) == 0) {
    return UnsupportedError("sparsebundle: " + path + " is encrypted, which imgfs does not read");
  }
  return std::unique_ptr<BlockDevice>(std::make_unique<Device>(path, info));
}

}  // namespace imgfs::dmg
