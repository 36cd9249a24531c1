// SPDX-License-Identifier: MIT
// imgfs fat through a real FUSE mount: MOUNTPOINT/disk.img matches the
// device read in-process, mtools extracts the tree from the mounted file,
// writes are refused, bad input fails with one line and a non-zero exit,
// and (as root, with a vfat-capable kernel) the kernel mounts disk.img.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "tests/fuse/test_util.h"
#include "tests/vvfat/vvfat_test_util.h"

namespace imgfs::vvfat {
namespace {

using testing::RunCommand;
using testing::RunResult;
using testing::TempDir;

// `imgfs fat ARGS... DIR MOUNTPOINT`, unmounted on destruction.
class FatMount {
 public:
  FatMount(std::vector<std::string> args, const std::string& dir, std::string mountpoint)
      : mountpoint_(std::move(mountpoint)) {
    std::vector<std::string> argv = {testing::ImgfsBinary(), "fat"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(dir);
    argv.push_back(mountpoint_);
    result_ = RunCommand(argv);
    mounted_ = result_.exit_code == 0 && testing::IsMounted(mountpoint_);
  }
  FatMount(const FatMount&) = delete;
  FatMount& operator=(const FatMount&) = delete;
  ~FatMount() {
    if (mounted_) {
      RunCommand({testing::ImgfsBinary(), "umount", mountpoint_});
      testing::WaitFor(false, mountpoint_);
    }
  }
  bool ok() const { return mounted_; }
  const RunResult& result() const { return result_; }
  std::string disk() const { return mountpoint_ + "/disk.img"; }

 private:
  std::string mountpoint_;
  RunResult result_;
  bool mounted_ = false;
};

void MakeTree(const std::string& d) {
  Put(d + "/hello.txt", "hello\n");
  Put(d + "/Mixed Case Name.Data", testing::RandomBytes(300000, 5));
  Put(d + "/sub/dir/\u00e9t\u00e9.bin", testing::RandomBytes(5000, 6));
  Put(d + "/empty", "");
}

TEST(FatMountTest, DiskImgMatchesTheDeviceAndMtoolsReadsTheTree) {
  IMGFS_REQUIRE(testing::HaveFuse(), "/dev/fuse");
  TempDir src;
  TempDir mnt;
  MakeTree(src.path());
  FatMount m({"--label", "TEST"}, src.path(), mnt.path());
  ASSERT_TRUE(m.ok()) << m.result().err;
  DiskOptions o;
  o.label = "TEST";
  ASSERT_OK_AND_ASSIGN(auto dev, MakeDisk(src.path(), o));
  struct stat st {};
  ASSERT_EQ(::stat(m.disk().c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), dev->Size());
  EXPECT_EQ(st.st_mode & 0222, 0u);
  const std::string whole = testing::ReadFile(m.disk());
  std::string want(dev->Size(), '\0');
  ASSERT_TRUE(dev->Read(0, std::as_writable_bytes(std::span(want))).ok());
  EXPECT_TRUE(whole == want);
  // pread at odd offsets.
  const int fd = ::open(m.disk().c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  for (off_t off : {off_t{1}, off_t{4097}, off_t{(1 << 20) + 511}, off_t(want.size() - 7)}) {
    char buf[7];
    ASSERT_EQ(::pread(fd, buf, sizeof buf, off), 7);
    EXPECT_EQ(std::string(buf, 7), want.substr(static_cast<size_t>(off), 7)) << off;
  }
  ::close(fd);
  EXPECT_LT(::open(m.disk().c_str(), O_WRONLY), 0);
  if (RunCommand({"sh", "-c", "command -v mcopy"}).exit_code == 0) {
    TempDir out;
    RunResult r = RunCommand({"env", "MTOOLS_SKIP_CHECK=1", "LC_ALL=C.UTF-8", "mcopy", "-s", "-n",
                              "-i", m.disk() + "@@1M", "::/", out.path() + "/"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(Snapshot(out.path()), Snapshot(src.path()));
  } else {
    IMGFS_REQUIRE(false, "mcopy");
  }
}

TEST(FatMountTest, KernelVfatMountsTheDiskAndShowsTheSameTree) {
  IMGFS_REQUIRE(testing::HaveFuse(), "/dev/fuse");
  if (::geteuid() != 0) {
    GTEST_SKIP() << "mount -o loop needs root";
  }
  TempDir src;
  TempDir mnt;
  TempDir kmnt;
  MakeTree(src.path());
  FatMount m({"--no-mbr"}, src.path(), mnt.path());
  ASSERT_TRUE(m.ok()) << m.result().err;
  RunResult r = RunCommand({"mount", "-t", "vfat", "-o", "loop,ro,utf8", m.disk(), kmnt.path()});
  if (r.exit_code != 0) {
    std::ifstream fs("/proc/filesystems");
    std::string all((std::istreambuf_iterator<char>(fs)), {});
    if (all.find("vfat") == std::string::npos) {
      GTEST_SKIP() << "the kernel has no vfat driver (not in /proc/filesystems, and "
                      "mount -t vfat failed: "
                   << r.err << ")";
    }
    FAIL() << "mount -t vfat failed: " << r.err;
  }
  auto got = Snapshot(kmnt.path());
  RunCommand({"umount", kmnt.path()});
  EXPECT_EQ(got, Snapshot(src.path()));
}

TEST(FatCliTest, HelpNamesEveryOption) {
  RunResult r = RunCommand({testing::ImgfsBinary(), "fat", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--fat-type", "--size", "--floppy", "--no-mbr", "--label",
                          "--cluster-size", "--skip-large", "-o"}) {
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
  }
  RunResult top = RunCommand({testing::ImgfsBinary(), "--help"});
  EXPECT_NE(top.out.find("fat [options] DIR MOUNTPOINT"), std::string::npos);
}

// One line on stderr, "imgfs: ...", and a non-zero exit.
void ExpectRefusal(const std::vector<std::string>& args, const std::string& needle, int code = 1) {
  std::vector<std::string> argv = {testing::ImgfsBinary(), "fat"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = RunCommand(argv);
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(r.err.rfind("imgfs: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

TEST(FatCliTest, BadInputIsRefusedWithOneLine) {
  TempDir src;
  TempDir mnt;
  Put(src / "big", std::string(3 << 20, 'x'));
  ExpectRefusal({src / "missing", mnt.path()}, "no such directory");
  ExpectRefusal({src / "big", mnt.path()}, "not a directory");
  ExpectRefusal({src.path(), src / "big"}, "not a directory");
  ExpectRefusal({"--floppy", src.path(), mnt.path()}, "floppy holds");
  ExpectRefusal({"--fat-type", "12", "--size", "2M", src.path(), mnt.path()}, "would fit");
  ExpectRefusal({"--fat-type", "64", src.path(), mnt.path()}, "is not 12, 16 or 32", 2);
  ExpectRefusal({"--floppy=1.7M", src.path(), mnt.path()}, "is not 360K", 2);
  ExpectRefusal({"--label", "much too long", src.path(), mnt.path()}, "longer than 11");
  ExpectRefusal({src.path()}, "expected DIR MOUNTPOINT", 2);
}

TEST(FatCliTest, ChangedNamesAreCountedAndListedWithD) {
  IMGFS_REQUIRE(testing::HaveFuse(), "/dev/fuse");
  TempDir src;
  TempDir mnt;
  Put(src / "a:b", "x");
  Put(src / "A:B", "y");
  {
    FatMount m({}, src.path(), mnt.path());
    ASSERT_TRUE(m.ok()) << m.result().err;
    EXPECT_NE(m.result().err.find("2 names are shown changed"), std::string::npos)
        << m.result().err;
  }
  FatMount m({"-d"}, src.path(), mnt.path());
  ASSERT_TRUE(m.ok()) << m.result().err;
  // Host names are taken in byte order: "A:B" before "a:b".
  EXPECT_NE(m.result().err.find("A:B: shown as A_B\n"), std::string::npos) << m.result().err;
  EXPECT_NE(m.result().err.find("a:b: shown as a_b~2"), std::string::npos) << m.result().err;
}

}  // namespace
}  // namespace imgfs::vvfat
