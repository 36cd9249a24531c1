// SPDX-License-Identifier: MIT
// Nettle's hash and cipher descriptors by LUKS name; private to core/crypto/.
#pragma once

#include <nettle/nettle-meta.h>

#include <cstddef>
#include <string_view>

namespace imgfs::crypto {

// Null when unknown.
const nettle_hash* FindHash(std::string_view name);
// The cipher `name` with a key of `key_bytes`, or null.
const nettle_cipher* FindCipher(std::string_view name, size_t key_bytes);

}  // namespace imgfs::crypto
