// SPDX-License-Identifier: MIT
// cloop V4.0 images whose blocks are lz4 and lzo1x (compressed by
// python3-lz4 and python3-lzo through the test builder), mixed with zlib,
// uncompressed and xz blocks, through a real FUSE mount: <stem>.raw holds
// the builder's plaintext, read whole and in odd pieces across blocks, and
// `imgfs info` lists the compressors. A damaged lz4 block fails only the
// reads that meet it, with EIO.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "core/codec/codec.h"
#include "tests/formats/cloop/test_cloop_builder.h"
#include "tests/fuse/test_util.h"

namespace imgfs::testing {
namespace {

constexpr uint32_t kBlock = 16384;

class CloopLzMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
    IMGFS_REQUIRE(cloop::testing::HaveLzPython(), "python3-lz4 and python3-lzo");
    IMGFS_REQUIRE(codec::Available(codec::Codec::kLz4) && codec::Available(codec::Codec::kLzo),
                  "liblz4 and liblzo2 in this build");
    mnt_ = dir_ / "mnt";
    std::filesystem::create_directory(mnt_);
    spec_.version = 4;
    spec_.block_bytes = kBlock;
    spec_.disk = RandomBytes(20 * kBlock, 5);
    for (size_t i = 0; i < spec_.disk.size(); i += 3 * 4096) {
      spec_.disk.replace(i, 4096, std::string(4096, static_cast<char>('a' + i % 26)));
    }
    spec_.disk.resize(spec_.disk.size() - 1000);
    const bool xz = codec::Available(codec::Codec::kXz);
    for (size_t i = 0; i < 20; ++i) {
      const uint8_t cycle[] = {3, 4, 0, 1, static_cast<uint8_t>(xz ? 2 : 3)};
      spec_.flags.push_back(cycle[i % 5]);
    }
  }

  TempDir dir_;
  std::string mnt_;
  cloop::testing::CloopSpec spec_;
};

TEST_F(CloopLzMountTest, MixedCompressorsReadAsThePlaintext) {
  for (bool last : {false, true}) {
    spec_.header_last = last;
    const std::string stem = last ? "last" : "first";
    WriteFile(dir_ / (stem + ".cloop"), cloop::testing::BuildCloop(spec_));
    Mount m({dir_ / (stem + ".cloop")}, mnt_);
    ASSERT_TRUE(m.ok()) << m.result().err;
    const std::string want = cloop::testing::PaddedDisk(spec_);
    const std::string view = m / (stem + ".raw");
    EXPECT_TRUE(ReadFile(view) == want);
    int fd = ::open(view.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    for (uint64_t off : {uint64_t{1}, uint64_t{kBlock - 7}, uint64_t{3 * kBlock + 511},
                         uint64_t{want.size() - 5000}}) {
      std::string buf(3 * kBlock + 13, '\0');
      const ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
      ASSERT_GE(n, 0);
      EXPECT_TRUE(buf.substr(0, static_cast<size_t>(n)) ==
                  want.substr(off, static_cast<size_t>(n)));
    }
    ::close(fd);
  }
  RunResult info = RunCommand({ImgfsBinary(), "info", "--json", dir_ / "first.cloop"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("\"lz4\""), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("\"lzo\""), std::string::npos) << info.out;
}

TEST_F(CloopLzMountTest, ADamagedLz4BlockFailsOnlyItsReads) {
  std::string image = cloop::testing::BuildCloop(spec_);
  // Block 5 is lz4 (flags cycle 3 4 0 1 x): overwrite its stored bytes.
  auto entry = [&](size_t i) {
    uint64_t v = 0;
    for (size_t k = 0; k < 8; ++k) {
      v = v << 8 | static_cast<uint8_t>(image[136 + i * 8 + k]);
    }
    return v & ((uint64_t{1} << 60) - 1);
  };
  for (uint64_t at = entry(5); at < entry(6); at += 3) {
    image[at] = '\x7f';
  }
  WriteFile(dir_ / "bad.cloop", image);
  Mount m({dir_ / "bad.cloop"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  int fd = ::open((m / "bad.raw").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string buf(kBlock, '\0');
  errno = 0;
  EXPECT_EQ(::pread(fd, buf.data(), buf.size(), 5 * kBlock), -1);
  EXPECT_EQ(errno, EIO);
  ASSERT_EQ(::pread(fd, buf.data(), buf.size(), 6 * kBlock), static_cast<ssize_t>(kBlock));
  EXPECT_TRUE(buf == cloop::testing::PaddedDisk(spec_).substr(6 * kBlock, kBlock));
  ::close(fd);
}

}  // namespace
}  // namespace imgfs::testing
