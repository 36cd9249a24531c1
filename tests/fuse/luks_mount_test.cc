// SPDX-License-Identifier: MIT
// LUKS images through the imgfs binary: a qemu-made LUKS1 image mounted
// with --passphrase-file reads as qemu-img decrypts it; cryptsetup's LUKS2
// compat image mounted the same way; the CLI's key errors (a wrong
// passphrase exits 3 and says so, a missing one without a terminal names
// --passphrase-file) and `info` without a passphrase.
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/fuse/test_util.h"

namespace imgfs::testing {
namespace {

constexpr const char* kQc = kQemuImgCreateLuksShell;

std::string Q(const std::string& s) { return "'" + s + "'"; }
RunResult Shell(const std::string& cmd) { return RunCommand({"bash", "-c", cmd}); }

class LuksCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
    IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
    RunResult r = Shell("cd " + Q(dir_.path()) +
                        " && printf 'open sesame' > pw && printf 'wrong' > bad"
                        " && " +
                        std::string(kQc) +
                        "qc -q -f luks --object secret,id=s0,file=pw"
                        " -o key-secret=s0,cipher-alg=aes-256,cipher-mode=xts disk.luks 3M"
                        " && head -c 3145728 /dev/urandom > plain.raw"
                        " && qemu-img convert -n --object secret,id=s0,file=pw -f raw plain.raw"
                        " --target-image-opts driver=luks,key-secret=s0,file.filename=disk.luks"
                        " && qemu-img convert --object secret,id=s0,file=pw --image-opts"
                        " driver=luks,key-secret=s0,file.filename=disk.luks -O raw disk.ref");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ref_ = ReadFile(dir_ / "disk.ref");
  }
  TempDir dir_;
  std::string ref_;
};

TEST_F(LuksCliTest, MountWithPassphraseFileMatchesQemu) {
  IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
  const std::string mnt = dir_ / "mnt";
  std::filesystem::create_directory(mnt);
  Mount m({"--passphrase-file", dir_ / "pw", dir_ / "disk.luks"}, mnt);
  ASSERT_TRUE(m.ok()) << m.result().err;
  EXPECT_EQ(ReadFile(m / "disk.raw"), ref_);
}

TEST_F(LuksCliTest, ConvertDecrypts) {
  RunResult r = RunCommand({ImgfsBinary(), "convert", "--passphrase-file", dir_ / "pw",
                            dir_ / "disk.luks", "-O", "raw", dir_ / "out.raw"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(dir_ / "out.raw"), ref_);
}

TEST_F(LuksCliTest, WrongPassphraseExits3) {
  RunResult r = RunCommand({ImgfsBinary(), "convert", "--passphrase-file", dir_ / "bad",
                            dir_ / "disk.luks", "-O", "raw", dir_ / "out.raw"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("no key slot accepts this passphrase"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("open sesame"), std::string::npos);
}

TEST_F(LuksCliTest, MissingPassphraseWithoutTerminalNamesTheOption) {
  RunResult r = Shell(Q(ImgfsBinary()) + " convert " + Q(dir_ / "disk.luks") + " -O raw " +
                      Q(dir_ / "out.raw") + " </dev/null");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--passphrase-file"), std::string::npos) << r.err;
}

TEST_F(LuksCliTest, InfoWithoutPassphrase) {
  RunResult r = Shell(Q(ImgfsBinary()) + " info --json " + Q(dir_ / "disk.luks") + " </dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["format"], "luks");
  EXPECT_EQ(j["virtual-size"], 3145728);
  EXPECT_EQ(j["format-specific"]["data"]["cipher-alg"], "aes-256");
  EXPECT_EQ(j["format-specific"]["data"]["cipher-mode"], "xts");
}

TEST(LuksRealMount, CryptsetupLuks2CompatImage) {
  IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
  IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
  TempDir dir;
  RunResult r =
      Shell("cd " + Q(dir.path()) + " && printf compatkey > pw && xz -dc " +
            Q(std::string(IMGFS_TEST_DATA_DIR) + "/luks-real/cryptsetup-compatimage2.luks.xz") +
            " > compat2.luks && mkdir mnt");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Mount m({"--passphrase-file", dir / "pw", dir / "compat2.luks"}, dir / "mnt");
  ASSERT_TRUE(m.ok()) << m.result().err;
  RunResult sum = Shell("sha256sum " + Q(m / "compat2.raw") + " | cut -c1-64");
  EXPECT_EQ(sum.out, "38ef2d1b8c387efb50680e1d3f234f170d2b7b6c6d9eb856b4f426543a6c4ef2\n");
}

}  // namespace
}  // namespace imgfs::testing
