// SPDX-License-Identifier: MIT
// Encrypted DMGs (encrcdsa v2) end to end. No Linux tool writes them, so
// tests/formats/dmg/make_encrcdsa.py wraps plaintext DMGs (hdiutil-made
// ones from tests/data/dmg-real/, and one `imgfs convert -O dmg` writes) at
// test time. Debian's vfdecrypt must turn the container back into the
// plaintext DMG byte for byte (with -p, which checks the header, PBKDF2 and
// key unwrap, and with -k, which checks the data blocks for any HMAC key);
// then imgfs must read the container as the same disk that dmg2img, 7zz and
// imgfs read from the plaintext: through convert, and through a FUSE mount.
// The CLI's key errors: a wrong passphrase exits 3, a missing one names
// --passphrase-file, and info works without one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/fuse/test_util.h"
#include "tests/integration/dmg_real_fixtures.h"

namespace imgfs::testing {
namespace {

const std::string kScript = std::string(IMGFS_TEST_DATA_DIR) + "/../formats/dmg/make_encrcdsa.py";

std::string Q(const std::string& s) { return "'" + s + "'"; }

bool Have(const std::string& tool) {
  return RunCommand({"bash", "-c", "command -v " + Q(tool)}).exit_code == 0;
}
#define REQUIRE_TOOL(tool) IMGFS_REQUIRE(Have(tool), tool)

// What dmg2img makes of `image`.
std::string Dmg2img(const std::string& image, const std::string& out) {
  RunResult r = RunCommand({"dmg2img", "-i", image, "-o", out});
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  return ReadFile(out);
}

// The files `7zz x -tdmg` extracts from `image` (one per partition),
// concatenated in name order.
std::string SevenZip(const std::string& image, const std::string& dir) {
  RunResult r = RunCommand({"7zz", "x", "-tdmg", "-o" + dir, image});
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().string());
  }
  std::sort(names.begin(), names.end());
  std::string all;
  for (const std::string& n : names) {
    all += ReadFile(n);
  }
  return all;
}

RunResult Imgfs(std::vector<std::string> args) {
  args.insert(args.begin(), ImgfsBinary());
  return RunCommand(args);
}

// Wraps `plain` into `enc`; returns the keys' hex (vfdecrypt -k).
std::string Encrypt(const std::string& plain, const std::string& enc, const std::string& pass_file,
                    std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {"python3", kScript, plain, enc, "--passphrase-file", pass_file};
  argv.insert(argv.end(), extra.begin(), extra.end());
  RunResult r = RunCommand(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find('\n'));
}

class DmgEncryptedMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
    REQUIRE_TOOL("python3");
    WriteFile(dir_ / "pass", "correct horse");
    WriteFile(dir_ / "wrong", "battery staple");
  }
  // A dmg-real image, unpacked.
  std::string Unpack(const RealDmg& d) {
    const std::string image = dir_ / (std::string(d.stem) + ".dmg");
    RunResult r = RunCommand(
        {"bash", "-o", "pipefail", "-c", "xz -dc " + Q(RealDmgXzPath(d)) + " > " + Q(image)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return image;
  }
  std::string Convert(const std::string& image, const std::string& out) {
    RunResult r =
        Imgfs({"convert", "-O", "raw", "--passphrase-file", dir_ / "pass", image, dir_ / out});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ReadFile(dir_ / out);
  }
  TempDir dir_;
};

const RealDmg& Real(const std::string& stem) {
  for (const RealDmg& d : kRealDmgs) {
    if (d.stem == stem) {
      return d;
    }
  }
  ADD_FAILURE() << stem;
  return kRealDmgs[0];
}

TEST_F(DmgEncryptedMountTest, VfdecryptGivesBackThePlaintextDmg) {
  REQUIRE_TOOL("vfdecrypt");
  const std::string plain = Unpack(Real("nodeudif-compression-zlib"));
  // -p: vfdecrypt reads the first slot at 0x2a8 with 1000 iterations and
  // (a bug) the HMAC key from the blob's start; --vfdecrypt-keys makes that
  // the same key.
  Encrypt(plain, dir_ / "p.dmg", dir_ / "pass", {"--vfdecrypt-keys"});
  RunResult r =
      RunCommand({"vfdecrypt", "-i", dir_ / "p.dmg", "-p", "correct horse", "-o", dir_ / "p.out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(ReadFile(dir_ / "p.out") == ReadFile(plain));
  // -k: any HMAC key, AES-128 data blocks.
  const std::string keys = Encrypt(plain, dir_ / "k.dmg", dir_ / "pass");
  r = RunCommand({"vfdecrypt", "-i", dir_ / "k.dmg", "-k", keys, "-o", dir_ / "k.out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(ReadFile(dir_ / "k.out") == ReadFile(plain));
  // imgfs reads both as the disk dmg2img reads from the plaintext.
  REQUIRE_TOOL("dmg2img");
  const std::string want = Dmg2img(plain, dir_ / "dmg2img.raw");
  EXPECT_TRUE(Convert(dir_ / "p.dmg", "p.raw") == want);
  EXPECT_TRUE(Convert(dir_ / "k.dmg", "k.raw") == want);
}

TEST_F(DmgEncryptedMountTest, EveryRealVariantReadsAsItsRecordedDisk) {
  // AES-256 with a decoy passphrase slot and a public-key slot before the
  // real one, and a block size other than 4096.
  for (const RealDmg& d : kRealDmgs) {
    SCOPED_TRACE(d.stem);
    const std::string plain = Unpack(d);
    const std::string enc = dir_ / (std::string(d.stem) + ".enc.dmg");
    Encrypt(plain, enc, dir_ / "pass",
            {"--key-bits", "256", "--decoy-passphrase", "x", "--public-key-slot", "--block-size",
             "8192", "--iterations", "2000"});
    Convert(enc, "out.raw");
    RunResult sum = RunCommand({"sha256sum", dir_ / "out.raw"});
    EXPECT_EQ(sum.out.substr(0, 64), d.raw_sha256);
  }
}

TEST_F(DmgEncryptedMountTest, ImgfsWrittenDmgAgainst7zz) {
  REQUIRE_TOOL("7zz");
  const std::string disk = RandomBytes(3 << 20, 11) + std::string(1 << 20, '\0');
  WriteFile(dir_ / "disk.raw", disk);
  RunResult r = Imgfs({"convert", "-O", "dmg", dir_ / "disk.raw", dir_ / "plain.dmg"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string sevenzip = SevenZip(dir_ / "plain.dmg", dir_ / "7z");
  Encrypt(dir_ / "plain.dmg", dir_ / "enc.dmg", dir_ / "pass");
  const std::string ours = Convert(dir_ / "enc.dmg", "out.raw");
  EXPECT_TRUE(ours == disk);
  EXPECT_TRUE(ours == sevenzip);
}

TEST_F(DmgEncryptedMountTest, CliKeyErrorsAndInfoWithoutPassphrase) {
  Encrypt(dir_ / "pass", dir_ / "enc.dmg", dir_ / "pass", {"--iterations", "1234"});
  RunResult r = Imgfs({"convert", "-O", "raw", "--passphrase-file", dir_ / "wrong",
                       dir_ / "enc.dmg", dir_ / "out.raw"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("no key slot accepts this passphrase"), std::string::npos) << r.err;
  // No terminal (stdin is not one here): the message names the option.
  r = RunCommand({"bash", "-c",
                  Q(ImgfsBinary()) + " convert -O raw " + Q(dir_ / "enc.dmg") + " " +
                      Q(dir_ / "out.raw") + " < /dev/null"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--passphrase-file"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = RunCommand(
      {"bash", "-c", Q(ImgfsBinary()) + " info " + Q(dir_ / "enc.dmg") + " < /dev/null"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("encrcdsa"), std::string::npos) << r.out;
  r = RunCommand(
      {"bash", "-c", Q(ImgfsBinary()) + " info --json " + Q(dir_ / "enc.dmg") + " < /dev/null"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto info = nlohmann::json::parse(r.out);
  EXPECT_EQ(info["format"], "dmg");
  EXPECT_EQ(info["format-specific"]["data"]["encryption"]["key-slots"][0]["iterations"], 1234);
  // A truncated container: one line, non-zero.
  WriteFile(dir_ / "short.dmg", ReadFile(dir_ / "enc.dmg").substr(0, 60));
  r = Imgfs({"info", dir_ / "short.dmg"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("encrcdsa header truncated"), std::string::npos) << r.err;
}

TEST_F(DmgEncryptedMountTest, MountedEncryptedDmgsReadAsTheirDisks) {
  IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
  const RealDmg& udzo = Real("nodeudif-compression-zlib");
  const RealDmg& ulfo = Real("keramics-hfsplus_lzfse");
  Encrypt(Unpack(udzo), dir_ / "a.dmg", dir_ / "pass");
  Encrypt(Unpack(ulfo), dir_ / "b.dmg", dir_ / "pass", {"--key-bits", "256"});
  std::filesystem::create_directory(dir_ / "mnt");
  Mount m({"--passphrase-file", dir_ / "pass", dir_ / "a.dmg", dir_ / "b.dmg"}, dir_ / "mnt");
  ASSERT_TRUE(m.ok()) << m.result().err;
  for (const auto& [name, d] : {std::pair{"a.raw", &udzo}, std::pair{"b.raw", &ulfo}}) {
    SCOPED_TRACE(name);
    RunResult sum = RunCommand({"sha256sum", m / name});
    ASSERT_EQ(sum.exit_code, 0) << sum.err;
    EXPECT_EQ(sum.out.substr(0, 64), d->raw_sha256);
    // Small reads at odd offsets across encryption blocks.
    const std::string whole = ReadFile(m / name);
    RunResult piece =
        RunCommand({"bash", "-c",
                    "dd if=" + Q(m / name) + " bs=1 skip=4093 count=9000 status=none | sha256sum"});
    RunResult want =
        RunCommand({"bash", "-c",
                    "dd if=" + Q(m / name) +
                        " bs=64K status=none | tail -c +4094 | head -c 9000 | sha256sum"});
    EXPECT_EQ(piece.out, want.out);
    EXPECT_EQ(whole.size(), d->virtual_bytes);
  }
}

}  // namespace
}  // namespace imgfs::testing
