// SPDX-License-Identifier: MIT
// Mount tests: run the imgfs binary, mount raw and qcow2 images into a temp
// dir, and check bytes, attributes, holes and lifecycle against the source
// files and the qemu-img oracle.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/fuse/test_util.h"

namespace imgfs::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

// A unique fd, closed on scope exit.
class Fd {
 public:
  explicit Fd(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY)) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string PreadString(int fd, uint64_t offset, size_t len) {
  std::string buf(len, '\0');
  ssize_t n = ::pread(fd, buf.data(), len, static_cast<off_t>(offset));
  buf.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return buf;
}

// Writes `size` bytes as a sparse file with random data in a few ranges,
// some unaligned. Returns the file's bytes.
std::string MakeSparseRaw(const std::string& path, uint64_t size, uint32_t seed) {
  std::string bytes(size, '\0');
  const std::pair<uint64_t, uint64_t> ranges[] = {
      {0, 4096}, {3 * kMiB + 17, 70000}, {5 * kMiB, kMiB}, {size - 12345, 12345}};
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
  uint32_t s = seed;
  for (auto [off, len] : ranges) {
    std::string data = RandomBytes(len, s++);
    bytes.replace(off, len, data);
    EXPECT_EQ(::pwrite(fd, data.data(), len, static_cast<off_t>(off)), static_cast<ssize_t>(len));
  }
  ::close(fd);
  return bytes;
}

// A qcow2 made by qemu-img with unaligned, cross-cluster, zero and sparse
// writes; returns its `qemu-img convert -O raw` bytes.
std::string MakeQcow2(const TempDir& dir, const std::string& name) {
  std::string path = dir / name;
  MustRun({"qemu-img", "create", "-q", "-f", "qcow2", path, "16M"});
  MustRun({"qemu-io", "-c", "write -P 0x5a 1M 64k", "-c", "write -P 0xa5 3000001 70000", "-c",
           "write -z 8M 128k", "-c", "write -P 0x11 15M 1M", path});
  std::string ref = dir / (name + ".ref");
  MustRun({"qemu-img", "convert", "-O", "raw", path, ref});
  return ReadFile(ref);
}

class MountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
    mnt_ = dir_ / "mnt";
    std::filesystem::create_directory(mnt_);
  }
  TempDir dir_;
  std::string mnt_;
};

TEST_F(MountTest, RawReadsMatchAtOddOffsetsAndStopAtEof) {
  const uint64_t size = 8 * kMiB + 333;
  std::string src = MakeSparseRaw(dir_ / "disk.img", size, 42);
  Mount m({dir_ / "disk.img"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  EXPECT_EQ(ReadFile(m / "disk.raw"), src);
  Fd fd(m / "disk.raw");
  ASSERT_GE(fd.get(), 0);
  for (uint64_t off :
       {uint64_t{1}, uint64_t{511}, uint64_t{4095}, uint64_t{65537}, 3 * kMiB + 5, size - 7}) {
    for (size_t len : {size_t{1}, size_t{3}, size_t{4097}, size_t{131073}, size_t{kMiB + 5}}) {
      std::string want = src.substr(off, std::min<uint64_t>(len, size - off));
      EXPECT_EQ(PreadString(fd.get(), off, len), want) << "off=" << off << " len=" << len;
    }
  }
  EXPECT_EQ(PreadString(fd.get(), size, 100), "");
  EXPECT_EQ(PreadString(fd.get(), size + 4096, 100), "");
}

TEST_F(MountTest, StatShowsSizeOwnerModeWithoutWriteAndDataBlocks) {
  const uint64_t size = 8 * kMiB;
  MakeSparseRaw(dir_ / "disk.img", size, 7);
  ASSERT_EQ(::chmod((dir_ / "disk.img").c_str(), 0664), 0);
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown((dir_ / "disk.img").c_str(), 1234, 4321), 0);
  }
  struct stat src {};
  ASSERT_EQ(::stat((dir_ / "disk.img").c_str(), &src), 0);
  Mount m({dir_ / "disk.img"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  struct stat st {};
  ASSERT_EQ(::stat((m / "disk.raw").c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), size);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  EXPECT_EQ(st.st_uid, src.st_uid);
  EXPECT_EQ(st.st_gid, src.st_gid);
  // The view's blocks count the source's data extents, so a sparse image
  // shows about as many blocks as the file holds (not its full size).
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, size / 2);
  EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, kMiB + 70000 + 4096);
  EXPECT_EQ(::access((m / "disk.raw").c_str(), W_OK), -1);
  EXPECT_EQ(::open((m / "disk.raw").c_str(), O_WRONLY), -1);
}

// The mount raises its bdi read-ahead to 1 MiB (ops.cc RaiseReadAhead),
// found in mountinfo by the resolved mountpoint: a mountpoint given with
// "." components must still be found.
TEST_F(MountTest, ReadAheadIsRaisedForAnUnresolvedMountpoint) {
  IMGFS_REQUIRE(::geteuid() == 0, "root (to write /sys/class/bdi)");
  MakeSparseRaw(dir_ / "disk.img", 8 * kMiB, 3);
  Mount m({dir_ / "disk.img"}, dir_ / "./mnt");
  ASSERT_TRUE(m.ok()) << m.result().err;
  struct stat st {};
  ASSERT_EQ(::stat((m / "disk.raw").c_str(), &st), 0);
  std::string bdi = "/sys/class/bdi/" + std::to_string(major(st.st_dev)) + ":" +
                    std::to_string(minor(st.st_dev)) + "/read_ahead_kb";
  EXPECT_EQ(ReadFile(bdi), "1024\n") << bdi;
}

TEST_F(MountTest, ModeFollowsImageMinusWriteBits) {
  MakeSparseRaw(dir_ / "disk.img", 8 * kMiB, 1);
  ASSERT_EQ(::chmod((dir_ / "disk.img").c_str(), 0640), 0);
  Mount m({dir_ / "disk.img"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  struct stat st {};
  ASSERT_EQ(::stat((m / "disk.raw").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0440u);
}

TEST_F(MountTest, FourConcurrentReadersSeeTheSourceBytes) {
  const uint64_t size = 8 * kMiB;
  std::string src = MakeSparseRaw(dir_ / "disk.img", size, 99);
  Mount m({dir_ / "disk.img"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Fd fd(m / "disk.raw");
      std::mt19937_64 gen(1000 + t);
      for (int i = 0; i < 500; ++i) {
        uint64_t off = gen() % size;
        size_t len = 1 + gen() % (256 * 1024);
        if (PreadString(fd.get(), off, len) != src.substr(off, len)) {
          ++mismatches;
        }
      }
    });
  }
  for (std::thread& th : threads) {
    th.join();
  }
  EXPECT_EQ(mismatches.load(), 0) << "seeds 1000..1003";
}

off_t SeekOrErrno(int fd, uint64_t off, int whence) {
  off_t r = ::lseek(fd, static_cast<off_t>(off), whence);
  return r < 0 ? -errno : r;
}

TEST_F(MountTest, SeekDataAndHoleMatchTheSourceFile) {
  const uint64_t size = 8 * kMiB;
  MakeSparseRaw(dir_ / "disk.img", size, 5);
  Mount m({dir_ / "disk.img"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  Fd view(m / "disk.raw");
  Fd src(dir_ / "disk.img");
  for (uint64_t off = 0; off < size + 8192; off += 65536 + 4093) {
    EXPECT_EQ(SeekOrErrno(view.get(), off, SEEK_DATA), SeekOrErrno(src.get(), off, SEEK_DATA))
        << "SEEK_DATA at " << off;
    EXPECT_EQ(SeekOrErrno(view.get(), off, SEEK_HOLE), SeekOrErrno(src.get(), off, SEEK_HOLE))
        << "SEEK_HOLE at " << off;
  }
}

TEST_F(MountTest, MultipleImagesGetUniqueStemsAndDirectoriesContributeImages) {
  std::filesystem::create_directories(dir_ / "a");
  std::filesystem::create_directories(dir_ / "b");
  std::filesystem::create_directories(dir_ / "c/sub");
  std::string a = MakeSparseRaw(dir_ / "a/disk.img", 8 * kMiB, 1);
  std::string b = MakeSparseRaw(dir_ / "b/disk.img", 8 * kMiB, 2);
  std::string y = MakeSparseRaw(dir_ / "c/y.IMG", 8 * kMiB, 3);
  WriteFile(dir_ / "c/notes.txt", "not an image\n");
  Mount m({dir_ / "a/disk.img", dir_ / "b/disk.img", dir_ / "c"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(mnt_)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"disk-2.raw", "disk.raw", "y.raw"}));
  EXPECT_EQ(ReadFile(m / "disk.raw"), a);
  EXPECT_EQ(ReadFile(m / "disk-2.raw"), b);
  EXPECT_EQ(ReadFile(m / "y.raw"), y);
}

TEST_F(MountTest, RegularFileMountpointBecomesTheRawView) {
  std::string src = MakeSparseRaw(dir_ / "disk.img", 8 * kMiB + 1, 11);
  std::string target = dir_ / "view.raw";
  WriteFile(target, "");
  Mount m({dir_ / "disk.img"}, target);
  ASSERT_TRUE(m.ok()) << m.result().err;
  struct stat st {};
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), src.size());
  EXPECT_EQ(ReadFile(target), src);
}

TEST_F(MountTest, FailingImageFailsTheWholeMountWithOneLine) {
  MakeSparseRaw(dir_ / "good.img", 8 * kMiB, 1);
  std::string bad = "QFI\xfb";
  bad += RandomBytes(600, 3);
  WriteFile(dir_ / "bad.qcow2", bad);
  for (const std::string& second : {dir_ / "bad.qcow2", dir_ / "missing.img"}) {
    RunResult r = RunCommand({ImgfsBinary(), "mount", dir_ / "good.img", second, mnt_});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("imgfs: " + second + ": ", 0), 0u) << r.err;
    EXPECT_FALSE(IsMounted(mnt_));
  }
}

TEST_F(MountTest, RwIsRefused) {
  MakeSparseRaw(dir_ / "disk.img", 8 * kMiB, 1);
  RunResult r = RunCommand({ImgfsBinary(), "mount", "--rw", dir_ / "disk.img", mnt_});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err, "imgfs: --rw: writable mounts come in a later release\n");
  EXPECT_FALSE(IsMounted(mnt_));
}

// Runs `imgfs mount -f` in the background and stops it with `sig`. With
// `relative`, from the parent of `mnt` with both paths relative (libfuse
// moves to "/" and unmounts by path: a relative one used to be left mounted).
void ExpectSignalUnmounts(const TempDir& dir, const std::string& mnt, int sig,
                          bool relative = false) {
  const std::filesystem::path mnt_path(mnt);
  pid_t pid = ::fork();
  if (pid == 0) {
    int null_fd = ::open("/dev/null", O_WRONLY);
    ::dup2(null_fd, 1);
    ::dup2(null_fd, 2);
    std::string bin = ImgfsBinary();
    std::string img = dir / "disk.img";
    std::string point = mnt;
    if (relative && ::chdir(mnt_path.parent_path().c_str()) == 0) {
      img = std::filesystem::relative(img, mnt_path.parent_path()).string();
      point = mnt_path.filename().string();
    }
    ::execl(bin.c_str(), bin.c_str(), "mount", "-f", img.c_str(), point.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_TRUE(WaitFor(true, mnt)) << "mount did not appear";
  ASSERT_EQ(::kill(pid, sig), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(IsMounted(mnt));
}

TEST_F(MountTest, SigtermAndSigintUnmountCleanly) {
  MakeSparseRaw(dir_ / "disk.img", 8 * kMiB, 1);
  ExpectSignalUnmounts(dir_, mnt_, SIGTERM);
  ExpectSignalUnmounts(dir_, mnt_, SIGINT);
  ExpectSignalUnmounts(dir_, mnt_, SIGTERM, /*relative=*/true);
}

class Qcow2MountTest : public MountTest {
 protected:
  void SetUp() override {
    MountTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
  }
};

TEST_F(Qcow2MountTest, BytesMatchQemuImgConvert) {
  std::string ref = MakeQcow2(dir_, "vm.qcow2");
  Mount m({dir_ / "vm.qcow2"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  EXPECT_EQ(ReadFile(m / "vm.raw"), ref);
  Fd fd(m / "vm.raw");
  EXPECT_EQ(PreadString(fd.get(), 3000001 - 3, 70006), ref.substr(3000001 - 3, 70006));
}

// Reads all of `path` with O_DIRECT in `chunk`-byte requests (each one
// reaches the server unsplit, as fio's sequential runs do).
std::string ReadDirect(const std::string& path, size_t chunk) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECT);
  EXPECT_GE(fd, 0) << path << ": " << std::strerror(errno);
  if (fd < 0) {
    return {};
  }
  void* raw = nullptr;
  EXPECT_EQ(::posix_memalign(&raw, 4096, chunk), 0);
  std::unique_ptr<char, decltype(&std::free)> buf(static_cast<char*>(raw), &std::free);
  std::string out;
  for (off_t off = 0;; off += static_cast<off_t>(chunk)) {
    ssize_t n = ::pread(fd, buf.get(), chunk, off);
    if (n <= 0) {
      break;
    }
    out.append(buf.get(), static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// Compressed (zlib, zstd) and mixed images: 1 MiB requests span many
// clusters, which the server inflates and reads in parallel on its pool.
TEST_F(Qcow2MountTest, LargeReadsOfCompressedImagesMatchQemuImgConvert) {
  std::string ref = MakeQcow2(dir_, "src.qcow2");
  MustRun({"qemu-img", "convert", "-c", "-O", "qcow2", "-o", "compression_type=zlib",
           dir_ / "src.qcow2", dir_ / "z.qcow2"});
  MustRun({"qemu-img", "convert", "-c", "-O", "qcow2", "-o",
           "compression_type=zstd,cluster_size=4096", dir_ / "src.qcow2", dir_ / "s.qcow2"});
  // Mixed: compressed clusters next to uncompressed, zero and unallocated.
  MustRun({"cp", dir_ / "src.qcow2", dir_ / "m.qcow2"});
  MustRun({"qemu-io", "-c", "write -c -P 0x77 4M 512k", "-c", "write -c -P 0x78 12M 64k",
           dir_ / "m.qcow2"});
  std::string mixed_ref = dir_ / "m.ref";
  MustRun({"qemu-img", "convert", "-O", "raw", dir_ / "m.qcow2", mixed_ref});
  Mount m({dir_ / "z.qcow2", dir_ / "s.qcow2", dir_ / "m.qcow2"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  const std::pair<const char*, std::string> cases[] = {
      {"z.raw", ref}, {"s.raw", ref}, {"m.raw", ReadFile(mixed_ref)}};
  for (const auto& [name, want] : cases) {
    EXPECT_TRUE(ReadDirect(m / name, kMiB) == want) << name << " O_DIRECT 1 MiB";
    EXPECT_TRUE(ReadDirect(m / name, 3 * kMiB) == want) << name << " O_DIRECT 3 MiB";
    EXPECT_TRUE(ReadFile(m / name) == want) << name << " buffered";
  }
}

TEST_F(Qcow2MountTest, HolesMatchQemuImgMapOfTheOriginal) {
  MakeQcow2(dir_, "vm.qcow2");
  Mount m({dir_ / "vm.qcow2"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  auto want = QemuDataRanges({dir_ / "vm.qcow2"});
  ASSERT_FALSE(want.empty());
  // qemu-img map on the raw view sees the same data ranges through
  // SEEK_DATA/SEEK_HOLE.
  EXPECT_EQ(QemuDataRanges({"-f", "raw", m / "vm.raw"}), want);
  Fd fd(m / "vm.raw");
  for (auto [start, end] : want) {
    EXPECT_EQ(SeekOrErrno(fd.get(), start, SEEK_HOLE), static_cast<off_t>(end));
    EXPECT_EQ(SeekOrErrno(fd.get(), start + 1, SEEK_DATA), static_cast<off_t>(start + 1));
  }
  EXPECT_EQ(SeekOrErrno(fd.get(), 0, SEEK_DATA), static_cast<off_t>(want.front().first));
}

TEST_F(Qcow2MountTest, SnapshotsAppearAsStemAtName) {
  std::string path = dir_ / "vm.qcow2";
  MustRun({"qemu-img", "create", "-q", "-f", "qcow2", path, "4M"});
  MustRun({"qemu-io", "-c", "write -P 0x33 0 64k", path});
  MustRun({"qemu-img", "snapshot", "-c", "before update", path});
  MustRun({"qemu-io", "-c", "write -P 0x44 0 64k", path});
  MustRun({"qemu-img", "convert", "-O", "raw", "-l", "snapshot.name=before update", path,
           dir_ / "snap.ref"});
  MustRun({"qemu-img", "convert", "-O", "raw", path, dir_ / "top.ref"});
  Mount m({"--snapshots", path}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  EXPECT_EQ(ReadFile(m / "vm.raw"), ReadFile(dir_ / "top.ref"));
  EXPECT_EQ(ReadFile(m / "vm@before update.raw"), ReadFile(dir_ / "snap.ref"));
}

TEST_F(Qcow2MountTest, NoBackingShowsOnlyTheTopLayer) {
  std::string base = dir_ / "base.qcow2";
  std::string top = dir_ / "top.qcow2";
  MustRun({"qemu-img", "create", "-q", "-f", "qcow2", base, "4M"});
  MustRun({"qemu-io", "-c", "write -P 0x33 0 1M", base});
  MustRun({"qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top});
  MustRun({"qemu-io", "-c", "write -P 0x44 2M 64k", top});
  {
    Mount full({top}, mnt_);
    ASSERT_TRUE(full.ok()) << full.result().err;
    Fd fd(full / "top.raw");
    EXPECT_EQ(PreadString(fd.get(), 0, 1), "\x33");
  }
  Mount only_top({"--no-backing", top}, mnt_);
  ASSERT_TRUE(only_top.ok()) << only_top.result().err;
  Fd fd(only_top / "top.raw");
  EXPECT_EQ(PreadString(fd.get(), 0, 1), std::string(1, '\0'));
  EXPECT_EQ(PreadString(fd.get(), 2 * kMiB, 1), "\x44");
}

TEST_F(Qcow2MountTest, ConfineBackingRefusesBackingOutsideTheImageDir) {
  std::filesystem::create_directories(dir_ / "vms");
  MustRun({"qemu-img", "create", "-q", "-f", "qcow2", dir_ / "base.qcow2", "4M"});
  MustRun({"qemu-img", "create", "-q", "-f", "qcow2", "-b", "../base.qcow2", "-F", "qcow2",
           dir_ / "vms/top.qcow2"});
  RunResult r =
      RunCommand({ImgfsBinary(), "mount", "--confine-backing", dir_ / "vms/top.qcow2", mnt_});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("confine-backing"), std::string::npos) << r.err;
  EXPECT_FALSE(IsMounted(mnt_));
}

}  // namespace
}  // namespace imgfs::testing
