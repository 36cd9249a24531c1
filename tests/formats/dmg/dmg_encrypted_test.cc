// SPDX-License-Identifier: MIT
// encrcdsa containers through the library: images wrapped at test time by
// tests/formats/dmg/make_encrcdsa.py (checked against Debian's vfdecrypt in
// tests/fuse/dmg_encrypted_mount_test.cc) read back as the plaintext, with
// AES-128 and AES-256, several key slots, a wrong or missing passphrase,
// metadata-only opens, and header fields out of range.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/cache/cache.h"
#include "core/util/endian.h"
#include "formats/dmg/encrypted.h"
#include "formats/open.h"
#include "tests/fuse/test_util.h"
#include "tests/testing/passphrase.h"

namespace imgfs::dmg {
namespace {

using testing::RandomBytes;
using testing::ReadFile;
using testing::RunCommand;
using testing::RunResult;
using testing::TempDir;
using testing::WriteFile;

const std::string kScript = std::string(IMGFS_TEST_DATA_DIR) + "/../formats/dmg/make_encrcdsa.py";

using ::imgfs::testing::TestPassphrase;

// Wraps `plain` and returns the container's bytes.
std::string Encrypt(const std::string& plain, const std::string& pass,
                    std::vector<std::string> extra = {}) {
  TempDir dir;
  WriteFile(dir / "plain", plain);
  WriteFile(dir / "pass", pass);
  std::vector<std::string> argv = {"python3",           kScript,     dir / "plain", dir / "enc",
                                   "--passphrase-file", dir / "pass"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  RunResult r = RunCommand(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return ReadFile(dir / "enc");
}

Result<std::unique_ptr<BlockDevice>> Open(const std::string& image, OpenOptions options,
                                          Cache* cache) {
  return OpenImageFile(NewMemoryFile("enc.dmg", image), options, cache);
}

std::string ReadAll(const BlockDevice& dev) {
  std::string out(dev.Size(), '\0');
  EXPECT_TRUE(dev.Read(0, std::as_writable_bytes(std::span(out))).ok());
  return out;
}

TEST(DmgEncryptedTest, Aes128And256RawContentsReadBack) {
  Cache cache(8 << 20);
  const std::string plain = RandomBytes(3 * 4096 + 1000, 7);  // a partial last block
  for (const char* bits : {"128", "256"}) {
    SCOPED_TRACE(bits);
    const std::string image = Encrypt(plain, "pw", {"--key-bits", bits, "--block-size", "4096"});
    OpenOptions options;
    options.passphrase = TestPassphrase("pw");
    auto dev = Open(image, options, &cache);
    ASSERT_TRUE(dev.ok()) << dev.status().ToString();
    ASSERT_EQ((*dev)->Size(), plain.size());
    EXPECT_TRUE(ReadAll(**dev) == plain);
    // Odd reads across block edges.
    std::string piece(5000, '\0');
    ASSERT_TRUE((*dev)->Read(4000, std::as_writable_bytes(std::span(piece))).ok());
    EXPECT_TRUE(piece == plain.substr(4000, 5000));
    const ImageInfo info = (*dev)->Describe();
    EXPECT_EQ(info.format, "dmg");
    EXPECT_EQ(info.encryption, std::string("encrcdsa v2 (AES-") + bits + ")");
    EXPECT_EQ(info.format_specific["data"]["encryption"]["contents"], "raw");
  }
}

TEST(DmgEncryptedTest, EverySlotIsTriedAndPublicKeySlotsSkipped) {
  Cache cache(8 << 20);
  const std::string plain = RandomBytes(8192, 8);
  const std::string image = Encrypt(
      plain, "right", {"--decoy-passphrase", "other", "--public-key-slot", "--key-bits", "256"});
  OpenOptions options;
  for (const char* pass : {"right", "other"}) {
    options.passphrase = TestPassphrase(pass);
    auto dev = Open(image, options, &cache);
    ASSERT_TRUE(dev.ok()) << dev.status().ToString();
    // The decoy slot holds other keys: it unlocks, but to other bytes.
    EXPECT_EQ(ReadAll(**dev) == plain, std::string(pass) == "right");
  }
  auto head = std::as_bytes(std::span(image));
  auto header = ParseEncrcdsaHeader(head, image.size());
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  EXPECT_EQ(header->slot_count, 3u);
  EXPECT_EQ(header->password_slots.size(), 2u);
  EXPECT_EQ(header->public_key_slots, 1u);
}

TEST(DmgEncryptedTest, WrongMissingAndMetadataOnly) {
  Cache cache(8 << 20);
  const std::string image = Encrypt(RandomBytes(4096, 9), "pw");
  OpenOptions options;
  options.passphrase = TestPassphrase("wrong");
  auto dev = Open(image, options, &cache);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), StatusCode::kKeyRejected);
  EXPECT_EQ(dev.status().message(), "dmg: no key slot accepts this passphrase");

  options.passphrase = nullptr;
  dev = Open(image, options, &cache);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), StatusCode::kKeyRequired);

  options.metadata_only = true;
  dev = Open(image, options, &cache);
  ASSERT_TRUE(dev.ok()) << dev.status().ToString();
  const ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.encryption, "encrcdsa v2 (AES-128)");
  const auto& slot = info.format_specific["data"]["encryption"]["key-slots"][0];
  EXPECT_EQ(slot["iterations"], 1000);
  EXPECT_EQ(slot["kdf"], "PBKDF2-HMAC-SHA1");
  std::byte b[16];
  EXPECT_EQ((*dev)->Read(0, b).code(), StatusCode::kKeyRequired);
}

// A one-slot container made here: header fields can be set one by one.
class Header {
 public:
  Header() : bytes_(8192 + 4096, std::byte{0}) {
    std::memcpy(bytes_.data(), "encrcdsa", 8);
    Set32(8, 2);
    Set32(12, 16);
    Set32(24, 128);
    Set32(52, 4096);
    Set64(56, 4096);
    Set64(64, 8192);
    Set32(72, 1);
    Set32(76, kEncrcdsaSlotPassphrase);
    Set64(80, 0x2a8);
    Set64(88, 104 + 48);
    Set32(0x2a8, 103);
    Set32(0x2a8 + 8, 1000);
    Set32(0x2a8 + 12, 20);
    Set32(0x2a8 + 48, 8);
    Set32(0x2a8 + 84, 192);
    Set32(0x2a8 + 88, 17);
    Set32(0x2a8 + 92, 7);
    Set32(0x2a8 + 96, 6);
    Set32(0x2a8 + 100, 48);
  }
  void Set32(size_t at, uint32_t v) { StoreBE32(bytes_.data() + at, v); }
  void Set64(size_t at, uint64_t v) { StoreBE64(bytes_.data() + at, v); }
  Status Parse(size_t keep = SIZE_MAX) const {
    auto span = std::span(bytes_).first(std::min(keep, bytes_.size()));
    return ParseEncrcdsaHeader(span, span.size()).status();
  }

 private:
  std::vector<std::byte> bytes_;
};

void ExpectOneLine(const Status& s, const std::string& words) {
  ASSERT_FALSE(s.ok()) << "accepted: " << words;
  EXPECT_EQ(s.message().rfind("dmg: ", 0), 0u) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(words), std::string::npos) << s.message();
}

TEST(DmgEncryptedTest, HeaderFieldsOutOfRange) {
  EXPECT_TRUE(Header().Parse().ok()) << Header().Parse().ToString();
  ExpectOneLine(Header().Parse(40), "header truncated");
  ExpectOneLine(Header().Parse(100), "data offset");
  struct Case {
    size_t at;
    uint64_t value;
    bool wide;
    const char* words;
  };
  const Case cases[] = {
      {8, 1, false, "version 1"},
      {24, 192, false, "key size 192"},
      {52, 0, false, "block size 0"},
      {52, 4097, false, "block size 4097"},
      {52, 1u << 30, false, "block size"},
      {72, 0, false, "key-slot count 0"},
      {72, 100000, false, "key-slot count"},
      {56, UINT64_MAX, true, "runs past the end"},
      {56, 8192, true, "runs past the end"},
      {64, UINT64_MAX, true, "data offset"},
      {64, 10, true, "data offset"},
      {80, 0xffffffffffull, true, "outside the header"},
      {80, 8190, true, "outside the header"},
      {0x2a8, 5, false, "key derivation 5"},
      {0x2a8 + 8, 0, false, "iteration count 0"},
      {0x2a8 + 8, kEncrcdsaMaxIterations + 1, false, "iteration count"},
      {0x2a8 + 8, UINT32_MAX, false, "iteration count"},
      {0x2a8 + 12, 33, false, "salt size 33"},
      {0x2a8 + 12, 0, false, "salt size 0"},
      {0x2a8 + 48, 4, false, "IV size 4"},
      {0x2a8 + 88, 2, false, "key blob cipher"},
      {0x2a8 + 100, 7, false, "wrapped key size 7"},
      {0x2a8 + 100, 4096, false, "wrapped key size 4096"},
      {0x2a8 + 100, UINT32_MAX, false, "wrapped key size"},
      {88, 20, true, "runs past the slot"},
  };
  for (const Case& c : cases) {
    Header h;
    c.wide ? h.Set64(c.at, c.value) : h.Set32(c.at, static_cast<uint32_t>(c.value));
    ExpectOneLine(h.Parse(), c.words);
  }
  // Only a public-key slot: parsed, then refused by name on unlock.
  Header h;
  h.Set32(76, kEncrcdsaSlotPublicKey);
  ASSERT_TRUE(h.Parse().ok());
}

TEST(DmgEncryptedTest, PublicKeyOnlyAndBadPaddingAreRefused) {
  Cache cache(8 << 20);
  std::string image = Encrypt(RandomBytes(4096, 10), "pw");
  // The slot's type in the pointer table: 1 (passphrase) becomes 2.
  std::string pk = image;
  StoreBE32(reinterpret_cast<std::byte*>(pk.data()) + 76, kEncrcdsaSlotPublicKey);
  OpenOptions options;
  options.passphrase = TestPassphrase("pw");
  auto dev = Open(pk, options, &cache);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(dev.status().message().find("public-key"), std::string::npos);
  // The last byte of the blob's next-to-last 3DES block flips the padding
  // byte of the last one (8 becomes 9): right passphrase, bad padding.
  std::string bad = image;
  bad[0x2a8 + 104 + 48 - 8 - 1] ^= 1;
  dev = Open(bad, options, &cache);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), StatusCode::kKeyRejected);
  // A truncated container.
  dev = Open(image.substr(0, 9000), options, &cache);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace imgfs::dmg
