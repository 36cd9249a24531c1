// SPDX-License-Identifier: MIT
// encrcdsa v2 containers (see encrypted.h). Layout, big-endian, as
// described by libyal's libmodi notes, the VileFault paper (Appelbaum and
// Weinmann) and vfdecrypt:
//   0  "encrcdsa"  8  version (2)  12 IV size (16)  16 mode  20 algorithm
//   24 key bits    28 PRNG algorithm  32 PRNG key size  36 UUID (16)
//   52 block size  56 data size (8)  64 data offset (8)  72 key-slot count
//   76 key-slot pointers, 20 bytes each: type, offset (8), size (8)
// A passphrase slot (type 1) at its offset:
//   0 KDF (103 = PBKDF2)  4 PRNG  8 iterations  12 salt size  16 salt (32)
//   48 IV size  52 IV (32)  84 blob key bits (192)  88 blob algorithm (17 =
//   3DES-EDE)  92 padding (7 = PKCS#7)  96 mode (6 = CBC)  100 blob size
//   104 blob
// The unwrapped blob is the AES key, the HMAC-SHA1 key (20 bytes) and a
// "CKIE" marker.
#include "formats/dmg/encrypted.h"

#include <nettle/aes.h>
#include <nettle/cbc.h>
#include <nettle/des.h>
#include <nettle/hmac.h>
#include <nettle/pbkdf2.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "core/forwarding_device.h"
#include "core/util/endian.h"
#include "formats/dmg/device.h"
#include "formats/dmg/image.h"
#include "formats/dmg/sparseimage.h"
#include "formats/dmg/udif.h"
#include "formats/raw/driver.h"

namespace imgfs::dmg {
namespace {

constexpr uint32_t kKdfPbkdf2 = 103;
constexpr uint32_t kBlobAlgorithm3Des = 17;
constexpr size_t kHmacKeyBytes = 20;
constexpr size_t kDerivedKeyBytes = DES3_KEY_SIZE;  // 24
constexpr uint32_t kMinBlockSize = 512;
constexpr uint32_t kMaxBlockSize = 1u << 20;
// Blocks decrypted per host read.
constexpr size_t kReadBatchBytes = size_t{1} << 20;

std::string Hex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::byte b : bytes) {
    out += kDigits[std::to_integer<unsigned>(b) >> 4];
    out += kDigits[std::to_integer<unsigned>(b) & 15];
  }
  return out;
}

const uint8_t* U8(const std::byte* p) { return reinterpret_cast<const uint8_t*>(p); }
uint8_t* U8(std::byte* p) { return reinterpret_cast<uint8_t*>(p); }

Result<EncrcdsaPasswordSlot> ParsePasswordSlot(std::span<const std::byte> head, uint64_t offset,
                                               uint64_t size, uint32_t index) {
  const std::string where = "dmg: encrcdsa key slot " + std::to_string(index);
  if (offset < kEncrcdsaHeaderBytes || offset > head.size() ||
      head.size() - offset < kEncrcdsaPasswordSlotBytes) {
    return CorruptError(where + " at " + std::to_string(offset) + " lies outside the header");
  }
  const std::byte* p = head.data() + offset;
  EncrcdsaPasswordSlot slot;
  slot.offset = offset;
  const uint32_t kdf = LoadBE32(p);
  if (kdf != kKdfPbkdf2) {
    return UnsupportedError(where + ": key derivation " + std::to_string(kdf) +
                            " (only PBKDF2, 103)");
  }
  slot.iterations = LoadBE32(p + 8);
  if (slot.iterations == 0 || slot.iterations > kEncrcdsaMaxIterations) {
    return CorruptError(where + ": PBKDF2 iteration count " + std::to_string(slot.iterations) +
                        " outside 1.." + std::to_string(kEncrcdsaMaxIterations));
  }
  const uint32_t salt_size = LoadBE32(p + 12);
  if (salt_size == 0 || salt_size > 32) {
    return CorruptError(where + ": salt size " + std::to_string(salt_size) + " outside 1..32");
  }
  slot.salt.assign(p + 16, p + 16 + salt_size);
  const uint32_t iv_size = LoadBE32(p + 48);
  if (iv_size < DES3_BLOCK_SIZE || iv_size > 32) {
    return CorruptError(where + ": IV size " + std::to_string(iv_size) + " outside 8..32");
  }
  slot.iv.assign(p + 52, p + 52 + DES3_BLOCK_SIZE);
  const uint32_t blob_bits = LoadBE32(p + 84);
  const uint32_t blob_algorithm = LoadBE32(p + 88);
  if (blob_algorithm != kBlobAlgorithm3Des || blob_bits != 192) {
    return UnsupportedError(where + ": key blob cipher " + std::to_string(blob_algorithm) + "/" +
                            std::to_string(blob_bits) + " bits (only 3DES-EDE, 17/192)");
  }
  const uint32_t blob_size = LoadBE32(p + 100);
  if (blob_size < 16 || blob_size > kEncrcdsaMaxBlob || blob_size % DES3_BLOCK_SIZE != 0) {
    return CorruptError(where + ": wrapped key size " + std::to_string(blob_size) +
                        " is not a multiple of 8 in 16.." + std::to_string(kEncrcdsaMaxBlob));
  }
  const uint64_t blob_at = offset + kEncrcdsaPasswordSlotBytes;
  if (head.size() - blob_at < blob_size ||
      (size != 0 && size < kEncrcdsaPasswordSlotBytes + uint64_t{blob_size})) {
    return CorruptError(where + ": wrapped key of " + std::to_string(blob_size) +
                        " bytes runs past the slot");
  }
  slot.wrapped.assign(head.data() + blob_at, head.data() + blob_at + blob_size);
  return slot;
}

// The AES and HMAC key schedules, kept in locked memory.
struct KeySchedule {
  int key_bits;
  aes128_ctx aes128;
  aes256_ctx aes256;
  hmac_sha1_ctx hmac;  // keyed; copied per block
};

class DecryptingFile final : public File {
 public:
  DecryptingFile(std::shared_ptr<const File> image, const EncrcdsaHeader& header,
                 SecretBytes schedule)
      : image_(std::move(image)),
        name_(image_->name()),
        block_size_(header.block_size),
        data_size_(header.data_size),
        data_offset_(header.data_offset),
        schedule_(std::move(schedule)) {}

  ~DecryptingFile() override { Schedule()->~KeySchedule(); }

  Result<size_t> ReadAt(uint64_t offset, std::span<std::byte> dst) const override {
    if (offset >= data_size_ || dst.empty()) {
      return size_t{0};
    }
    const size_t want = static_cast<size_t>(std::min<uint64_t>(dst.size(), data_size_ - offset));
    size_t done = 0;
    std::vector<std::byte> buffer;
    while (done < want) {
      const uint64_t at = offset + done;
      const uint64_t first = at / block_size_;
      const uint64_t last = (offset + want - 1) / block_size_;
      const uint64_t blocks = std::min<uint64_t>(
          last - first + 1, std::max<uint64_t>(1, kReadBatchBytes / block_size_));
      buffer.resize(static_cast<size_t>(blocks * block_size_));
      IMGFS_RETURN_IF_ERROR(image_->ReadExactAt(data_offset_ + first * block_size_, buffer,
                                                "dmg: encrypted data block"));
      for (uint64_t b = 0; b < blocks; ++b) {
        DecryptBlock(static_cast<uint32_t>(first + b),
                     std::span(buffer).subspan(static_cast<size_t>(b * block_size_), block_size_));
      }
      const size_t skip = static_cast<size_t>(at - first * block_size_);
      const size_t n = std::min(want - done, buffer.size() - skip);
      std::memcpy(dst.data() + done, buffer.data() + skip, n);
      done += n;
    }
    WipeBytes(buffer);
    return want;
  }

  Status WriteAt(uint64_t, std::span<const std::byte>) override {
    return ReadOnlyError("dmg: encrypted images are read-only");
  }
  Result<uint64_t> Size() const override { return data_size_; }
  Status Flush() override { return Status::Ok(); }
  Status Truncate(uint64_t) override {
    return ReadOnlyError("dmg: encrypted images are read-only");
  }
  Result<uint64_t> AllocatedBytes() const override { return image_->AllocatedBytes(); }
  void Prefetch(uint64_t offset, uint64_t length) const override {
    const uint64_t first = offset / block_size_ * block_size_;
    image_->Prefetch(data_offset_ + first, length + (offset - first) + block_size_);
  }
  const std::string& name() const override { return name_; }

 private:
  const KeySchedule* Schedule() const {
    return std::launder(reinterpret_cast<const KeySchedule*>(schedule_.bytes().data()));
  }

  void DecryptBlock(uint32_t number, std::span<std::byte> block) const {
    const KeySchedule& s = *Schedule();
    hmac_sha1_ctx mac = s.hmac;
    std::byte be[4];
    StoreBE32(be, number);
    hmac_sha1_update(&mac, sizeof be, U8(be));
    uint8_t digest[SHA1_DIGEST_SIZE];
    hmac_sha1_digest(&mac, sizeof digest, digest);
    uint8_t* data = U8(block.data());
    if (s.key_bits == 128) {
      cbc_decrypt(&s.aes128, reinterpret_cast<nettle_cipher_func*>(&aes128_decrypt), AES_BLOCK_SIZE,
                  digest, block.size(), data, data);
    } else {
      cbc_decrypt(&s.aes256, reinterpret_cast<nettle_cipher_func*>(&aes256_decrypt), AES_BLOCK_SIZE,
                  digest, block.size(), data, data);
    }
    WipeBytes(std::as_writable_bytes(std::span(digest)));
    WipeBytes(std::as_writable_bytes(std::span(&mac, 1)));
  }

  std::shared_ptr<const File> image_;
  const std::string name_;
  const uint64_t block_size_;
  const uint64_t data_size_;
  const uint64_t data_offset_;
  SecretBytes schedule_;  // holds a KeySchedule
};

nlohmann::json DescribeEncryption(const EncrcdsaHeader& h) {
  nlohmann::json slots = nlohmann::json::array();
  for (const EncrcdsaPasswordSlot& s : h.password_slots) {
    slots.push_back({{"type", "passphrase"},
                     {"kdf", "PBKDF2-HMAC-SHA1"},
                     {"iterations", s.iterations},
                     {"salt-bytes", s.salt.size()},
                     {"key-wrap", "3DES-EDE-CBC"}});
  }
  for (uint32_t i = 0; i < h.public_key_slots; ++i) {
    slots.push_back({{"type", "public-key"}});
  }
  return {{"container", "encrcdsa"},
          {"version", h.version},
          {"cipher", "AES-" + std::to_string(h.key_bits) + "-CBC"},
          {"iv", "HMAC-SHA1 of the block number"},
          {"block-size", h.block_size},
          {"data-offset", h.data_offset},
          {"data-size", h.data_size},
          {"uuid", h.uuid},
          {"key-slots", slots}};
}

std::string EncryptionName(const EncrcdsaHeader& h) {
  return "encrcdsa v2 (AES-" + std::to_string(h.key_bits) + ")";
}

// The decrypted image, with the encryption added to what `info` shows.
class EncryptedDevice final : public ForwardingBlockDevice {
 public:
  EncryptedDevice(std::unique_ptr<BlockDevice> inner, EncrcdsaHeader header, std::string inner_kind)
      : ForwardingBlockDevice(std::move(inner)),
        header_(std::move(header)),
        inner_kind_(std::move(inner_kind)) {}

  ImageInfo Describe() const override {
    ImageInfo info = ForwardingBlockDevice::Describe();
    info.format = "dmg";
    info.encryption = EncryptionName(header_);
    if (!info.format_specific.is_object()) {
      info.format_specific = nlohmann::json::object();
    }
    nlohmann::json enc = DescribeEncryption(header_);
    enc["contents"] = inner_kind_;
    info.format_specific["data"]["encryption"] = enc;
    info.format_specific["type"] = "dmg";
    return info;
  }

 private:
  const EncrcdsaHeader header_;
  const std::string inner_kind_;
};

// `info` without a passphrase: the header only.
class LockedDevice final : public BlockDevice {
 public:
  LockedDevice(std::unique_ptr<File> file, EncrcdsaHeader header)
      : file_(std::move(file)), header_(std::move(header)) {}

  uint64_t Size() const override { return 0; }
  Status Read(uint64_t, std::span<std::byte>) const override { return Locked(); }
  Status Extents(uint64_t, uint64_t, std::vector<Extent>*) const override { return Locked(); }
  ImageInfo Describe() const override {
    ImageInfo info = FileImageInfo("dmg", *file_, 0);
    info.encryption = EncryptionName(header_);
    nlohmann::json enc = DescribeEncryption(header_);
    enc["contents"] = "unknown (no passphrase given)";
    info.format_specific = {{"type", "dmg"}, {"data", {{"encryption", enc}}}};
    info.notes.push_back("encrypted: the disk size and contents need the passphrase");
    return info;
  }

 private:
  static Status Locked() { return KeyRequiredError("dmg: encrypted image needs a passphrase"); }

  std::unique_ptr<File> file_;
  const EncrcdsaHeader header_;
};

}  // namespace

bool IsEncrcdsa(std::span<const std::byte> head) {
  return head.size() >= 8 && std::memcmp(head.data(), "encrcdsa", 8) == 0;
}

Result<EncrcdsaHeader> ParseEncrcdsaHeader(std::span<const std::byte> head, uint64_t file_size) {
  if (!IsEncrcdsa(head)) {
    return CorruptError("dmg: no encrcdsa signature");
  }
  if (head.size() < kEncrcdsaHeaderBytes) {
    return CorruptError("dmg: encrcdsa header truncated (" + std::to_string(head.size()) + " of " +
                        std::to_string(kEncrcdsaHeaderBytes) + " bytes)");
  }
  head = head.first(std::min<size_t>(head.size(), kEncrcdsaMaxHeaderBytes));
  const std::byte* p = head.data();
  EncrcdsaHeader h;
  h.version = LoadBE32(p + 8);
  if (h.version != 2) {
    return UnsupportedError("dmg: encrcdsa version " + std::to_string(h.version) +
                            " (only version 2)");
  }
  h.key_bits = LoadBE32(p + 24);
  if (h.key_bits != 128 && h.key_bits != 256) {
    return UnsupportedError("dmg: encrcdsa AES key size " + std::to_string(h.key_bits) +
                            " bits (only 128 and 256)");
  }
  h.uuid = Hex(head.subspan(36, 16));
  h.block_size = LoadBE32(p + 52);
  if (h.block_size < kMinBlockSize || h.block_size > kMaxBlockSize ||
      (h.block_size & (h.block_size - 1)) != 0) {
    return CorruptError("dmg: encrcdsa block size " + std::to_string(h.block_size) +
                        " is not a power of two in 512..1048576");
  }
  h.data_size = LoadBE64(p + 56);
  h.data_offset = LoadBE64(p + 64);
  h.slot_count = LoadBE32(p + 72);
  if (h.slot_count == 0 || h.slot_count > kEncrcdsaMaxSlots) {
    return CorruptError("dmg: encrcdsa key-slot count " + std::to_string(h.slot_count) +
                        " outside 1.." + std::to_string(kEncrcdsaMaxSlots));
  }
  const uint64_t table_end =
      kEncrcdsaHeaderBytes + uint64_t{h.slot_count} * kEncrcdsaSlotPointerBytes;
  if (h.data_offset < table_end || h.data_offset > file_size) {
    return CorruptError("dmg: encrcdsa data offset " + std::to_string(h.data_offset) +
                        " outside the file (" + std::to_string(file_size) + " bytes)");
  }
  const uint64_t blocks = h.data_size / h.block_size + (h.data_size % h.block_size != 0 ? 1 : 0);
  if (blocks > (uint64_t{1} << 32) || blocks * h.block_size > file_size - h.data_offset) {
    return CorruptError("dmg: encrcdsa data of " + std::to_string(h.data_size) + " bytes at " +
                        std::to_string(h.data_offset) + " runs past the end of the file (" +
                        std::to_string(file_size) + " bytes)");
  }
  if (head.size() < table_end) {
    return CorruptError("dmg: encrcdsa key-slot table truncated");
  }
  // Key material lies between the slot table and the data.
  const std::span<const std::byte> slots_area =
      head.first(static_cast<size_t>(std::min<uint64_t>(head.size(), h.data_offset)));
  for (uint32_t i = 0; i < h.slot_count; ++i) {
    const std::byte* e = p + kEncrcdsaHeaderBytes + size_t{i} * kEncrcdsaSlotPointerBytes;
    const uint32_t type = LoadBE32(e);
    const uint64_t offset = LoadBE64(e + 4);
    const uint64_t size = LoadBE64(e + 12);
    if (type == kEncrcdsaSlotPassphrase) {
      IMGFS_ASSIGN_OR_RETURN(EncrcdsaPasswordSlot slot,
                             ParsePasswordSlot(slots_area, offset, size, i));
      h.password_slots.push_back(std::move(slot));
    } else if (type == kEncrcdsaSlotPublicKey) {
      ++h.public_key_slots;
    }
  }
  return h;
}

Result<EncrcdsaKeys> UnwrapEncrcdsaSlot(const EncrcdsaHeader& header,
                                        const EncrcdsaPasswordSlot& slot,
                                        std::span<const std::byte> derived_key) {
  if (derived_key.size() != kDerivedKeyBytes || slot.iv.size() != DES3_BLOCK_SIZE ||
      slot.wrapped.empty() || slot.wrapped.size() % DES3_BLOCK_SIZE != 0) {
    return InternalError("dmg: key unwrap called with bad sizes");
  }
  IMGFS_ASSIGN_OR_RETURN(SecretBytes ctx_bytes, SecretBytes::Allocate(sizeof(des3_ctx)));
  auto* des = reinterpret_cast<des3_ctx*>(ctx_bytes.bytes().data());
  des3_set_key(des, U8(derived_key.data()));  // weak keys only warn; parity is ignored
  IMGFS_ASSIGN_OR_RETURN(SecretBytes plain, SecretBytes::Allocate(slot.wrapped.size()));
  uint8_t iv[DES3_BLOCK_SIZE];
  std::memcpy(iv, slot.iv.data(), sizeof iv);
  cbc_decrypt(des, reinterpret_cast<nettle_cipher_func*>(&des3_decrypt), DES3_BLOCK_SIZE, iv,
              slot.wrapped.size(), U8(plain.bytes().data()), U8(slot.wrapped.data()));
  // PKCS#7: 1..8 bytes, each holding the count.
  const std::span<const std::byte> out = plain.bytes();
  const unsigned pad = std::to_integer<unsigned>(out.back());
  bool good = pad >= 1 && pad <= DES3_BLOCK_SIZE;
  for (size_t i = 0; good && i < pad; ++i) {
    good = std::to_integer<unsigned>(out[out.size() - 1 - i]) == pad;
  }
  const size_t aes_bytes = header.key_bits / 8;
  if (!good || out.size() - pad < aes_bytes + kHmacKeyBytes) {
    return KeyRejectedError("dmg: no key slot accepts this passphrase");
  }
  EncrcdsaKeys keys;
  IMGFS_ASSIGN_OR_RETURN(keys.aes, SecretBytes::Copy(out.first(aes_bytes)));
  IMGFS_ASSIGN_OR_RETURN(keys.hmac, SecretBytes::Copy(out.subspan(aes_bytes, kHmacKeyBytes)));
  return keys;
}

Result<EncrcdsaKeys> UnlockEncrcdsa(const EncrcdsaHeader& header, const SecretBytes& passphrase) {
  if (header.password_slots.empty()) {
    return UnsupportedError("dmg: encrcdsa image has no passphrase key slot (" +
                            std::to_string(header.public_key_slots) +
                            " public-key slots; certificate-encrypted images are not supported)");
  }
  IMGFS_ASSIGN_OR_RETURN(SecretBytes derived, SecretBytes::Allocate(kDerivedKeyBytes));
  for (const EncrcdsaPasswordSlot& slot : header.password_slots) {
    pbkdf2_hmac_sha1(passphrase.size(), U8(passphrase.bytes().data()), slot.iterations,
                     slot.salt.size(), U8(slot.salt.data()), derived.size(),
                     U8(derived.bytes().data()));
    Result<EncrcdsaKeys> keys = UnwrapEncrcdsaSlot(header, slot, derived.bytes());
    if (keys.ok() || keys.status().code() != StatusCode::kKeyRejected) {
      return keys;
    }
  }
  return KeyRejectedError("dmg: no key slot accepts this passphrase");
}

Result<std::unique_ptr<File>> NewDecryptingFile(std::shared_ptr<const File> image,
                                                const EncrcdsaHeader& header, EncrcdsaKeys keys) {
  if (keys.aes.size() != header.key_bits / 8 || keys.hmac.size() != kHmacKeyBytes) {
    return InternalError("dmg: encrcdsa keys of the wrong size");
  }
  IMGFS_ASSIGN_OR_RETURN(SecretBytes schedule, SecretBytes::Allocate(sizeof(KeySchedule)));
  auto* s = new (schedule.bytes().data()) KeySchedule{};
  s->key_bits = static_cast<int>(header.key_bits);
  if (header.key_bits == 128) {
    aes128_set_decrypt_key(&s->aes128, U8(keys.aes.bytes().data()));
  } else {
    aes256_set_decrypt_key(&s->aes256, U8(keys.aes.bytes().data()));
  }
  hmac_sha1_set_key(&s->hmac, keys.hmac.size(), U8(keys.hmac.bytes().data()));
  return std::unique_ptr<File>(
      std::make_unique<DecryptingFile>(std::move(image), header, std::move(schedule)));
}

Result<std::unique_ptr<BlockDevice>> OpenEncrypted(std::unique_ptr<File> file,
                                                   const OpenContext& ctx) {
  IMGFS_ASSIGN_OR_RETURN(const uint64_t file_size, file->Size());
  std::vector<std::byte> head(
      static_cast<size_t>(std::min<uint64_t>(file_size, kEncrcdsaMaxHeaderBytes)));
  IMGFS_ASSIGN_OR_RETURN(const size_t got, file->ReadAt(0, head));
  head.resize(got);
  IMGFS_ASSIGN_OR_RETURN(EncrcdsaHeader header, ParseEncrcdsaHeader(head, file_size));
  IMGFS_ASSIGN_OR_RETURN(const SecretBytes* passphrase, PassphraseFor(ctx, "dmg: " + ctx.path));
  if (passphrase == nullptr) {
    return std::unique_ptr<BlockDevice>(
        std::make_unique<LockedDevice>(std::move(file), std::move(header)));
  }
  IMGFS_ASSIGN_OR_RETURN(EncrcdsaKeys keys, UnlockEncrcdsa(header, *passphrase));
  IMGFS_ASSIGN_OR_RETURN(std::unique_ptr<File> plain,
                         NewDecryptingFile(std::move(file), header, std::move(keys)));

  // What the decrypted bytes hold: UDIF (koly at the end), a sparse image,
  // or a raw disk.
  std::vector<std::byte> probe_head(
      static_cast<size_t>(std::min<uint64_t>(header.data_size, kProbeHeadBytes)));
  IMGFS_RETURN_IF_ERROR(plain->ReadExactAt(0, probe_head, "dmg: decrypted image head"));
  std::vector<std::byte> tail(
      static_cast<size_t>(std::min<uint64_t>(header.data_size, kKolyBytes)));
  IMGFS_RETURN_IF_ERROR(
      plain->ReadExactAt(header.data_size - tail.size(), tail, "dmg: decrypted image tail"));
  const ProbeInput in{probe_head, tail, header.data_size};
  std::unique_ptr<BlockDevice> inner;
  std::string kind;
  if (tail.size() == kKolyBytes && std::memcmp(tail.data(), "koly", 4) == 0) {
    IMGFS_ASSIGN_OR_RETURN(std::shared_ptr<const UdifImage> image,
                           LoadUdif(std::shared_ptr<const File>(std::move(plain)), &ctx));
    IMGFS_ASSIGN_OR_RETURN(inner, NewUdifDevice(std::move(image), ctx.cache, ctx.options->pool));
    kind = "UDIF";
  } else if (ProbeSparseImage(in) > 0) {
    IMGFS_ASSIGN_OR_RETURN(inner, OpenSparseImage(std::move(plain), ctx.cache));
    kind = "sparseimage";
  } else {
    inner = raw::NewRawDevice(std::move(plain), header.data_size);
    kind = "raw";
  }
  return std::unique_ptr<BlockDevice>(
      std::make_unique<EncryptedDevice>(std::move(inner), std::move(header), kind));
}

}  // namespace imgfs::dmg
