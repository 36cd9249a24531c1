// SPDX-License-Identifier: MIT
// SecretBytes: key material (passphrases, key files, derived and master
// keys). The bytes live in their own anonymous mapping that is locked into
// memory (mlock: never swapped), left out of core dumps (MADV_DONTDUMP) and
// wiped before it is unmapped. Never copy them into a std::string, a log or
// an error message.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "core/result.h"

namespace imgfs {

// The largest secret imgfs accepts: cryptsetup's limit for a key file.
inline constexpr size_t kMaxSecretBytes = size_t{8} << 20;

// Move-only. Thread-safety: like a std::vector (const access is shared).
class SecretBytes {
 public:
  SecretBytes() = default;
  ~SecretBytes();
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  // `size` zero bytes. kInvalidArgument above kMaxSecretBytes; kIOError when
  // no memory can be mapped. A failed mlock (RLIMIT_MEMLOCK) is not an
  // error: the bytes are still kept out of core dumps and wiped; locked()
  // says which.
  static Result<SecretBytes> Allocate(size_t size);
  static Result<SecretBytes> Copy(std::span<const std::byte> bytes);

  std::span<std::byte> bytes() { return {data_, size_}; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool locked() const { return locked_; }

  // Shortens the secret to `size` bytes (wiping the rest).
  // REQUIRES: size <= this->size().
  void Truncate(size_t size);

 private:
  void Release() noexcept;

  std::byte* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;
  bool locked_ = false;
};

// The bytes of the file at `path`, exactly (no newline is stripped: like
// cryptsetup's --key-file and qemu's secret objects). kNotFound /
// kPermission / kIOError with the path; kInvalidArgument when the file is
// empty or larger than kMaxSecretBytes.
Result<SecretBytes> ReadSecretFile(const std::string& path);

// Overwrites `bytes` with zeros in a way the compiler may not drop.
void WipeBytes(std::span<std::byte> bytes) noexcept;

}  // namespace imgfs
