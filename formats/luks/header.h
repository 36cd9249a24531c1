// SPDX-License-Identifier: MIT
// LUKS1 and LUKS2 headers: decoding and validation, no key material. The
// LUKS1 layout is cryptsetup's "LUKS On-Disk Format Specification 1.2.3";
// LUKS2 is "LUKS2 On-Disk Format Specification" (two binary headers, each
// followed by a JSON area). Everything here is bounded by the header sizes
// and is what the fuzzers exercise.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/io/file.h"
#include "core/result.h"

namespace imgfs::luks {

inline constexpr size_t kLuks1HeaderBytes = 592;
inline constexpr int kLuks1Slots = 8;
inline constexpr size_t kLuks2BinaryHeaderBytes = 4096;
// Key sizes imgfs accepts (cryptsetup's largest is 512 bits per cipher,
// twice that for xts).
inline constexpr size_t kMaxKeyBytes = 128;
// AF stripes: cryptsetup writes 4000; more is refused to bound memory.
inline constexpr uint32_t kMaxStripes = 65536;

struct Luks1Slot {
  bool active = false;
  uint32_t iterations = 0;
  std::array<std::byte, 32> salt{};
  uint32_t key_offset = 0;  // 512-byte sectors
  uint32_t stripes = 0;
};

struct Luks1Header {
  std::string cipher_name;
  std::string cipher_mode;
  std::string hash;
  uint32_t payload_offset = 0;  // 512-byte sectors
  uint32_t key_bytes = 0;
  std::array<std::byte, 20> mk_digest{};
  std::array<std::byte, 32> mk_digest_salt{};
  uint32_t mk_digest_iterations = 0;
  std::string uuid;
  std::array<Luks1Slot, kLuks1Slots> slots;
};

// Decodes the first kLuks1HeaderBytes of `bytes`. kCorrupt with the field
// when a value is impossible (version, key size, stripes, a key slot outside
// `file_size` or overlapping the payload).
Result<Luks1Header> DecodeLuks1(std::span<const std::byte> bytes, uint64_t file_size);

struct Luks2Kdf {
  std::string type;  // "pbkdf2", "argon2i", "argon2id"
  std::string hash;  // pbkdf2
  uint32_t iterations = 0;
  uint32_t time = 0;
  uint64_t memory_kib = 0;
  uint32_t cpus = 0;
  std::vector<std::byte> salt;
};

struct Luks2Keyslot {
  std::string id;
  size_t key_size = 0;
  int priority = 1;
  Luks2Kdf kdf;
  std::string af_hash;
  uint32_t stripes = 0;
  uint64_t area_offset = 0;
  uint64_t area_size = 0;
  std::string area_encryption;
  size_t area_key_size = 0;
};

struct Luks2Digest {
  std::string id;
  std::vector<std::string> keyslots;
  std::vector<std::string> segments;
  std::string hash;
  uint32_t iterations = 0;
  std::vector<std::byte> salt;
  std::vector<std::byte> digest;
};

struct Luks2Segment {
  std::string id;
  uint64_t offset = 0;
  std::optional<uint64_t> size;  // nullopt: "dynamic"
  uint64_t iv_tweak = 0;
  std::string encryption;
  uint32_t sector_size = 512;
};

struct Luks2Header {
  uint64_t hdr_size = 0;
  uint64_t seqid = 0;
  uint64_t hdr_offset = 0;  // of the copy used
  std::string label;
  std::string subsystem;
  std::string checksum_alg;
  std::string uuid;
  std::vector<Luks2Keyslot> keyslots;
  std::vector<Luks2Digest> digests;
  Luks2Segment segment;
  uint64_t keyslots_size = 0;
  std::vector<std::string> flags;
  std::vector<std::string> notes;  // a damaged copy, say
};

// The largest LUKS2 header (binary + JSON) cryptsetup makes: 4 MiB.
inline constexpr uint64_t kMaxLuks2HeaderBytes = uint64_t{4} << 20;

// Reads both LUKS2 header copies from `file`, checks their checksums and
// returns the valid one with the higher sequence number. kCorrupt when
// neither is valid or the JSON is malformed; kUnsupported naming a
// requirement, segment or key slot type imgfs does not implement.
Result<Luks2Header> ReadLuks2(const File& file);

// Decodes one JSON area (already checksummed) into `h`.
Status DecodeLuks2Json(std::string_view json, Luks2Header* h);

}  // namespace imgfs::luks
