// SPDX-License-Identifier: MIT
// Encrypted qcow2 (encrypt.format=luks and the legacy aes) and qcow (aes)
// against qemu-img 7.2: images qemu-img makes and qemu-io fills at test
// time, over several LUKS ciphers, modes, IV generators and hashes, odd
// virtual sizes, zero clusters, an external data file and backing chains
// whose layers are plain, LUKS and AES in a mix (one passphrase for all),
// compared byte for byte with `qemu-img convert -O raw` given the secret;
// `info`'s "encrypt" object against `qemu-img info`; key errors; and
// damaged encryption headers: one-line errors, no crash.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "core/util/endian.h"
#include "formats/open.h"
#include "tests/testing/oracles.h"
#include "tests/testing/passphrase.h"
#include "tests/testing/qemu_fixture.h"

namespace imgfs::testing {
namespace {

constexpr const char* kQc2 = kQemuImgCreateQcow2LuksShell;
constexpr const char* kPass = "a passphrase longer than sixteen bytes";
constexpr const char* kSecret = "--object secret,id=s0,file=pw";

Result<std::unique_ptr<BlockDevice>> Open(const std::string& path, const OpenOptions& o) {
  static Cache cache(8 << 20);
  return OpenImage(path, o, &cache);
}

OpenOptions WithPass(const std::string& s = kPass) { return OptionsWithPassphrase(s); }

class Qcow2Encrypted : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE_QEMU();
    WriteWholeFile(dir_.Join("pw"), kPass);
  }
  // Runs qemu-io commands (each a -c) on `image_opts` with the secret.
  ::testing::AssertionResult Io(const std::string& image_opts,
                                const std::vector<std::string>& cmds) {
    std::string c = std::string("qemu-io ") + kSecret + " --image-opts " + image_opts;
    for (const std::string& cmd : cmds) {
      c += " -c " + ShellQuote(cmd);
    }
    return Sh(dir_.path(), c + " >/dev/null");
  }
  // qemu-img's decryption of `image_opts` (the oracle).
  std::string Reference(const std::string& image_opts) {
    EXPECT_TRUE(Sh(dir_.path(), std::string("rm -f ref.raw && qemu-img convert ") + kSecret +
                                    " --image-opts " + image_opts + " -O raw ref.raw"));
    return ReadWholeFile(dir_.Join("ref.raw"));
  }
  nlohmann::json QemuInfo(const std::string& image) {
    std::string out;
    EXPECT_TRUE(Sh(dir_.path(), "qemu-img info -U --output=json " + image + " 2>/dev/null", &out));
    return nlohmann::json::parse(out, nullptr, false);
  }
  TempDir dir_;
};

std::string Opts(const std::string& driver, const std::string& file, bool encrypted) {
  return "driver=" + driver + ",file.filename=" + file +
         (encrypted ? ",encrypt.key-secret=s0" : "");
}

// Writes out of guest order, so that host and guest offsets differ by
// more than the LUKS header: an IV taken from the wrong one shows.
const std::vector<std::string> kWrites = {
    "write -P 0x5a 2M 64k",       "write -P 0xa5 0 4k",         "write -P 0x33 100k 3000",
    "write -P 0x44 1M 200k",      "write -z 1088k 64k",         "write -P 0x66 3145216 512",
    "write -P 0x77 196608 65536", "write -P 0x12 2621440 81920"};

struct LuksCase {
  const char* options;  // the encrypt.* options beyond format and key-secret
  const char* cipher_alg;
  const char* cipher_mode;
};

class Qcow2Luks : public Qcow2Encrypted, public ::testing::WithParamInterface<LuksCase> {};

TEST_P(Qcow2Luks, ReadsWhatQemuWroteAndDescribesLikeQemuImgInfo) {
  const LuksCase& c = GetParam();
  // An odd virtual size (qemu-img rounds to sectors) and 4 KiB clusters.
  ASSERT_TRUE(
      Sh(dir_.path(), std::string(kQc2) + "qc2 -q -f qcow2 " + kSecret +
                          " -o encrypt.format=luks,encrypt.key-secret=s0,cluster_size=4096" +
                          c.options + " img.qcow2 3145985"));
  ASSERT_TRUE(Io(Opts("qcow2", "img.qcow2", true), kWrites));
  const std::string ref = Reference(Opts("qcow2", "img.qcow2", true));
  ASSERT_EQ(ref.size(), 3146240u);
  auto dev = Open(dir_.Join("img.qcow2"), WithPass());
  ASSERT_TRUE(dev.ok()) << dev.status().message();
  EXPECT_TRUE(DeviceMatches(**dev, ref));
  const ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.encryption, "luks");
  const nlohmann::json q = QemuInfo("img.qcow2");
  ASSERT_FALSE(q.is_discarded());
  EXPECT_EQ(info.format_specific["data"]["encrypt"], q["format-specific"]["data"]["encrypt"]);
  EXPECT_EQ(info.format_specific["data"]["encrypt"]["cipher-alg"], c.cipher_alg);
  EXPECT_EQ(info.format_specific["data"]["encrypt"]["cipher-mode"], c.cipher_mode);
}

INSTANTIATE_TEST_SUITE_P(
    Ciphers, Qcow2Luks,
    ::testing::Values(LuksCase{"", "aes-256", "xts"},
                      LuksCase{",encrypt.cipher-alg=aes-128,encrypt.cipher-mode=cbc,"
                               "encrypt.ivgen-alg=essiv,encrypt.ivgen-hash-alg=sha256,"
                               "encrypt.hash-alg=sha1",
                               "aes-128", "cbc"},
                      LuksCase{",encrypt.cipher-alg=twofish-256,encrypt.hash-alg=sha512",
                               "twofish-256", "xts"},
                      LuksCase{",encrypt.cipher-alg=serpent-128,encrypt.cipher-mode=cbc,"
                               "encrypt.ivgen-alg=plain",
                               "serpent-128", "cbc"},
                      LuksCase{",encrypt.cipher-alg=cast5-128,encrypt.cipher-mode=cbc,"
                               "encrypt.ivgen-alg=plain64,encrypt.hash-alg=sha512",
                               "cast5-128", "cbc"}),
    [](const ::testing::TestParamInfo<LuksCase>& p) {
      std::string s = std::string(p.param.cipher_alg) + "_" + p.param.cipher_mode;
      for (char& ch : s) {
        ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      }
      return s + std::to_string(p.index);
    });

// The IV of a LUKS qcow2 sector is its host sector (docs/interop/qcow2.txt,
// "Data encryption"): decrypting one cluster as stored with the guest
// sector instead gives other bytes, while the host sector gives qemu's.
TEST_F(Qcow2Encrypted, LuksIvIsTheHostSectorAesIvTheGuestSector) {
  ASSERT_TRUE(Sh(dir_.path(), std::string(kQc2) + "qc2 -q -f qcow2 " + kSecret +
                                  " -o encrypt.format=luks,encrypt.key-secret=s0 luks.qcow2 1M"
                                  " && qemu-img create -q -f qcow2 " +
                                  kSecret + " -o encrypt.format=aes,encrypt.key-secret=s0 " +
                                  "aes.qcow2 1M"));
  for (const char* name : {"luks.qcow2", "aes.qcow2"}) {
    ASSERT_TRUE(Io(Opts("qcow2", name, true), {"write -P 0x5a 512k 64k"}));
    // qemu-img map hides host offsets of encrypted clusters: walk L1/L2
    // (64 KiB clusters: guest 512 KiB is L2 entry 8 of L1 entry 0).
    const std::string img = ReadWholeFile(dir_.Join(name));
    const auto* p = reinterpret_cast<const std::byte*>(img.data());
    const uint64_t mask = 0x00fffffffffffe00ull;
    const uint64_t l2 = LoadBE64(p + LoadBE64(p + 40)) & mask;
    ASSERT_LT(l2 + 72, img.size());
    const uint64_t host = LoadBE64(p + l2 + 8 * 8) & mask;
    const std::string out = name;
    ASSERT_NE(host, 0u) << out;
    ASSERT_NE(host, 512u * 1024) << "host and guest offsets must differ to tell the IVs apart";
    auto dev = Open(dir_.Join(name), WithPass());
    ASSERT_TRUE(dev.ok()) << dev.status().message();
    std::vector<std::byte> buf(512);
    ASSERT_TRUE((*dev)->Read(512 * 1024, buf).ok());
    EXPECT_EQ(buf[0], std::byte{0x5a}) << name;
    EXPECT_EQ(buf[511], std::byte{0x5a}) << name;
  }
}

TEST_F(Qcow2Encrypted, LegacyAesQcow2AndQcow) {
  ASSERT_TRUE(Sh(dir_.path(), std::string("qemu-img create -q -f qcow2 ") + kSecret +
                                  " -o encrypt.format=aes,encrypt.key-secret=s0,cluster_size=512"
                                  " aes.qcow2 3145985 && qemu-img create -q -f qcow " +
                                  kSecret + " -o encrypt.format=aes,encrypt.key-secret=s0 " +
                                  "aes.qcow 3145985"));
  for (const auto& [driver, name] : {std::pair{"qcow2", "aes.qcow2"}, {"qcow", "aes.qcow"}}) {
    std::vector<std::string> writes = kWrites;
    if (std::string(driver) == "qcow") {
      writes[4] = "write -P 0 1088k 64k";  // qcow has no zero clusters
    }
    ASSERT_TRUE(Io(Opts(driver, name, true), writes));
    const std::string ref = Reference(Opts(driver, name, true));
    std::vector<std::string> warnings;
    OpenOptions o = WithPass();
    o.warn = [&](const std::string& line) { warnings.push_back(line); };
    auto dev = Open(dir_.Join(name), o);
    ASSERT_TRUE(dev.ok()) << dev.status().message();
    EXPECT_TRUE(DeviceMatches(**dev, ref)) << name;
    EXPECT_EQ((*dev)->Describe().encryption, "aes");
    ASSERT_EQ(warnings.size(), 1u) << name;
    EXPECT_NE(warnings[0].find("weak"), std::string::npos) << warnings[0];
    // A wrong passphrase cannot be told (no check in the scheme): it reads
    // as garbage, as in qemu.
    auto wrong = Open(dir_.Join(name), WithPass("wrong"));
    ASSERT_TRUE(wrong.ok());
    std::vector<std::byte> buf(4096);
    ASSERT_TRUE((*wrong)->Read(0, buf).ok());
    EXPECT_NE(std::memcmp(buf.data(), ref.data(), buf.size()), 0);
  }
  const nlohmann::json q = QemuInfo("aes.qcow2");
  auto dev = Open(dir_.Join("aes.qcow2"), WithPass());
  ASSERT_TRUE(dev.ok());
  EXPECT_EQ((*dev)->Describe().format_specific["data"]["encrypt"],
            q["format-specific"]["data"]["encrypt"]);
}

// plain qcow2 <- LUKS qcow2 <- AES qcow2, and LUKS <- plain: each layer
// decrypts its own clusters; unallocated ones fall through, zero clusters
// read as zeros (never decrypted zeros).
TEST_F(Qcow2Encrypted, ChainsOfPlainLuksAndAesLayers) {
  ASSERT_TRUE(
      Sh(dir_.path(),
         std::string(kQc2) + "qemu-img create -q -f qcow2 base.qcow2 2M && qc2 -q -f qcow2 " +
             kSecret +
             " -o encrypt.format=luks,encrypt.key-secret=s0,cluster_size=4096 -b base.qcow2"
             " -F qcow2 mid.qcow2 2M && qemu-img create -q -f qcow2 " +
             kSecret +
             " -o encrypt.format=aes,encrypt.key-secret=s0,cluster_size=512 -b mid.qcow2 -F qcow2"
             " top.qcow2 2M"));
  ASSERT_TRUE(Io(Opts("qcow2", "base.qcow2", false), {"write -P 0x11 0 2M"}));
  ASSERT_TRUE(Io("driver=qcow2,file.filename=mid.qcow2,encrypt.key-secret=s0",
                 {"write -P 0x22 64k 128k", "write -z 512k 64k", "write -P 0x23 1001k 7k"}));
  const std::string top =
      "driver=qcow2,file.filename=top.qcow2,encrypt.key-secret=s0,"
      "backing.encrypt.key-secret=s0";
  ASSERT_TRUE(Io(top, {"write -P 0x33 100k 10k", "write -z 1000k 3k", "write -P 0x34 1536k 1k"}));
  const std::string ref = Reference(top);
  ASSERT_EQ(ref.size(), 2u << 20);
  EXPECT_EQ(ref[520 * 1024], 0);  // the middle's zero cluster over the base's data
  auto dev = Open(dir_.Join("top.qcow2"), WithPass());
  ASSERT_TRUE(dev.ok()) << dev.status().message();
  EXPECT_TRUE(DeviceMatches(**dev, ref));

  // LUKS at the bottom, a plain overlay on top.
  ASSERT_TRUE(Sh(dir_.path(), std::string(kQc2) + "qc2 -q -f qcow2 " + kSecret +
                                  " -o encrypt.format=luks,encrypt.key-secret=s0,"
                                  "encrypt.cipher-alg=aes-128,encrypt.cipher-mode=cbc,"
                                  "encrypt.ivgen-alg=essiv,encrypt.ivgen-hash-alg=sha256"
                                  " lbase.qcow2 1M && qemu-img create -q -f qcow2 -b lbase.qcow2"
                                  " -F qcow2 ltop.qcow2 1M"));
  ASSERT_TRUE(Io(Opts("qcow2", "lbase.qcow2", true), {"write -P 0x41 0 1M"}));
  const std::string ltop = "driver=qcow2,file.filename=ltop.qcow2,backing.encrypt.key-secret=s0";
  ASSERT_TRUE(Io(ltop, {"write -P 0x42 4k 8k", "write -z 128k 64k"}));
  const std::string lref = Reference(ltop);
  auto ldev = Open(dir_.Join("ltop.qcow2"), WithPass());
  ASSERT_TRUE(ldev.ok()) << ldev.status().message();
  EXPECT_TRUE(DeviceMatches(**ldev, lref));
}

TEST_F(Qcow2Encrypted, LuksWithExternalDataFile) {
  ASSERT_TRUE(Sh(dir_.path(), std::string(kQc2) + "qc2 -q -f qcow2 " + kSecret +
                                  " -o encrypt.format=luks,encrypt.key-secret=s0,"
                                  "data_file=img.data img.qcow2 1M"));
  ASSERT_TRUE(Io(Opts("qcow2", "img.qcow2", true), {"write -P 0x5a 64k 100k", "write -P 1 0 1k"}));
  const std::string ref = Reference(Opts("qcow2", "img.qcow2", true));
  auto dev = Open(dir_.Join("img.qcow2"), WithPass());
  ASSERT_TRUE(dev.ok()) << dev.status().message();
  EXPECT_TRUE(DeviceMatches(**dev, ref));
}

// `qemu-img convert -c` refuses to compress into an encrypted image, but
// qemu-io's `write -c` stores compressed clusters in one *unencrypted*
// (qemu never encrypts or decrypts a compressed cluster); imgfs reads them
// as qemu does, next to encrypted ones.
TEST_F(Qcow2Encrypted, CompressedClustersAreNeverDecrypted) {
  std::string out;
  EXPECT_NE(RunIn(dir_.path(),
                  std::string("head -c 65536 /dev/zero > z.raw && qemu-img convert -c ") + kSecret +
                      " -f raw z.raw -O qcow2 -o encrypt.format=aes,encrypt.key-secret=s0 c.qcow2",
                  &out),
            0);
  EXPECT_NE(out.find("Compression and encryption not supported"), std::string::npos) << out;
  ASSERT_TRUE(Sh(dir_.path(), std::string(kQc2) + "qc2 -q -f qcow2 " + kSecret +
                                  " -o encrypt.format=luks,encrypt.key-secret=s0 luks.qcow2 1M"
                                  " && qemu-img create -q -f qcow2 " +
                                  kSecret + " -o encrypt.format=aes,encrypt.key-secret=s0 " +
                                  "aes.qcow2 1M"));
  for (const char* name : {"luks.qcow2", "aes.qcow2"}) {
    ASSERT_TRUE(Io(Opts("qcow2", name, true), {"write -c -P 0x61 0 64k", "write -P 0x62 64k 64k",
                                               "write -c -P 0x63 256k 64k"}));
    const std::string ref = Reference(Opts("qcow2", name, true));
    ASSERT_EQ(ref.substr(0, 4), std::string(4, '\x61'));
    auto dev = Open(dir_.Join(name), WithPass());
    ASSERT_TRUE(dev.ok()) << dev.status().message();
    EXPECT_TRUE(DeviceMatches(**dev, ref)) << name;
  }
}

class Qcow2LuksKeys : public Qcow2Encrypted {
 protected:
  void SetUp() override {
    Qcow2Encrypted::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    ASSERT_TRUE(Sh(dir_.path(), std::string(kQc2) + "qc2 -q -f qcow2 " + kSecret +
                                    " -o encrypt.format=luks,encrypt.key-secret=s0 img.qcow2 1M"));
    ASSERT_TRUE(Io(Opts("qcow2", "img.qcow2", true), {"write -P 0x5a 0 64k"}));
    path_ = dir_.Join("img.qcow2");
    image_ = ReadWholeFile(path_);
    // The encryption header extension: after the 104-byte v3 header.
    size_t at = LoadBE32(reinterpret_cast<const std::byte*>(image_.data()) + 100);
    while (at + 8 <= 4096) {
      const auto* p = reinterpret_cast<const std::byte*>(image_.data()) + at;
      if (LoadBE32(p) == 0x0537be77) {
        ext_ = at + 8;
        break;
      }
      at += 8 + (LoadBE32(p + 4) + 7) / 8 * 8;
    }
    ASSERT_NE(ext_, 0u);
    luks_at_ = LoadBE64(reinterpret_cast<const std::byte*>(image_.data()) + ext_);
  }
  // The image with `mutate` applied, opened with the passphrase.
  Status OpenMutated(const std::function<void(std::string*)>& mutate) {
    std::string bad = image_;
    mutate(&bad);
    WriteWholeFile(dir_.Join("bad.qcow2"), bad);
    auto dev = Open(dir_.Join("bad.qcow2"), WithPass());
    return dev.ok() ? Status::Ok() : dev.status();
  }
  static void Put64(std::string* s, size_t at, uint64_t v) {
    for (int i = 7; i >= 0; --i, v >>= 8) {
      (*s)[at + static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    }
  }
  std::string path_;
  std::string image_;
  size_t ext_ = 0;
  uint64_t luks_at_ = 0;
};

TEST_F(Qcow2LuksKeys, WrongMissingAndMetadataOnly) {
  auto wrong = Open(path_, WithPass("wrong"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kKeyRejected);
  EXPECT_EQ(wrong.status().message(), "luks: no key slot accepts this passphrase");
  auto missing = Open(path_, OpenOptions{});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kKeyRequired);
  OpenOptions meta;
  meta.metadata_only = true;
  auto dev = Open(path_, meta);
  ASSERT_TRUE(dev.ok()) << dev.status().message();
  const ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.encryption, "luks");
  EXPECT_EQ(info.format_specific["data"]["encrypt"]["format"], "luks");
  EXPECT_EQ(info.format_specific["data"]["encrypt"]["slots"].size(), 8u);
  std::vector<std::byte> buf(4096);
  EXPECT_EQ((*dev)->Read(0, buf).code(), StatusCode::kKeyRequired);
  EXPECT_TRUE((*dev)->Read(512 * 1024, buf).ok());  // unallocated: zeros, no key needed
}

TEST_F(Qcow2LuksKeys, DamagedEncryptionHeadersAreOneLineErrors) {
  struct Case {
    const char* what;
    std::function<void(std::string*)> mutate;
    StatusCode code;
    const char* says;
  };
  const uint64_t size = image_.size();
  const std::vector<Case> cases = {
      {"past EOF", [&](std::string* s) { Put64(s, ext_, size); }, StatusCode::kCorrupt,
       "extends past end of file"},
      {"length past EOF", [&](std::string* s) { Put64(s, ext_ + 8, size); }, StatusCode::kCorrupt,
       "extends past end of file"},
      {"over the header", [&](std::string* s) { Put64(s, ext_, 0); }, StatusCode::kCorrupt,
       "overlaps the image header"},
      {"misaligned", [&](std::string* s) { Put64(s, ext_, luks_at_ + 512); }, StatusCode::kCorrupt,
       "not cluster aligned"},
      {"too short", [&](std::string* s) { Put64(s, ext_ + 8, 100); }, StatusCode::kCorrupt,
       "too short for a LUKS header"},
      {"truncated LUKS header", [&](std::string* s) { Put64(s, ext_ + 8, 4096); },
       StatusCode::kCorrupt, "qcow2: encryption header at"},
      {"no LUKS magic", [&](std::string* s) { (*s)[luks_at_] = 'X'; }, StatusCode::kCorrupt,
       "has no LUKS header"},
      {"crypt_method aes with the extension", [](std::string* s) { (*s)[35] = 1; },
       StatusCode::kCorrupt, "only LUKS (crypt_method 2) has one"},
      {"crypt_method 3", [](std::string* s) { (*s)[35] = 3; }, StatusCode::kUnsupported,
       "unknown crypt_method 3"},
      {"luks without the extension",
       [&](std::string* s) { Put64(s, ext_ - 8, 0x12345678ull << 32 | 16); }, StatusCode::kCorrupt,
       "has no full disk encryption header extension"},
  };
  for (const Case& c : cases) {
    Status s = OpenMutated(c.mutate);
    EXPECT_EQ(s.code(), c.code) << c.what << ": " << s.message();
    EXPECT_NE(s.message().find(c.says), std::string::npos) << c.what << ": " << s.message();
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << c.what;
  }
}

}  // namespace
}  // namespace imgfs::testing
