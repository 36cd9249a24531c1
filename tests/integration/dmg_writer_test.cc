// SPDX-License-Identifier: MIT
// Oracle tests for `imgfs convert -O dmg`: every image imgfs writes, in each
// format, from inputs made at test time (empty, one sector, odd sizes,
// sparse multi-chunk, several GiB, MBR/GPT/APM partition maps made with
// sfdisk, sgdisk and parted), must read back byte-identical (the input
// padded to whole sectors) through three independent readers and imgfs:
//   qemu-img convert -f dmg -O raw   zlib, raw and zero chunks only: Debian
//                                    builds qemu without its bzip2 and lzfse
//                                    dmg modules and qemu has no LZMA
//   dmg2img                          zlib, bzip2, ADC, raw, zero (no LZMA
//                                    or LZFSE in 1.6.7)
//   7zz x -tdmg                      every codec; also verifies the blkx
//                                    CRC-32s
//   imgfs convert -O raw             every codec
// With CI=true a missing tool fails the test instead of skipping it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/fuse/test_util.h"

namespace imgfs::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

struct Input {
  std::string name;
  uint64_t size_bytes = 0;
  bool partitioned = false;
};

// pipefail: a reader that fails mid-stream must fail the check.
RunResult Shell(const std::string& script) {
  return RunCommand({"bash", "-o", "pipefail", "-c", script});
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

constexpr size_t kCompareBlock = 4 << 20;

// Reads up to n bytes (fewer only at end of stream).
size_t ReadFull(int fd, char* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::read(fd, buf + done, n - done);
    if (r <= 0) {
      break;
    }
    done += static_cast<size_t>(r);
  }
  return done;
}

// Runs `command` (its stderr goes to the test log) and compares its stdout
// with the file at `expected` in large blocks: several-GiB streams through
// cmp(1) take many seconds on a loaded machine.
::testing::AssertionResult OutputMatchesFile(const std::string& command,
                                             const std::string& expected) {
  int fd = ::open(expected.c_str(), O_RDONLY);
  if (fd < 0) {
    return ::testing::AssertionFailure() << "cannot open " << expected;
  }
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ::close(fd);
    return ::testing::AssertionFailure() << "cannot run " << command;
  }
  std::vector<char> got(kCompareBlock);
  std::vector<char> want(kCompareBlock);
  uint64_t offset = 0;
  std::string problem;
  for (;;) {
    size_t n = ReadFull(::fileno(pipe), got.data(), got.size());
    size_t m = ReadFull(fd, want.data(), want.size());
    if (n != m || std::memcmp(got.data(), want.data(), n) != 0) {
      problem = "differs in the block at " + std::to_string(offset) + " (got " + std::to_string(n) +
                " bytes, want " + std::to_string(m) + ")";
      break;
    }
    if (n == 0) {
      break;
    }
    offset += n;
  }
  while (ReadFull(::fileno(pipe), got.data(), got.size()) > 0) {
  }
  int status = ::pclose(pipe);
  ::close(fd);
  if (!problem.empty()) {
    return ::testing::AssertionFailure() << command << ": output " << problem;
  }
  if (status != 0) {
    return ::testing::AssertionFailure() << command << ": exit status " << status;
  }
  return ::testing::AssertionSuccess();
}

// True when [offset, offset + length) of fd has no data (a hole).
bool IsHole(int fd, uint64_t offset, uint64_t length) {
  off_t next = ::lseek(fd, static_cast<off_t>(offset), SEEK_DATA);
  return next < 0 || static_cast<uint64_t>(next) >= offset + length;
}

// Compares two files block by block, skipping blocks that are holes in both
// (sparse several-GiB outputs compare in milliseconds).
::testing::AssertionResult FilesMatch(const std::string& a, const std::string& b) {
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(a, ec);
  if (ec || size != std::filesystem::file_size(b, ec) || ec) {
    return ::testing::AssertionFailure() << a << " and " << b << " differ in size";
  }
  int fa = ::open(a.c_str(), O_RDONLY);
  int fb = ::open(b.c_str(), O_RDONLY);
  std::vector<char> x(kCompareBlock);
  std::vector<char> y(kCompareBlock);
  std::string problem;
  for (uint64_t off = 0; off < size && problem.empty(); off += kCompareBlock) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kCompareBlock, size - off));
    if (IsHole(fa, off, n) && IsHole(fb, off, n)) {
      continue;
    }
    if (::pread(fa, x.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n) ||
        ::pread(fb, y.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n) ||
        std::memcmp(x.data(), y.data(), n) != 0) {
      problem = "differ in the block at " + std::to_string(off);
    }
  }
  ::close(fa);
  ::close(fb);
  if (!problem.empty()) {
    return ::testing::AssertionFailure() << a << " and " << b << " " << problem;
  }
  return ::testing::AssertionSuccess();
}

// imgfs's own DMG reader (formats/dmg) converts the DMG back to raw.
void ExpectImgfsReadsBack(const std::string& dmg, const std::string& expected) {
  RunResult i = RunCommand({ImgfsBinary(), "convert", "-O", "raw", dmg, dmg + ".i"});
  EXPECT_EQ(i.exit_code, 0) << "imgfs: " << i.err;
  EXPECT_TRUE(FilesMatch(dmg + ".i", expected));
  std::filesystem::remove(dmg + ".i");
}

bool Have(const std::string& tool) {
  return RunCommand({"bash", "-c", "command -v " + tool}).exit_code == 0;
}

// Inputs are made once for the whole suite; each is a raw file whose
// expected DMG content is itself padded to whole sectors (<name>.expected).
class DmgWriterTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    inputs_ = new std::vector<Input>();
    auto make = [](const std::string& name, const std::string& script, bool partitioned = false) {
      std::string path = *dir_ / name;
      // No pipefail here: `yes | head` ends `yes` with SIGPIPE.
      RunResult r = RunCommand(
          {"bash", "-c", "set -e; cd " + Quote(dir_->path()) + "; f=" + name + "; " + script});
      if (r.exit_code != 0) {
        ADD_FAILURE() << "cannot make input " << name << ": " << r.err;
        return;
      }
      uint64_t size = std::filesystem::file_size(path);
      uint64_t padded = (size + 511) / 512 * 512;
      Shell("cd " + Quote(dir_->path()) + " && cp --sparse=always " + name + " " + name +
            ".expected && truncate -s " + std::to_string(padded) + " " + name + ".expected");
      inputs_->push_back({name, size, partitioned});
    };
    make("empty.raw", ": > $f");
    make("sector.raw", "head -c 512 /dev/urandom > $f");
    // 3 MiB + 512 + 7 bytes: random, zeros, then text that compresses well.
    make("odd.raw",
         "head -c 1048576 /dev/urandom > $f; head -c 1048576 /dev/zero >> $f;"
         "yes 'imgfs writes dmg images' | head -c 1049095 >> $f");
    // Sparse, 32 MiB: data across chunk boundaries, a zero-filled data
    // block (written zeros) and long holes.
    make("sparse.raw",
         "truncate -s 32M $f;"
         "head -c 3000000 /dev/urandom | dd of=$f bs=4096 seek=200 conv=notrunc status=none;"
         "dd if=/dev/zero of=$f bs=1M seek=20 count=2 conv=notrunc status=none;"
         "yes abc | head -c 70000 | dd of=$f bs=64K oflag=seek_bytes seek=30000001 conv=notrunc "
         "status=none;"
         "head -c 4096 /dev/urandom | dd of=$f bs=4096 seek=8191 conv=notrunc status=none");
    const std::string fill =
        "for off in 1M 3M 5M 7M; do yes \"part $off\" | head -c 300000 |"
        " dd of=$f bs=64K oflag=seek_bytes seek=$(( ${off%M} * 1048576 + 4096 )) conv=notrunc "
        "status=none; done;";
    if (Have("sfdisk")) {
      make("mbr.raw",
           "truncate -s 9M $f; printf 'label: dos\\n2048,4096,83\\n6144,6144,c\\n' |"
           " sfdisk -q $f >/dev/null;" +
               fill,
           true);
    }
    if (Have("sgdisk")) {
      make("gpt.raw",
           "truncate -s 10M $f; sgdisk -n 1:2048:+3M -t 1:8300 -c 1:linux"
           " -n 2:0:+4M -t 2:af00 -c 2:mac $f >/dev/null;" +
               fill,
           true);
    }
    // A disk made on macOS (tests/data/README.md): GPT, one HFS+ volume,
    // the gaps and alignment MediaKit leaves.
    if (UnpackMacosDisk(*dir_ / "macos.raw")) {
      make("macos.raw", ": # unpacked above", true);
    }
    if (Have("parted")) {
      make("apm.raw",
           "truncate -s 9M $f; parted -s $f mklabel mac mkpart p1 hfs+ 1MiB 4MiB"
           " mkpart p2 hfs+ 4MiB 8MiB;" +
               fill,
           true);
    }
  }

  static void TearDownTestSuite() {
    delete inputs_;
    delete dir_;
  }

  void SetUp() override {
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
    IMGFS_REQUIRE(Have("sfdisk") && Have("sgdisk") && Have("parted"), "sfdisk, sgdisk and parted");
  }

  // Converts `input` to <input>.<format>.dmg and checks every reader.
  void ConvertAndCheck(const Input& input, const std::string& format) {
    SCOPED_TRACE(input.name + " as " + format);
    const std::string src = *dir_ / input.name;
    const std::string expected = src + ".expected";
    const std::string dmg = src + "." + format + ".dmg";
    RunResult r = RunCommand(
        {ImgfsBinary(), "convert", "-O", "dmg", "-o", "format=" + format, "-m", "2", src, dmg});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    if (input.size_bytes % 512 != 0) {
      EXPECT_NE(r.err.find("is not a multiple of 512"), std::string::npos) << r.err;
    } else {
      EXPECT_EQ(r.err, "");
    }
    const bool zlib_or_raw = format == "UDZO" || format == "UDRO" || format == "UDRW";
    if (zlib_or_raw) {
      IMGFS_REQUIRE(HaveQemuImg(), "qemu-img");
      ASSERT_EQ(
          Shell("qemu-img convert -f dmg -O raw " + Quote(dmg) + " " + Quote(dmg + ".q")).exit_code,
          0);
      EXPECT_TRUE(FilesMatch(dmg + ".q", expected));
      std::filesystem::remove(dmg + ".q");
    }
    if (format != "ULMO" && format != "ULFO") {
      IMGFS_REQUIRE(Have("dmg2img"), "dmg2img");
      EXPECT_TRUE(OutputMatchesFile("dmg2img -s " + Quote(dmg) + " /dev/stdout", expected));
    }
    IMGFS_REQUIRE(Have("7zz"), "7zz (7-Zip)");
    EXPECT_TRUE(OutputMatchesFile("7zz x -tdmg -so " + Quote(dmg) + " 2>" + Quote(dmg + ".7zerr"),
                                  expected));
    // 7-Zip reports CRC mismatches as warnings and still exits 0.
    EXPECT_EQ(Shell("grep -i -E 'warning|error' " + Quote(dmg + ".7zerr")).exit_code, 1)
        << ReadFile(dmg + ".7zerr");
    ExpectImgfsReadsBack(dmg, expected);
    if (input.partitioned) {
      // One blkx per map structure, partition and gap: 7-Zip lists each.
      RunResult l = Shell("7zz l -tdmg -slt " + Quote(dmg) + " | grep -c '^Path = [0-9]'");
      EXPECT_GT(std::stoi(l.out.empty() ? "0" : l.out), 2) << l.out << l.err;
    }
    std::filesystem::remove(dmg);
  }

  static TempDir* dir_;
  static std::vector<Input>* inputs_;
};

TempDir* DmgWriterTest::dir_ = nullptr;
std::vector<Input>* DmgWriterTest::inputs_ = nullptr;

TEST_P(DmgWriterTest, EveryInputReadsBackIdenticalThroughEveryReader) {
  ASSERT_EQ(inputs_->size(), 8u);
  for (const Input& input : *inputs_) {
    ConvertAndCheck(input, GetParam());
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, DmgWriterTest,
                         ::testing::Values("UDZO", "UDBZ", "ULMO", "ULFO", "UDCO", "UDRO", "UDRW"));

// The macOS-made GPT disk: one blkx per GPT structure, gap and partition,
// named as hdiutil names them (the Apple_Free gaps are MediaKit's 6-sector
// alignment before the volume and 3 sectors after it), and 7-Zip, which
// parses the blkx layout down to the HFS+ volume, extracts the same files
// from the DMG as from the raw disk.
TEST(DmgWriterMacosTest, GptLayoutAndHfsVolumeSurviveConversion) {
  IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
  IMGFS_REQUIRE(Have("7zz"), "7zz (7-Zip)");
  TempDir dir;
  const std::string raw = dir / "macos.raw";
  ASSERT_TRUE(UnpackMacosDisk(raw));
  const std::string dmg = dir / "macos.dmg";
  RunResult c = RunCommand({ImgfsBinary(), "convert", "-O", "dmg", raw, dmg});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  RunResult info = RunCommand({ImgfsBinary(), "info", "--json", dmg});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  nlohmann::json j = nlohmann::json::parse(info.out, nullptr, false);
  ASSERT_TRUE(j.contains("format-specific")) << info.out;
  std::string names;
  for (const nlohmann::json& b : j["format-specific"]["data"]["blkx"]) {
    names += b["name"].get<std::string>() + " " +
             std::to_string(b["first-sector"].get<uint64_t>()) + " " +
             std::to_string(b["sector-count"].get<uint64_t>()) + "\n";
  }
  EXPECT_EQ(names,
            "Protective Master Boot Record (MBR : 0) 0 1\n"
            "GPT Header (Primary GPT Header : 1) 1 1\n"
            "GPT Partition Data (Primary GPT Table : 2) 2 32\n"
            " (Apple_Free : 3) 34 6\n"
            "disk image (Apple_HFS : 4) 40 19496\n"
            " (Apple_Free : 5) 19536 3\n"
            "GPT Partition Data (Backup GPT Table : 6) 19539 32\n"
            "GPT Header (Backup GPT Header : 7) 19571 1\n");
  ASSERT_EQ(
      Shell("cd " + Quote(dir.path()) +
            " && 7zz x -ofrom-raw macos.raw >/dev/null && 7zz x -ofrom-dmg macos.dmg >/dev/null")
          .exit_code,
      0);
  RunResult files = Shell("cd " + Quote(dir.path()) + "/from-dmg && find . -type f | sort");
  EXPECT_NE(files.out.find("./blank-large-disk/.journal\n"), std::string::npos) << files.out;
  EXPECT_NE(files.out.find("./blank-large-disk/.fseventsd/fseventsd-uuid\n"), std::string::npos)
      << files.out;
  RunResult diff = Shell("diff -r " + Quote(dir / "from-raw") + " " + Quote(dir / "from-dmg"));
  EXPECT_EQ(diff.exit_code, 0) << diff.out << diff.err;
}

// 4 GiB + 4 KiB (past 2^32: 32-bit offsets would wrap), mostly holes with
// data at both ends and across the 4 GiB line; UDZO, the default.
TEST(DmgWriterLargeTest, SeveralGibSparseImageReadsBackIdentical) {
  IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
  IMGFS_REQUIRE(HaveQemuImg() && Have("dmg2img") && Have("7zz"), "qemu-img, dmg2img and 7zz");
  TempDir dir;
  const std::string src = dir / "big.raw";
  const std::string dmg = dir / "big.dmg";
  ASSERT_EQ(RunCommand({"bash", "-c",
                        "set -e; f=" + Quote(src) +
                            "; truncate -s 4294971392 $f;"
                            "head -c 1000000 /dev/urandom | dd of=$f conv=notrunc status=none;"
                            "yes big | head -c 2000000 | dd of=$f bs=4096 seek=1048000 conv=notrunc"
                            " status=none"})
                .exit_code,
            0);
  RunResult r = RunCommand({ImgfsBinary(), "convert", "-O", "dmg", src, dmg});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(std::filesystem::file_size(dmg), 8 * kMiB);
  ASSERT_EQ(
      Shell("qemu-img convert -f dmg -O raw " + Quote(dmg) + " " + Quote(dmg + ".q")).exit_code, 0);
  EXPECT_TRUE(FilesMatch(dmg + ".q", src));
  ExpectImgfsReadsBack(dmg, src);
  // Streaming 4 GiB out of dmg2img and 7-Zip takes tens of seconds on a
  // loaded CI machine, so here they only decode it: 7-Zip checks the data
  // against the blkx CRC-32s (computed from the source when writing);
  // dmg2img must decode every chunk without error. Both
  // compare byte for byte on every other input.
  RunResult z = Shell("7zz t -tdmg " + Quote(dmg) + " 2>&1");
  EXPECT_EQ(z.exit_code, 0) << z.out;
  EXPECT_NE(z.out.find("Everything is Ok"), std::string::npos) << z.out;
  EXPECT_EQ(z.out.find("Warning"), std::string::npos) << z.out;
  RunResult d = Shell("dmg2img -s " + Quote(dmg) + " /dev/null");
  EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
  EXPECT_EQ(d.out, "");
}

TEST(DmgWriterCliTest, RejectsBadOptions) {
  IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
  TempDir dir;
  WriteFile(dir / "a.raw", std::string(4096, 'a'));
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"-o", "format=UDXX"},
                                              {"-o", "level=12"},
                                              {"-o", "chunk_size=1000"},
                                              {"-o", "chunk_size=128M"},
                                              {"-o", "colour=blue"},
                                              {"-m", "0"}}) {
    std::vector<std::string> argv = {ImgfsBinary(), "convert", "-O", "dmg"};
    argv.insert(argv.end(), bad.begin(), bad.end());
    argv.push_back(dir / "a.raw");
    argv.push_back(dir / "a.dmg");
    RunResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 2) << bad[1];
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "a.dmg"));
  }
  RunResult ok =
      RunCommand({ImgfsBinary(), "convert", "-O", "dmg", "-o", "format=udro,chunk_size=64k", "-m",
                  "1", dir / "a.raw", dir / "a.dmg"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

}  // namespace
}  // namespace imgfs::testing
