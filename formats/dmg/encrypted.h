// SPDX-License-Identifier: MIT
// Encrypted Apple disk images: the `encrcdsa` (version 2) container that
// hdiutil and Disk Utility write around an ordinary image. The container
// starts with its header; a table of key slots follows, each a wrapped copy
// of the image's AES and HMAC-SHA1 keys. Passphrase slots derive a 3DES key
// with PBKDF2-HMAC-SHA1 and unwrap the keys with 3DES-EDE-CBC (PKCS#7
// padding). The data is AES-CBC in blocks of `block_size` bytes, each block
// with its own IV: the first 16 bytes of HMAC-SHA1(hmac key, big-endian
// 32-bit block number). The decrypted bytes are an ordinary UDIF image, a
// sparse image or a raw disk, read by the other dmg code through a
// decrypting File. See formats/dmg/README.md ("Encrypted images").
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/crypto/secret.h"
#include "formats/format_driver.h"

namespace imgfs::dmg {

inline constexpr size_t kEncrcdsaHeaderBytes = 76;         // through the key-slot count
inline constexpr size_t kEncrcdsaSlotPointerBytes = 20;    // type, offset, size
inline constexpr size_t kEncrcdsaPasswordSlotBytes = 104;  // before the wrapped blob
// What Open reads to parse the header and every key slot.
inline constexpr size_t kEncrcdsaMaxHeaderBytes = 64 * 1024;
// Bounds on what a header may ask for.
inline constexpr uint32_t kEncrcdsaMaxSlots = 16;
inline constexpr uint32_t kEncrcdsaMaxBlob = 512;
// PBKDF2 work per passphrase slot: hdiutil calibrates the count to about a
// tenth of a second on the writing Mac (1000 in the oldest images, a few
// hundred thousand in recent ones). Anything above five million (several
// seconds of SHA-1 per slot) is refused as corrupt, not computed.
inline constexpr uint32_t kEncrcdsaMaxIterations = 5'000'000;

// Key slot types in the pointer table.
inline constexpr uint32_t kEncrcdsaSlotPassphrase = 1;
inline constexpr uint32_t kEncrcdsaSlotPublicKey = 2;

// A passphrase key slot.
struct EncrcdsaPasswordSlot {
  uint64_t offset = 0;      // in the file
  uint32_t iterations = 0;  // PBKDF2-HMAC-SHA1
  std::vector<std::byte> salt;
  std::vector<std::byte> iv;       // 8 bytes: 3DES-EDE-CBC
  std::vector<std::byte> wrapped;  // the encrypted key blob
};

struct EncrcdsaHeader {
  uint32_t version = 0;
  uint32_t key_bits = 0;  // AES-128 or AES-256
  uint32_t block_size = 0;
  uint64_t data_size = 0;  // bytes of the decrypted image
  uint64_t data_offset = 0;
  uint32_t slot_count = 0;  // every slot in the pointer table
  std::vector<EncrcdsaPasswordSlot> password_slots;
  uint32_t public_key_slots = 0;
  std::string uuid;  // of the container, as 32 hex digits
};

// True when `head` starts with the "encrcdsa" magic.
bool IsEncrcdsa(std::span<const std::byte> head);

// Parses the header and key-slot table from the file's first bytes
// (`head`, up to kEncrcdsaMaxHeaderBytes) of a file of `file_size` bytes.
// kCorrupt for truncated or out-of-range fields, kUnsupported for other
// versions and algorithms; every message is one line starting "dmg:".
Result<EncrcdsaHeader> ParseEncrcdsaHeader(std::span<const std::byte> head, uint64_t file_size);

// The image's keys, in locked memory.
struct EncrcdsaKeys {
  SecretBytes aes;   // 16 or 32 bytes
  SecretBytes hmac;  // 20 bytes
};

// Unwraps one passphrase slot with `derived_key` (24 bytes of PBKDF2
// output): 3DES-EDE-CBC, PKCS#7 padding checked. kKeyRejected when the
// padding or length is wrong (the usual sign of a wrong passphrase).
Result<EncrcdsaKeys> UnwrapEncrcdsaSlot(const EncrcdsaHeader& header,
                                        const EncrcdsaPasswordSlot& slot,
                                        std::span<const std::byte> derived_key);

// Tries `passphrase` on every passphrase slot. KeyRejectedError("dmg: no
// key slot accepts this passphrase") when none does; kUnsupported when the
// image has only public-key slots.
Result<EncrcdsaKeys> UnlockEncrcdsa(const EncrcdsaHeader& header, const SecretBytes& passphrase);

// A read-only File of the decrypted image (header.data_size bytes) over
// the container `image`. Reads may run on many threads.
Result<std::unique_ptr<File>> NewDecryptingFile(std::shared_ptr<const File> image,
                                                const EncrcdsaHeader& header, EncrcdsaKeys keys);

// The `dmg` driver's Open for an encrcdsa container: parses the header,
// unlocks it with ctx.options->passphrase and opens the decrypted image
// (UDIF, sparse image or raw). Without a passphrase: KeyRequiredError, or,
// with OpenOptions::metadata_only, a device whose Describe shows the
// encryption and whose reads return KeyRequiredError.
Result<std::unique_ptr<BlockDevice>> OpenEncrypted(std::unique_ptr<File> file,
                                                   const OpenContext& ctx);

}  // namespace imgfs::dmg
