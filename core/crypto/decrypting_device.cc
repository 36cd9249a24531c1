// SPDX-License-Identifier: MIT
#include "core/crypto/decrypting_device.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/blockmap/block_map_device.h"

namespace imgfs::crypto {
namespace {

// Reads at least this large are split into pieces of this size and
// decrypted in parallel when a pool is given.
constexpr uint64_t kParallelPiece = 256 * 1024;

}  // namespace

Status ReadDecrypted(const File& file, uint64_t host_offset, uint64_t iv_sector,
                     const SectorCipher& cipher, uint32_t sector_size, std::span<std::byte> dst) {
  const uint64_t ss = sector_size;
  const uint64_t head = host_offset % ss;
  const uint64_t span_bytes = (head + dst.size() + ss - 1) / ss * ss;
  // Whole sectors decrypt in the caller's buffer; a partial one at either
  // end sends the whole read through a bounce buffer.
  std::vector<std::byte> bounce;
  std::span<std::byte> sectors = dst;
  if (span_bytes != dst.size()) {
    bounce.resize(static_cast<size_t>(span_bytes));
    sectors = bounce;
  }
  IMGFS_RETURN_IF_ERROR(ReadHostZeroFilled(file, host_offset - head, sectors));
  cipher.DecryptSectors(iv_sector, 1, sector_size, sectors);
  if (!bounce.empty()) {
    std::memcpy(dst.data(), bounce.data() + head, dst.size());
  }
  return Status::Ok();
}

DecryptingDevice::DecryptingDevice(std::unique_ptr<BlockDevice> inner,
                                   std::unique_ptr<SectorCipher> cipher,
                                   DecryptingDeviceOptions options)
    : ForwardingBlockDevice(std::move(inner)),
      cipher_(std::move(cipher)),
      opt_(std::move(options)) {}

Status DecryptingDevice::ReadSectors(uint64_t first, std::span<std::byte> dst) const {
  const uint64_t ss = opt_.sector_size;
  IMGFS_RETURN_IF_ERROR(target().Read(opt_.payload_offset + first * ss, dst));
  cipher_->DecryptSectors(opt_.iv_offset + first * opt_.iv_sectors_per_sector,
                          opt_.iv_sectors_per_sector, opt_.sector_size, dst);
  return Status::Ok();
}

Status DecryptingDevice::Read(uint64_t offset, std::span<std::byte> dst) const {
  IMGFS_RETURN_IF_ERROR(CheckRange(offset, dst.size(), opt_.size));
  if (cipher_ == nullptr) {
    return KeyRequiredError("the image is encrypted and was opened without a passphrase");
  }
  if (dst.empty()) {
    return Status::Ok();
  }
  const uint64_t ss = opt_.sector_size;
  const uint64_t end = offset + dst.size();
  uint64_t head = offset % ss;
  uint64_t pos = offset;
  std::byte* out = dst.data();
  // A partial first or last sector goes through a bounce buffer.
  std::vector<std::byte> bounce;
  if (head != 0 || (end % ss != 0 && end - offset < ss)) {
    bounce.resize(ss);
    IMGFS_RETURN_IF_ERROR(ReadSectors(offset / ss, bounce));
    const uint64_t n = std::min<uint64_t>(ss - head, end - offset);
    std::memcpy(out, bounce.data() + head, n);
    pos += n;
    out += n;
  }
  const uint64_t whole_end = end - end % ss;
  if (pos < whole_end) {
    const uint64_t bytes = whole_end - pos;
    const uint64_t first = pos / ss;
    if (opt_.pool == nullptr || bytes < 2 * kParallelPiece) {
      IMGFS_RETURN_IF_ERROR(ReadSectors(first, {out, bytes}));
    } else {
      const size_t pieces = static_cast<size_t>((bytes + kParallelPiece - 1) / kParallelPiece);
      std::vector<Status> results(pieces);
      ParallelFor(opt_.pool, pieces, [&](size_t i) {
        const uint64_t off = i * kParallelPiece;
        const uint64_t n = std::min(kParallelPiece, bytes - off);
        results[i] = ReadSectors(first + off / ss, {out + off, n});
      });
      for (Status& s : results) {
        IMGFS_RETURN_IF_ERROR(s);
      }
    }
    out += bytes;
    pos = whole_end;
  }
  if (pos < end) {
    bounce.resize(ss);
    IMGFS_RETURN_IF_ERROR(ReadSectors(pos / ss, bounce));
    std::memcpy(out, bounce.data(), end - pos);
  }
  return Status::Ok();
}

Status DecryptingDevice::Write(uint64_t, std::span<const std::byte>) {
  return ReadOnlyError("encrypted images are read-only in imgfs");
}

Status DecryptingDevice::Discard(uint64_t, uint64_t) {
  return ReadOnlyError("encrypted images are read-only in imgfs");
}

Status DecryptingDevice::Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const {
  IMGFS_RETURN_IF_ERROR(CheckRange(offset, length, opt_.size));
  out->push_back(Extent{offset, length, ExtentKind::kData, 0, std::nullopt, false});
  return Status::Ok();
}

ImageInfo DecryptingDevice::Describe() const {
  ImageInfo info = target().Describe();
  info.virtual_size = opt_.size;
  info.cluster_size.reset();
  if (opt_.describe) {
    opt_.describe(&info);
  }
  return info;
}

Result<CheckReport> DecryptingDevice::Check() const {
  CheckReport report;
  report.checked.push_back("the header and the key slot that accepted the passphrase");
  return report;
}

}  // namespace imgfs::crypto
