// SPDX-License-Identifier: MIT
// Key derivation for encrypted images: hashes by LUKS name, PBKDF2 over any
// of them, the anti-forensic (AF) merge of LUKS key slots, and Argon2i /
// Argon2id (LUKS2). Every output is SecretBytes; inputs are spans so that
// callers pass SecretBytes without copying them out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/crypto/secret.h"
#include "core/result.h"

namespace imgfs::crypto {

// The digest size of a hash named as LUKS headers name them ("sha1",
// "sha256", "sha512", "ripemd160", also "sha224", "sha384"), or 0 when
// imgfs does not know it.
size_t HashSize(std::string_view hash);

// hash(data) into `out` (REQUIRES: out.size() == HashSize(hash) > 0).
void Hash(std::string_view hash, std::span<const std::byte> data, std::span<std::byte> out);

// PBKDF2-HMAC-`hash` of `password` into out.size() bytes. kInvalidArgument
// when the hash is unknown or iterations is 0.
Result<SecretBytes> Pbkdf2(std::string_view hash, std::span<const std::byte> password,
                           std::span<const std::byte> salt, uint32_t iterations, size_t out_size);

// Merges LUKS's anti-forensic split: `material` holds `stripes` stripes of
// `key_size` bytes each; the result is the key_size-byte key.
// kInvalidArgument when the hash is unknown, stripes is 0 or material is
// shorter than stripes * key_size.
Result<SecretBytes> AfMerge(std::string_view hash, std::span<const std::byte> material,
                            size_t key_size, uint32_t stripes);

enum class Argon2Type { kArgon2i, kArgon2id };

// The largest Argon2 memory cost LUKS2 allows (cryptsetup: 4 GiB), in KiB.
inline constexpr uint64_t kMaxArgon2MemoryKiB = uint64_t{4} << 20;

// Argon2 (version 0x13) of `password`. `memory_kib` above
// kMaxArgon2MemoryKiB, or above the memory the system has available
// (MemAvailable), is refused with kInvalidArgument naming both numbers;
// kUnsupported when imgfs was built without libargon2.
Result<SecretBytes> Argon2(Argon2Type type, std::span<const std::byte> password,
                           std::span<const std::byte> salt, uint32_t time_cost, uint64_t memory_kib,
                           uint32_t threads, size_t out_size);

}  // namespace imgfs::crypto
