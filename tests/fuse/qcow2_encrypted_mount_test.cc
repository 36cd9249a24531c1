// SPDX-License-Identifier: MIT
// Encrypted qcow2 and qcow through the imgfs binary: a chain of a plain
// base, a LUKS middle and an AES top made by qemu-img, mounted with
// --passphrase-file and read at odd offsets, must read as qemu-img
// decrypts it; the CLI's key errors (a wrong passphrase exits 3 and says
// so, a missing one names --passphrase-file), `info --json` without a
// passphrase, the weak-AES warning, and damaged headers as one line.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/fuse/test_util.h"

namespace imgfs::testing {
namespace {

constexpr const char* kQc2 = kQemuImgCreateQcow2LuksShell;

std::string Q(const std::string& s) { return "'" + s + "'"; }
RunResult Shell(const std::string& cmd) { return RunCommand({"bash", "-c", cmd}); }

class Qcow2EncryptedCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
    IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
    const std::string s = " --object secret,id=s0,file=pw ";
    RunResult r =
        Shell("set -e; cd " + Q(dir_.path()) + "; printf 'open sesame' > pw; printf wrong > bad; " +
              kQc2 + "qemu-img create -q -f qcow2 base.qcow2 3M; qc2 -q -f qcow2" + s +
              "-o encrypt.format=luks,encrypt.key-secret=s0 -b base.qcow2 -F qcow2 mid.qcow2 3M;"
              " qemu-img create -q -f qcow2" +
              s +
              "-o encrypt.format=aes,encrypt.key-secret=s0 -b mid.qcow2 -F qcow2 top.qcow2 3146241;"
              " qemu-io -f qcow2 -c 'write -P 0x11 0 3M' base.qcow2 >/dev/null;"
              " qemu-io" +
              s +
              "--image-opts driver=qcow2,file.filename=mid.qcow2,encrypt.key-secret=s0"
              " -c 'write -P 0x22 64k 1M' -c 'write -z 1536k 64k' >/dev/null;"
              " T=driver=qcow2,file.filename=top.qcow2,encrypt.key-secret=s0,"
              "backing.encrypt.key-secret=s0;"
              " qemu-io" +
              s +
              "--image-opts $T -c 'write -P 0x33 100k 5k' -c 'write -P 0x34 3M 512' >/dev/null;"
              " qemu-img convert" +
              s + "--image-opts $T -O raw top.ref");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ref_ = ReadFile(dir_ / "top.ref");
    ASSERT_EQ(ref_.size(), 3146752u);  // 3146241 rounded up to sectors
  }
  TempDir dir_;
  std::string ref_;
};

TEST_F(Qcow2EncryptedCliTest, MountedChainMatchesQemu) {
  IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
  const std::string mnt = dir_ / "mnt";
  std::filesystem::create_directory(mnt);
  Mount m({"--passphrase-file", dir_ / "pw", dir_ / "top.qcow2"}, mnt);
  ASSERT_TRUE(m.ok()) << m.result().err;
  EXPECT_EQ(ReadFile(m / "top.raw"), ref_);
  const int fd = ::open((m / "top.raw").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  for (uint64_t off : {1u, 511u, 102397u, 1572863u, 3145000u}) {
    std::string buf(1237, '\0');
    const auto n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
    ASSERT_GT(n, 0) << off;
    buf.resize(static_cast<size_t>(n));
    EXPECT_EQ(buf, ref_.substr(off, buf.size())) << "at " << off;
  }
  ::close(fd);
}

TEST_F(Qcow2EncryptedCliTest, ConvertDecryptsAndWarnsOnceAboutAes) {
  RunResult r = RunCommand({ImgfsBinary(), "convert", "--passphrase-file", dir_ / "pw",
                            dir_ / "top.qcow2", "-O", "raw", dir_ / "out.raw"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(dir_ / "out.raw"), ref_);
  EXPECT_NE(r.err.find("imgfs: warning: qcow2: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("legacy AES encryption, which is weak"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.find("open sesame"), std::string::npos);
}

TEST_F(Qcow2EncryptedCliTest, WrongPassphraseExits3) {
  RunResult r = RunCommand({ImgfsBinary(), "convert", "--passphrase-file", dir_ / "bad",
                            dir_ / "mid.qcow2", "-O", "raw", dir_ / "out.raw"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("no key slot accepts this passphrase"), std::string::npos) << r.err;
}

TEST_F(Qcow2EncryptedCliTest, MissingPassphraseWithoutTerminalNamesTheOption) {
  RunResult r = Shell(Q(ImgfsBinary()) + " convert " + Q(dir_ / "mid.qcow2") + " -O raw " +
                      Q(dir_ / "out.raw") + " </dev/null");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--passphrase-file"), std::string::npos) << r.err;
}

TEST_F(Qcow2EncryptedCliTest, InfoWithoutPassphraseShowsTheEncryptBlock) {
  RunResult r = Shell(Q(ImgfsBinary()) + " info --json " + Q(dir_ / "mid.qcow2") + " </dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  RunResult q = Shell("qemu-img info -U --output=json " + Q(dir_ / "mid.qcow2"));
  auto qj = nlohmann::json::parse(q.out, nullptr, false);
  ASSERT_FALSE(qj.is_discarded()) << q.out;
  EXPECT_EQ(j["encrypted"], true);
  EXPECT_EQ(j["format-specific"]["data"]["encrypt"], qj["format-specific"]["data"]["encrypt"]);
}

TEST_F(Qcow2EncryptedCliTest, DamagedExtensionIsOneLine) {
  std::string img = ReadFile(dir_ / "mid.qcow2");
  img[35] = 1;  // crypt_method AES, but a LUKS header extension
  WriteFile(dir_ / "bad.qcow2", img);
  RunResult r =
      RunCommand({ImgfsBinary(), "info", "--passphrase-file", dir_ / "pw", dir_ / "bad.qcow2"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("only LUKS (crypt_method 2) has one"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
}  // namespace imgfs::testing
