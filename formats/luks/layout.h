// SPDX-License-Identifier: MIT
// A LUKS header of either version as the devices built on it need it: read
// from a File whose byte 0 is the header (a LUKS volume, a detached header,
// or the encryption header clusters inside a qcow2 image), turned into a
// cipher, a payload layout and the `info` fields qemu-img shows, and
// unlocked with a passphrase.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/crypto/secret.h"
#include "core/crypto/sector_cipher.h"
#include "core/io/file.h"
#include "core/result.h"
#include "formats/luks/header.h"

namespace imgfs::luks {

// What the header says, ready for Describe and for the device.
struct Layout {
  crypto::CipherSpec spec;
  uint64_t payload_offset = 0;
  std::optional<uint64_t> payload_size;  // nullopt: to the end of the file
  uint32_t sector_size = 512;
  uint64_t iv_tweak = 0;  // 512-byte units
  nlohmann::json data;    // format-specific info (qemu-img's luks keys)
  std::vector<std::string> notes;
};

struct OpenedHeader {
  std::optional<Luks1Header> v1;
  std::optional<Luks2Header> v2;
  Layout layout;
};

// Reads and decodes the header at byte 0 of `file` (LUKS1 or LUKS2, by its
// version field). kCorrupt "luks: <name> has no LUKS header" without the
// magic; the decoders' errors otherwise; kUnsupported for another version
// or a cipher imgfs cannot decrypt.
Result<OpenedHeader> ReadHeader(const File& file, const std::string& name);

// The volume key for `passphrase`, from the key slots of `h` (read from
// `file`, the file ReadHeader read). kKeyRejected when no slot accepts it.
Result<SecretBytes> Unlock(const OpenedHeader& h, const File& file, const SecretBytes& passphrase);

}  // namespace imgfs::luks
