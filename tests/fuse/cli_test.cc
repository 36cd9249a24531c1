// SPDX-License-Identifier: MIT
// CLI tests: run the imgfs binary and compare info/map/convert/check with
// the qemu-img oracle; check the one-line errors and exit codes.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/fuse/test_util.h"

namespace imgfs::testing {
namespace {

using nlohmann::json;

constexpr uint64_t kMiB = 1 << 20;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
  }
  RunResult Imgfs(std::vector<std::string> args) {
    args.insert(args.begin(), ImgfsBinary());
    return RunCommand(args);
  }
  // Runs in dir_, so that relative names match what qemu-img prints.
  RunResult InDir(std::vector<std::string> argv) {
    std::string cwd = std::filesystem::current_path().string();
    std::filesystem::current_path(dir_.path());
    RunResult r = RunCommand(argv);
    std::filesystem::current_path(cwd);
    return r;
  }
  json JsonOf(const std::vector<std::string>& argv) {
    RunResult r = InDir(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }
  void MakeSparseRaw(const std::string& name) {
    int fd = ::open((dir_ / name).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 10 * kMiB), 0);
    std::string data = RandomBytes(3 * 65536, 17);
    ASSERT_EQ(::pwrite(fd, data.data(), data.size(), 5 * 65536), static_cast<ssize_t>(data.size()));
    ::close(fd);
  }
  void MakeQcow2Chain() {
    MustRun({"qemu-img", "create", "-q", "-f", "qcow2", dir_ / "a.qcow2", "64M"});
    MustRun({"qemu-io", "-c", "write -P 0x5a 1M 64k", "-c", "write -z 4M 64k", "-c",
             "write -P 0x21 7M 256k", dir_ / "a.qcow2"});
    MustRun({"qemu-img", "snapshot", "-c", "snap1", dir_ / "a.qcow2"});
    MustRun({"qemu-img", "create", "-q", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2",
             dir_ / "b.qcow2"});
    MustRun({"qemu-io", "-c", "write -P 0x77 2M 4k", dir_ / "b.qcow2"});
  }
  TempDir dir_;
};

TEST_F(CliTest, InfoJsonMatchesQemuImgForRaw) {
  MakeSparseRaw("r.img");
  json ours = JsonOf({ImgfsBinary(), "info", "--json", "r.img"});
  json qemu = JsonOf({"qemu-img", "info", "--output=json", "r.img"});
  IMGFS_REQUIRE(!qemu.is_discarded(), "qemu-img");
  EXPECT_EQ(ours, qemu);
}

TEST_F(CliTest, InfoJsonMatchesQemuImgForQcow2Chain) {
  IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
  MakeQcow2Chain();
  json ours = JsonOf({ImgfsBinary(), "info", "--json", "--backing-chain", "b.qcow2"});
  json qemu = JsonOf({"qemu-img", "info", "--output=json", "--backing-chain", "b.qcow2"});
  ASSERT_TRUE(ours.is_array());
  ASSERT_EQ(ours.size(), 2u);
  EXPECT_EQ(ours, qemu);
  json top = JsonOf({ImgfsBinary(), "info", "--json", "b.qcow2"});
  EXPECT_EQ(top, qemu[0]);
}

TEST_F(CliTest, InfoHumanLooksLikeQemuImg) {
  IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
  MakeQcow2Chain();
  RunResult ours = InDir({ImgfsBinary(), "info", "a.qcow2"});
  RunResult qemu = InDir({"qemu-img", "info", "a.qcow2"});
  ASSERT_EQ(ours.exit_code, 0) << ours.err;
  // Everything up to the format specific section is the same text.
  auto head = [](const std::string& s) { return s.substr(0, s.find("Format specific")); };
  EXPECT_EQ(head(ours.out), head(qemu.out));
}

// qemu-img 7 prints no "compressed"; qemu-img prints an "offset" for raw
// zero ranges (raw is identity-mapped) where imgfs reports none. The chain
// is written in whole clusters: qemu-img also asks the host file about the
// tail of a cluster that lies past its end and reports "data": true,
// "zero": true there, a state BlockDevice::Extents does not have.
json NormalizeMap(json map, bool drop_zero_offsets) {
  for (json& e : map) {
    e.erase("compressed");
    if (drop_zero_offsets && e["zero"].get<bool>()) {
      e.erase("offset");
    }
  }
  return map;
}

TEST_F(CliTest, MapJsonMatchesQemuImg) {
  IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
  MakeSparseRaw("r.img");
  MakeQcow2Chain();
  for (const char* image : {"r.img", "a.qcow2", "b.qcow2"}) {
    json ours = JsonOf({ImgfsBinary(), "map", "--json", image});
    json qemu = JsonOf({"qemu-img", "map", "--output=json", image});
    bool raw = std::string(image) == "r.img";
    EXPECT_EQ(NormalizeMap(ours, raw), NormalizeMap(qemu, raw)) << image;
  }
}

TEST_F(CliTest, MapHumanMatchesQemuImg) {
  IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
  MakeSparseRaw("r.img");
  MakeQcow2Chain();
  for (const char* image : {"r.img", "b.qcow2"}) {
    RunResult ours = InDir({ImgfsBinary(), "map", image});
    RunResult qemu = InDir({"qemu-img", "map", image});
    EXPECT_EQ(ours.out, qemu.out) << image;
  }
}

uint64_t AllocatedBytes(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

TEST_F(CliTest, ConvertWritesIdenticalSparseRaw) {
  IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
  MakeQcow2Chain();
  // Explicit zeros in data clusters must not be written either.
  MustRun({"qemu-io", "-c", "write -P 0 9M 1M", dir_ / "b.qcow2"});
  RunResult r = Imgfs({"convert", "-O", "raw", dir_ / "b.qcow2", dir_ / "out.raw"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  MustRun({"qemu-img", "convert", "-O", "raw", dir_ / "b.qcow2", dir_ / "ref.raw"});
  EXPECT_EQ(ReadFile(dir_ / "out.raw"), ReadFile(dir_ / "ref.raw"));
  MustRun({"qemu-img", "compare", "-f", "qcow2", "-F", "raw", dir_ / "b.qcow2", dir_ / "out.raw"});
  MustRun({"qemu-io", "-c", "write -P 0x21 12345 200000", dir_ / "b.qcow2"});
  // Data: about 1 MiB; everything else is a hole.
  EXPECT_LT(AllocatedBytes(dir_ / "out.raw"), 2 * kMiB);
}

TEST_F(CliTest, ConvertOfSparseRawStaysSparseAndRefusesOtherFormats) {
  MakeSparseRaw("r.img");
  RunResult r = Imgfs({"convert", "-p", dir_ / "r.img", dir_ / "out.raw"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // -p draws nothing when stderr is not a terminal
  EXPECT_EQ(ReadFile(dir_ / "out.raw"), ReadFile(dir_ / "r.img"));
  EXPECT_LE(AllocatedBytes(dir_ / "out.raw"), AllocatedBytes(dir_ / "r.img"));
  r = Imgfs({"convert", "-O", "qcow2", dir_ / "r.img", dir_ / "x"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err, "imgfs: convert: -O qcow2: unsupported output format (raw or dmg)\n");
}

// The formats -O, --as and --format accept come from the registry: the help
// lists each writer's options, and an unknown name lists what is known.
TEST_F(CliTest, FormatListsComeFromTheRegistry) {
  RunResult h = Imgfs({"convert", "--help"});
  ASSERT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("[-O raw|dmg]"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("-O dmg:\n"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("    chunk_size=S"), std::string::npos) << h.out;
  h = Imgfs({"mount", "--help"});
  ASSERT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("  --as raw|dmg        how to show"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("dmg: a UDIF image"), std::string::npos) << h.out;
  MakeSparseRaw("r.img");
  RunResult r = Imgfs({"info", "-f", "vhd", dir_ / "r.img"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "imgfs: " + (dir_ / "r.img") +
                       ": unknown format 'vhd' (known: qcow2, dmg, sparseimage, sparsebundle, "
                       "vmdk, vpc, vhdx, vdi, parallels, qcow, qed, bochs, cloop, luks, raw)\n");
  r = Imgfs({"convert", "-O", "dmg", "-o", "level=12", dir_ / "r.img", dir_ / "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("-o level: '12' is not a level from 0 to 9"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "x"));
}

// Zeroes the first L2 entry of a one-cluster qcow2, leaking its data
// cluster (qemu-img check reports a leak too).
void LeakFirstCluster(const std::string& path) {
  std::string bytes = ReadFile(path);
  auto be64 = [&](size_t off) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i) {
      v = (v << 8) | static_cast<unsigned char>(bytes[off + i]);
    }
    return v;
  };
  constexpr size_t kL1TableOffsetField = 40;  // qcow2.txt: header byte 40
  constexpr uint64_t kOffsetMask = 0x00fffffffffffe00ULL;
  uint64_t l1 = be64(kL1TableOffsetField);
  uint64_t l2 = be64(l1) & kOffsetMask;
  bytes.replace(l2, 8, std::string(8, '\0'));
  WriteFile(path, bytes);
}

TEST_F(CliTest, CheckExitCodes) {
  MakeSparseRaw("r.img");
  RunResult r = Imgfs({"check", dir_ / "r.img"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Imgfs({"check", dir_ / "missing.qcow2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  if (!HaveQemuImg()) {
    return;
  }
  MustRun({"qemu-img", "create", "-q", "-f", "qcow2", dir_ / "c.qcow2", "4M"});
  MustRun({"qemu-io", "-c", "write -P 0x5a 0 64k", dir_ / "c.qcow2"});
  r = Imgfs({"check", dir_ / "c.qcow2"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  LeakFirstCluster(dir_ / "c.qcow2");
  EXPECT_NE(RunCommand({"qemu-img", "check", dir_ / "c.qcow2"}).exit_code, 0);
  r = Imgfs({"check", dir_ / "c.qcow2"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
}

void ExpectOneLineError(const RunResult& r, const std::string& file) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("imgfs: " + file + ": ", 0), 0u) << r.err;
}

TEST_F(CliTest, BadInputsGiveOneLineErrors) {
  WriteFile(dir_ / "random.bin", RandomBytes(100000, 5));
  WriteFile(dir_ / "empty.bin", "");
  for (const char* cmd : {"info", "map", "check"}) {
    ExpectOneLineError(Imgfs({cmd, dir_ / "missing.img"}), dir_ / "missing.img");
    ExpectOneLineError(Imgfs({cmd, "-f", "qcow2", dir_ / "random.bin"}), dir_ / "random.bin");
    ExpectOneLineError(Imgfs({cmd, "-f", "qcow2", dir_ / "empty.bin"}), dir_ / "empty.bin");
    ExpectOneLineError(Imgfs({cmd, "-f", "nosuchfmt", dir_ / "random.bin"}), dir_ / "random.bin");
  }
  ExpectOneLineError(Imgfs({"convert", dir_ / "missing.img", dir_ / "o"}), dir_ / "missing.img");
  // A FIFO with no writer, as the image or as convert's output: refused at
  // once (opening it for reading would block forever).
  const std::string fifo = dir_ / "fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const char* cmd : {"info", "map", "check"}) {
    ExpectOneLineError(Imgfs({cmd, fifo}), fifo);
  }
  ExpectOneLineError(Imgfs({"convert", fifo, dir_ / "o"}), fifo);
  ExpectOneLineError(Imgfs({"convert", dir_ / "random.bin", fifo}), fifo);
  ExpectOneLineError(Imgfs({"convert", "-O", "dmg", dir_ / "random.bin", fifo}), fifo);
  std::filesystem::create_directories(dir_ / "mnt");
  ExpectOneLineError(Imgfs({"mount", "-f", fifo, dir_ / "mnt"}), fifo);
  // Without -f, random bytes and empty files are raw images.
  EXPECT_EQ(Imgfs({"info", dir_ / "random.bin"}).exit_code, 0);
  EXPECT_EQ(Imgfs({"info", dir_ / "empty.bin"}).exit_code, 0);
}

// The key options of every command that opens images: the file's bytes are
// read before the image is opened (a bad file is a one-line error even for
// an image that needs no key), and a plain image ignores them.
TEST_F(CliTest, KeyOptionsAreReadUpFrontAndIgnoredByPlainImages) {
  MakeSparseRaw("plain.raw");
  const std::string image = dir_ / "plain.raw";
  const std::string key = dir_ / "key";
  {
    std::FILE* f = std::fopen(key.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("secret\n", f);
    std::fclose(f);
  }
  const std::string out = dir_ / "out.raw";
  const std::vector<std::vector<std::string>> commands = {
      {"info", image}, {"check", image}, {"map", image}, {"convert", image, out}};
  for (const std::vector<std::string>& cmd : commands) {
    for (const char* option : {"--passphrase-file", "--key-file"}) {
      std::vector<std::string> args = cmd;
      args.insert(args.begin() + 1, {option, key});
      RunResult ok = Imgfs(args);
      EXPECT_EQ(ok.exit_code, 0) << cmd[0] << " " << option << ": " << ok.err;
      args[2] = dir_ / "no-such-key";
      RunResult missing = Imgfs(args);
      EXPECT_NE(missing.exit_code, 0) << cmd[0];
      EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
      EXPECT_NE(missing.err.find("cannot open key file"), std::string::npos) << missing.err;
      EXPECT_NE(missing.err.find("no-such-key"), std::string::npos) << missing.err;
    }
    RunResult help = Imgfs({cmd[0], "--help"});
    EXPECT_NE(help.out.find("--passphrase-file FILE"), std::string::npos) << cmd[0];
  }
  RunResult empty = Imgfs({"info", "--passphrase-file", "/dev/null", image});
  EXPECT_NE(empty.exit_code, 0);
  EXPECT_NE(empty.err.find("key file /dev/null is empty"), std::string::npos) << empty.err;
}

TEST_F(CliTest, HelpAndVersion) {
  for (const char* cmd : {"mount", "umount", "info", "convert", "check", "map"}) {
#ifdef IMGFS_TEST_HAS_NO_FUSE
    if (std::string(cmd) == "mount") {
      continue;
    }
#endif
    RunResult r = Imgfs({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find(std::string("usage: imgfs ") + cmd), std::string::npos) << cmd;
    EXPECT_EQ(Imgfs({cmd, "-h"}).out, r.out) << cmd;
  }
  EXPECT_EQ(Imgfs({"--help"}).exit_code, 0);
  RunResult v = Imgfs({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out.rfind("imgfs ", 0), 0u);
  RunResult bad = Imgfs({"info", "--bogus", "x"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
}

}  // namespace
}  // namespace imgfs::testing
