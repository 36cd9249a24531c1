// SPDX-License-Identifier: MIT
// `imgfs mount --as dmg`: each image shows as <stem>.dmg, a UDIF image
// computed on the fly. The served file is copied out and read by the three
// independent readers (qemu-img, dmg2img, 7-Zip); each must give back the
// source's raw view byte for byte (padded to whole sectors).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fuse/test_util.h"

namespace imgfs::testing {
namespace {

RunResult Sh(const std::string& script) { return RunCommand({"bash", "-c", script}); }

std::string Q(const std::string& s) { return "'" + s + "'"; }

class MountAsDmgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
    IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
    IMGFS_REQUIRE(HaveQemuImg(), "qemu-img");
    IMGFS_REQUIRE(Sh("command -v dmg2img && command -v 7zz && command -v sgdisk").exit_code == 0,
                  "dmg2img, 7zz and sgdisk");
    std::filesystem::create_directory(dir_ / "mnt");
  }

  // Checks dmg (a copy of the served file) against the raw bytes `want`.
  void ExpectReadersAgree(const std::string& dmg, const std::string& want) {
    SCOPED_TRACE(dmg);
    RunResult q = Sh("qemu-img convert -f dmg -O raw " + Q(dmg) + " " + Q(dmg + ".q"));
    ASSERT_EQ(q.exit_code, 0) << q.err;
    EXPECT_TRUE(ReadFile(dmg + ".q") == want) << "qemu-img";
    RunResult d = Sh("dmg2img -s " + Q(dmg) + " " + Q(dmg + ".d"));
    ASSERT_EQ(d.exit_code, 0) << d.out << d.err;
    EXPECT_TRUE(ReadFile(dmg + ".d") == want) << "dmg2img";
    RunResult z = Sh("7zz x -tdmg -so " + Q(dmg) + " > " + Q(dmg + ".z") + " 2> " + Q(dmg + ".e"));
    ASSERT_EQ(z.exit_code, 0) << ReadFile(dmg + ".e");
    EXPECT_TRUE(ReadFile(dmg + ".z") == want) << "7zz";
    EXPECT_EQ(Sh("grep -i -E 'warning|error' " + Q(dmg + ".e")).exit_code, 1)
        << ReadFile(dmg + ".e");
  }

  TempDir dir_;
};

TEST_F(MountAsDmgTest, ServedImagesReadBackIdenticalThroughEveryReader) {
  // A sparse raw disk of odd size, a qcow2 with data, zero and unallocated
  // clusters, and a GPT disk (several blkx).
  ASSERT_EQ(
      Sh("set -e; cd " + Q(dir_.path()) +
         "; truncate -s 5000001 odd.img;"
         " head -c 70000 /dev/urandom | dd of=odd.img bs=64K oflag=seek_bytes seek=1000 "
         "conv=notrunc status=none;"
         " yes tail | head -c 9000 | dd of=odd.img bs=64K oflag=seek_bytes seek=4990000 "
         "conv=notrunc status=none;"
         " qemu-img create -q -f qcow2 q.qcow2 24M;"
         " qemu-io -c 'write -P 0x5a 1M 64k' -c 'write -z 4M 64k' -c 'write -P 0x21 7M 3M'"
         " q.qcow2 >/dev/null;"
         " truncate -s 8M gpt.img; sgdisk -n 1:2048:+3M -t 1:af00 -c 1:mac gpt.img >/dev/null;"
         " yes data | head -c 500000 | dd of=gpt.img bs=64K oflag=seek_bytes seek=1100000 "
         "conv=notrunc"
         " status=none")
          .exit_code,
      0);
  // And the macOS-made GPT disk with an HFS+ volume (tests/data/README.md).
  ASSERT_TRUE(UnpackMacosDisk(dir_ / "macos.img"));
  Mount m({"--as", "dmg", dir_ / "odd.img", dir_ / "q.qcow2", dir_ / "gpt.img", dir_ / "macos.img"},
          dir_ / "mnt");
  ASSERT_TRUE(m.ok()) << m.result().err;
  RunResult ls = Sh("ls " + Q(dir_ / "mnt"));
  EXPECT_EQ(ls.out, "gpt.dmg\nmacos.dmg\nodd.dmg\nq.dmg\n");

  std::string odd = ReadFile(dir_ / "odd.img");
  odd.resize((odd.size() + 511) / 512 * 512);
  ASSERT_EQ(
      Sh("qemu-img convert -O raw " + Q(dir_ / "q.qcow2") + " " + Q(dir_ / "q.raw")).exit_code, 0);
  const std::pair<std::string, std::string> cases[] = {{"odd", odd},
                                                       {"q", ReadFile(dir_ / "q.raw")},
                                                       {"gpt", ReadFile(dir_ / "gpt.img")},
                                                       {"macos", ReadFile(dir_ / "macos.img")}};
  for (const auto& [stem, want] : cases) {
    std::string served = m / (stem + ".dmg");
    struct stat st {};
    ASSERT_EQ(::stat(served.c_str(), &st), 0);
    std::string copy = dir_ / (stem + ".copy.dmg");
    ASSERT_EQ(Sh("cp " + Q(served) + " " + Q(copy)).exit_code, 0);
    std::string bytes = ReadFile(copy);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), bytes.size());
    // Reads at odd offsets and sizes agree with the whole-file copy.
    int fd = ::open(served.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    for (uint64_t off : {uint64_t{0}, uint64_t{511}, uint64_t{65537}, bytes.size() - 700}) {
      std::string buf(1234, '\0');
      ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
      ASSERT_GE(n, 0);
      EXPECT_EQ(buf.substr(0, static_cast<size_t>(n)), bytes.substr(off, static_cast<size_t>(n)));
    }
    ::close(fd);
    ExpectReadersAgree(copy, want);
  }
  // The GPT disk gets one blkx per structure, partition and gap.
  RunResult l = Sh("7zz l -tdmg -slt " + Q(dir_ / "gpt.copy.dmg") + " | grep -c '^Path = [0-9]'");
  EXPECT_EQ(l.out, "8\n") << l.out;
  // 7-Zip follows the served blkx layout down to the HFS+ volume's files.
  RunResult hfs = Sh("7zz l -slt " + Q(dir_ / "macos.copy.dmg"));
  EXPECT_NE(hfs.out.find("Path = blank-large-disk/.fseventsd/fseventsd-uuid"), std::string::npos)
      << hfs.out << hfs.err;
}

TEST_F(MountAsDmgTest, RejectsUnknownPresentation) {
  RunResult r = RunCommand({ImgfsBinary(), "mount", "--as", "vhd", dir_ / "x", dir_ / "mnt"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--as"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace imgfs::testing
