// SPDX-License-Identifier: MIT
#include "core/crypto/kdf.h"

#include <nettle/hmac.h>
#include <nettle/nettle-meta.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#ifdef IMGFS_HAVE_ARGON2
#include <argon2.h>
#endif

#include "core/crypto/hash_table.h"

namespace imgfs::crypto {
namespace {

const uint8_t* U8(const std::byte* p) { return reinterpret_cast<const uint8_t*>(p); }
uint8_t* U8(std::byte* p) { return reinterpret_cast<uint8_t*>(p); }

// MemAvailable from /proc/meminfo in KiB, or 0 when unknown.
uint64_t MemAvailableKiB() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t value = 0;
  std::string unit;
  while (in >> key >> value) {
    std::getline(in, unit);
    if (key == "MemAvailable:") {
      return value;
    }
  }
  return 0;
}

}  // namespace

size_t HashSize(std::string_view hash) {
  const nettle_hash* h = FindHash(hash);
  return h == nullptr ? 0 : h->digest_size;
}

void Hash(std::string_view hash, std::span<const std::byte> data, std::span<std::byte> out) {
  const nettle_hash* h = FindHash(hash);
  auto ctx = SecretBytes::Allocate(h->context_size);
  void* c = ctx->bytes().data();
  h->init(c);
  h->update(c, data.size(), U8(data.data()));
  h->digest(c, h->digest_size, U8(out.data()));
}

Result<SecretBytes> Pbkdf2(std::string_view hash, std::span<const std::byte> password,
                           std::span<const std::byte> salt, uint32_t iterations, size_t out_size) {
  const nettle_hash* h = FindHash(hash);
  if (h == nullptr) {
    return InvalidArgumentError("pbkdf2: unknown hash '" + std::string(hash) + "'");
  }
  if (iterations == 0) {
    return InvalidArgumentError("pbkdf2: zero iterations");
  }
  const size_t cs = h->context_size;
  const size_t ds = h->digest_size;
  // outer, inner, state, U, T: all key-derived.
  IMGFS_ASSIGN_OR_RETURN(SecretBytes work, SecretBytes::Allocate(3 * cs + 2 * ds));
  std::byte* outer = work.bytes().data();
  std::byte* inner = outer + cs;
  std::byte* state = inner + cs;
  std::byte* u = state + cs;
  std::byte* t = u + ds;
  IMGFS_ASSIGN_OR_RETURN(SecretBytes out, SecretBytes::Allocate(out_size));
  hmac_set_key(outer, inner, state, h, password.size(), U8(password.data()));
  for (uint32_t block = 1, done = 0; done < out_size; ++block) {
    const uint8_t be[4] = {static_cast<uint8_t>(block >> 24), static_cast<uint8_t>(block >> 16),
                           static_cast<uint8_t>(block >> 8), static_cast<uint8_t>(block)};
    hmac_update(state, h, salt.size(), U8(salt.data()));
    hmac_update(state, h, 4, be);
    hmac_digest(outer, inner, state, h, ds, U8(u));
    std::memcpy(t, u, ds);
    for (uint32_t i = 1; i < iterations; ++i) {
      hmac_update(state, h, ds, U8(u));
      hmac_digest(outer, inner, state, h, ds, U8(u));
      for (size_t k = 0; k < ds; ++k) {
        t[k] ^= u[k];
      }
    }
    const size_t n = std::min<size_t>(ds, out_size - done);
    std::memcpy(out.bytes().data() + done, t, n);
    done += static_cast<uint32_t>(n);
  }
  return out;
}

Result<SecretBytes> AfMerge(std::string_view hash, std::span<const std::byte> material,
                            size_t key_size, uint32_t stripes) {
  const nettle_hash* h = FindHash(hash);
  if (h == nullptr) {
    return InvalidArgumentError("AF merge: unknown hash '" + std::string(hash) + "'");
  }
  if (stripes == 0 || key_size == 0 || material.size() / stripes < key_size) {
    return InvalidArgumentError("AF merge: " + std::to_string(material.size()) +
                                " bytes do not hold " + std::to_string(stripes) + " stripes of " +
                                std::to_string(key_size) + " bytes");
  }
  const size_t ds = h->digest_size;
  IMGFS_ASSIGN_OR_RETURN(SecretBytes d, SecretBytes::Allocate(key_size));
  IMGFS_ASSIGN_OR_RETURN(SecretBytes work, SecretBytes::Allocate(h->context_size + ds));
  void* ctx = work.bytes().data();
  std::byte* digest = work.bytes().data() + h->context_size;
  std::byte* dp = d.bytes().data();
  for (uint32_t s = 0; s + 1 < stripes; ++s) {
    const std::byte* stripe = material.data() + size_t{s} * key_size;
    for (size_t k = 0; k < key_size; ++k) {
      dp[k] ^= stripe[k];
    }
    // Diffuse: each digest-sized block i becomes H(be32(i) || block),
    // truncated for the last partial block.
    for (size_t off = 0, i = 0; off < key_size; off += ds, ++i) {
      const size_t n = std::min(ds, key_size - off);
      const uint8_t be[4] = {static_cast<uint8_t>(i >> 24), static_cast<uint8_t>(i >> 16),
                             static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
      h->init(ctx);
      h->update(ctx, 4, be);
      h->update(ctx, n, U8(dp + off));
      h->digest(ctx, ds, U8(digest));
      std::memcpy(dp + off, digest, n);
    }
  }
  const std::byte* last = material.data() + size_t{stripes - 1} * key_size;
  for (size_t k = 0; k < key_size; ++k) {
    dp[k] ^= last[k];
  }
  return d;
}

Result<SecretBytes> Argon2(Argon2Type type, std::span<const std::byte> password,
                           std::span<const std::byte> salt, uint32_t time_cost, uint64_t memory_kib,
                           uint32_t threads, size_t out_size) {
  if (memory_kib > kMaxArgon2MemoryKiB) {
    return InvalidArgumentError("argon2: memory cost " + std::to_string(memory_kib) +
                                " KiB is above LUKS2's maximum of " +
                                std::to_string(kMaxArgon2MemoryKiB) + " KiB");
  }
  const uint64_t avail = MemAvailableKiB();
  if (avail != 0 && memory_kib > avail) {
    return InvalidArgumentError("argon2: memory cost " + std::to_string(memory_kib) +
                                " KiB is above the " + std::to_string(avail) +
                                " KiB of memory available (MemAvailable)");
  }
  if (time_cost == 0 || threads == 0 || threads > 16 || memory_kib < 8 * uint64_t{threads}) {
    return InvalidArgumentError("argon2: invalid costs (time " + std::to_string(time_cost) +
                                ", memory " + std::to_string(memory_kib) + " KiB, threads " +
                                std::to_string(threads) + ")");
  }
#ifdef IMGFS_HAVE_ARGON2
  IMGFS_ASSIGN_OR_RETURN(SecretBytes out, SecretBytes::Allocate(out_size));
  const int rc = argon2_hash(
      time_cost, static_cast<uint32_t>(memory_kib), threads, password.data(), password.size(),
      salt.data(), salt.size(), out.bytes().data(), out.size(), nullptr, 0,
      type == Argon2Type::kArgon2i ? Argon2_i : Argon2_id, ARGON2_VERSION_13);
  if (rc != ARGON2_OK) {
    return IOError(std::string("argon2: ") + argon2_error_message(rc), ENOMEM);
  }
  return out;
#else
  (void)type;
  (void)password;
  (void)salt;
  (void)out_size;
  return UnsupportedError("argon2: imgfs was built without libargon2");
#endif
}

}  // namespace imgfs::crypto
