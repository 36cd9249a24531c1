// SPDX-License-Identifier: MIT
// libFuzzer target for encrypted Apple disk images (encrcdsa v2): the
// header and key-slot table are parsed, every passphrase slot is unwrapped
// with a fixed 3DES key (no PBKDF2), and inputs whose slots ask for at most
// 16 PBKDF2 iterations are opened with the passphrase "fuzz" as `dmg` and
// read, mapped, described and checked, so the seeds (made with
// tests/formats/dmg/make_encrcdsa.py --iterations 1) reach the decrypted
// UDIF and raw contents. Inputs asking for more iterations are opened
// metadata-only: full PBKDF2 counts would only measure SHA-1.
// Seeds (corpus/dmg_encrypted/): corpus/dmg/adc.dmg (AES-128, 1 iteration,
// 512-byte blocks), corpus/dmg/lzma.dmg (1000 iterations: metadata only)
// and 3000 random bytes (AES-256, 2 iterations, a decoy passphrase slot
// and a public-key slot), each wrapped by make_encrcdsa.py with the
// passphrase "fuzz".
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/cache/cache.h"
#include "core/io/file.h"
#include "formats/dmg/encrypted.h"
#include "formats/open.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto bytes = std::as_bytes(std::span(input));
  auto header = imgfs::dmg::ParseEncrcdsaHeader(bytes, size);
  bool cheap = header.ok();
  if (header.ok()) {
    const std::byte key[24] = {std::byte{1}, std::byte{2}, std::byte{3}};
    for (const auto& slot : header->password_slots) {
      (void)imgfs::dmg::UnwrapEncrcdsaSlot(*header, slot, key);
      cheap = cheap && slot.iterations <= 16;
    }
  }
  imgfs::Cache cache(1u << 20);
  imgfs::OpenOptions options;
  options.format = "dmg";
  if (cheap) {
    auto pass = imgfs::SecretBytes::Copy(std::as_bytes(std::span("fuzz", 4)));
    if (!pass.ok()) {
      return 0;
    }
    options.passphrase = std::make_shared<const imgfs::SecretBytes>(std::move(*pass));
  } else {
    options.metadata_only = true;
  }
  auto dev = imgfs::OpenImageFile(imgfs::NewMemoryFile("fuzz.dmg", input), options, &cache);
  if (dev.ok()) {
    imgfs::fuzz::Exercise(**dev);
  }
  return 0;
}
