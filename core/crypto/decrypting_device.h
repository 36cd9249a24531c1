// SPDX-License-Identifier: MIT
// DecryptingDevice: a read-only view of an encrypted payload (LUKS data
// segments, later qcow2 LUKS and legacy qcow AES). Bytes
// [payload_offset, payload_offset + size) of the inner device are sectors
// encrypted with a SectorCipher; reads decrypt whole sectors, spread over
// the thread pool when one is given and the read is large.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/crypto/sector_cipher.h"
#include "core/exec/thread_pool.h"
#include "core/forwarding_device.h"
#include "core/io/file.h"

namespace imgfs::crypto {

struct DecryptingDeviceOptions {
  uint64_t payload_offset = 0;  // bytes into the inner device
  uint64_t size = 0;            // payload bytes (a multiple of sector_size)
  uint32_t sector_size = 512;   // 512 .. 4096, a power of two
  // The IV of payload sector i (in sector_size units) is
  // iv_offset + i * iv_sectors_per_sector: dm-crypt counts IVs in 512-byte
  // units unless iv_large_sectors is set (LUKS2 sets it: then 1).
  uint64_t iv_offset = 0;
  uint64_t iv_sectors_per_sector = 1;
  ThreadPool* pool = nullptr;
  // Describe() of the result: the inner device's info passed through this.
  std::function<void(ImageInfo*)> describe;
};

// Thread-safety: Read is safe from many threads at once.
class DecryptingDevice : public ForwardingBlockDevice {
 public:
  // `cipher` null: the key is not known (info without a passphrase); reads
  // return KeyRequiredError. REQUIRES: inner != nullptr.
  DecryptingDevice(std::unique_ptr<BlockDevice> inner, std::unique_ptr<SectorCipher> cipher,
                   DecryptingDeviceOptions options);

  uint64_t Size() const override { return opt_.size; }
  Status Read(uint64_t offset, std::span<std::byte> dst) const override;
  Status Write(uint64_t offset, std::span<const std::byte> src) override;
  Status Discard(uint64_t offset, uint64_t length_bytes) override;
  Status Flush() override { return Status::Ok(); }
  Status Extents(uint64_t offset, uint64_t length, std::vector<Extent>* out) const override;
  ImageInfo Describe() const override;
  Result<CheckReport> Check() const override;

 private:
  // Reads and decrypts whole sectors [first, first + dst.size()/sector).
  Status ReadSectors(uint64_t first, std::span<std::byte> dst) const;

  std::unique_ptr<SectorCipher> cipher_;
  DecryptingDeviceOptions opt_;
};

// Reads dst.size() bytes at `host_offset` of `file`, whose bytes are
// sectors of `sector_size` (aligned in the file) encrypted with `cipher`,
// and decrypts them into dst: what a format that encrypts its data clusters
// (qcow2 LUKS and AES, qcow AES) reads through. The sector holding byte
// `host_offset` has IV sector number `iv_sector`, the next iv_sector + 1,
// and so on. Partial sectors at either end are read and decrypted whole.
// Bytes past the end of the file read as zeros before decryption, as in
// QEMU. Thread-safe. REQUIRES: sector_size is a power of two >= 16.
Status ReadDecrypted(const File& file, uint64_t host_offset, uint64_t iv_sector,
                     const SectorCipher& cipher, uint32_t sector_size, std::span<std::byte> dst);

}  // namespace imgfs::crypto
