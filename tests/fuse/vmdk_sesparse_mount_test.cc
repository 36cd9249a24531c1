// SPDX-License-Identifier: MIT
// An ESXi-style snapshot through a real FUSE mount: a directory holding a
// qemu-made parent, a seSparse delta (descriptor + builder-made extent) and
// a seSparse disk without a parent shows each disk once (never the extent
// files), with qemu-img's bytes, size and data ranges (SEEK_DATA/SEEK_HOLE);
// the delta mounted alone, and with --no-backing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tests/formats/vmdk/test_sesparse_builder.h"
#include "tests/fuse/test_util.h"

namespace imgfs::testing {
namespace {

using vmdk::testing::BuildSeSparse;
using vmdk::testing::SePattern;
using vmdk::testing::SeSparseDescriptor;
using vmdk::testing::SeSparseSpec;

constexpr uint64_t kSectors = 20 * 2048 + 8;  // 20 MiB and a grain: two tables

class VmdkSeSparseMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
    IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
    IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
    std::filesystem::create_directory(img_);
    std::filesystem::create_directory(mnt_);
    const std::string base = img_ + "/base.vmdk";
    MustRun({"qemu-img", "create", "-q", "-f", "vmdk", base, std::to_string(kSectors * 512)});
    MustRun({"qemu-io", "-f", "vmdk", "-c", "write -P 0x5a 0 3M", "-c", "write -P 0x6b 17M 70000",
             base});
    RunResult info = RunCommand({"qemu-img", "info", "--output=json", base});
    ASSERT_EQ(info.exit_code, 0) << info.err;
    const auto cid =
        nlohmann::json::parse(info.out)["format-specific"]["data"]["cid"].get<uint32_t>();
    SeSparseSpec spec;
    spec.capacity_sectors = kSectors;
    spec.reverse_storage = true;
    spec.grains = {{1, SePattern(4096, 1)},
                   {2, SePattern(4096, 2)},
                   {4095, SePattern(4096, 3)},
                   {4096, SePattern(4096, 4)},
                   {5120, SePattern(4096, 5)}};
    spec.zero_grains = {3, 4352};  // over the parent's data: zeros
    spec.unmapped_grains = {7};
    WriteFile(img_ + "/snap-sesparse.vmdk", BuildSeSparse(spec));
    WriteFile(img_ + "/snap.vmdk",
              SeSparseDescriptor(kSectors, "snap-sesparse.vmdk", 0x600dcafe, cid, "base.vmdk"));
    spec.grains.erase(1);
    WriteFile(img_ + "/solo-sesparse.vmdk", BuildSeSparse(spec));
    WriteFile(img_ + "/solo.vmdk", SeSparseDescriptor(kSectors, "solo-sesparse.vmdk", 7));
    for (const char* stem : {"base", "snap", "solo"}) {
      MustRun({"qemu-img", "convert", "-f", "vmdk", "-O", "raw",
               img_ + "/" + std::string(stem) + ".vmdk", dir_ / (std::string(stem) + ".ref")});
    }
  }

  TempDir dir_;
  std::string img_ = dir_ / "img";
  std::string mnt_ = dir_ / "mnt";
};

TEST_F(VmdkSeSparseMountTest, DirectoryShowsEachDiskOnceWithQemuBytesAndHoles) {
  Mount m({img_}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(mnt_)) {
    names.insert(e.path().filename().string());
  }
  EXPECT_EQ(names, (std::set<std::string>{"base.raw", "snap.raw", "solo.raw"}));
  for (const char* stem : {"base", "snap", "solo"}) {
    SCOPED_TRACE(stem);
    const std::string ref = ReadFile(dir_ / (std::string(stem) + ".ref"));
    ASSERT_EQ(ref.size(), kSectors * 512);
    const std::string view = m / (std::string(stem) + ".raw");
    struct stat st {};
    ASSERT_EQ(::stat(view.c_str(), &st), 0);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), ref.size());
    EXPECT_TRUE(ReadFile(view) == ref);
    // Odd-sized reads at odd offsets, across grains and tables.
    const int fd = ::open(view.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    for (uint64_t at : {uint64_t{4095}, uint64_t{3 * 4096 - 7}, uint64_t{16 << 20} - 1000}) {
      std::string buf(9001, '\0');
      ASSERT_EQ(::pread(fd, buf.data(), buf.size(), static_cast<off_t>(at)),
                static_cast<ssize_t>(buf.size()));
      EXPECT_TRUE(buf == ref.substr(at, buf.size())) << at;
    }
    const auto want = QemuDataRanges({img_ + "/" + std::string(stem) + ".vmdk"});
    ASSERT_FALSE(want.empty());
    EXPECT_EQ(QemuDataRanges({"-f", "raw", view}), want);
    for (auto [start, end] : want) {
      EXPECT_EQ(::lseek(fd, static_cast<off_t>(start), SEEK_HOLE), static_cast<off_t>(end));
      EXPECT_EQ(::lseek(fd, static_cast<off_t>(start), SEEK_DATA), static_cast<off_t>(start));
    }
    if (std::string(stem) == "base") {
      ::close(fd);
      continue;
    }
    // The deltas' zero grains (3, 4352) and unmapped one (7), in snap over
    // the parent's data, read zeros; qemu-img map calls them zero, not
    // data, so they are holes: SEEK_DATA there goes on to the next data,
    // SEEK_HOLE stays.
    for (uint64_t grain : {3, 4352, 7}) {
      for (uint64_t at : {grain * 4096, grain * 4096 + 4095}) {
        ExpectSeekMatchesRanges(fd, at, want);
      }
    }
    ::close(fd);
    // ... which qemu's ranges must say, or the checks above would not test
    // holes amid the parent's data.
    auto in_data = [&want](uint64_t at) {
      return std::any_of(want.begin(), want.end(),
                         [at](auto r) { return at >= r.first && at < r.second; });
    };
    EXPECT_FALSE(in_data(3 * 4096) || in_data(7 * 4096) || in_data(4352 * 4096));
    if (std::string(stem) == "snap") {
      EXPECT_TRUE(in_data(4 * 4096) && in_data((uint64_t{17} << 20) + 4096));
    }
  }
}

TEST_F(VmdkSeSparseMountTest, DeltaAloneAndWithoutItsParent) {
  {
    Mount m({img_ + "/snap.vmdk"}, mnt_);
    ASSERT_TRUE(m.ok()) << m.result().err;
    EXPECT_TRUE(ReadFile(m / "snap.raw") == ReadFile(dir_ / "snap.ref"));
  }
  // Without the parent, the delta reads as solo plus grain 1.
  Mount m({"--no-backing", img_ + "/snap.vmdk"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  std::string want = ReadFile(dir_ / "solo.ref");
  want.replace(4096, 4096, SePattern(4096, 1));
  EXPECT_TRUE(ReadFile(m / "snap.raw") == want);
}

}  // namespace
}  // namespace imgfs::testing
