// SPDX-License-Identifier: MIT
// FUSE over io_uring (fuse/uring.h): with the kernel's enable_uring on, the
// requests must go through the rings and the bytes must still match
// qemu-img's; with it off (or IMGFS_FUSE_URING=0) everything stays on
// /dev/fuse. The server runs in the foreground with IMGFS_FUSE_STATS=1 so
// its last line says how many requests the rings served.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/fuse/test_util.h"

namespace imgfs::testing {
namespace {

constexpr char kParam[] = "/sys/module/fuse/parameters/enable_uring";

// Sets the kernel's enable_uring for the test's lifetime, then restores it.
// The parameter is global and ctest runs these tests in parallel processes:
// an flock serialises them.
class EnableUring {
 public:
  explicit EnableUring(const std::string& value)
      : lock_fd_(::open("/tmp/imgfs-enable-uring.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (lock_fd_ >= 0) {
      (void)::flock(lock_fd_, LOCK_EX);
    }
    std::ifstream in(kParam);
    present_ = static_cast<bool>(in >> old_);
    if (present_) {
      std::ofstream(kParam) << value << "\n";
    }
  }
  EnableUring(const EnableUring&) = delete;
  EnableUring& operator=(const EnableUring&) = delete;
  ~EnableUring() {
    if (present_) {
      std::ofstream(kParam) << old_ << "\n";
    }
    if (lock_fd_ >= 0) {
      ::close(lock_fd_);
    }
  }
  bool present() const { return present_; }
  bool on() const {
    std::ifstream in(kParam);
    std::string v;
    return in >> v && v == "Y";
  }

 private:
  int lock_fd_ = -1;
  bool present_ = false;
  std::string old_;
};

// `imgfs mount -f` in a child; stderr goes to a file.
class ForegroundMount {
 public:
  // fail_after: IMGFS_TEST_URING_FAIL_AFTER for the server, when not null.
  ForegroundMount(const std::string& image, const std::string& mnt, const std::string& err,
                  bool uring, const char* fail_after = nullptr)
      : mnt_(mnt) {
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 2);
      ::setenv("IMGFS_FUSE_STATS", "1", 1);
      ::setenv("IMGFS_FUSE_URING", uring ? "1" : "0", 1);
      if (fail_after != nullptr) {
        ::setenv("IMGFS_TEST_URING_FAIL_AFTER", fail_after, 1);
      }
      std::string bin = ImgfsBinary();
      ::execl(bin.c_str(), bin.c_str(), "mount", "-f", image.c_str(), mnt.c_str(), nullptr);
      ::_exit(127);
    }
    mounted_ = WaitFor(true, mnt_);
  }
  ForegroundMount(const ForegroundMount&) = delete;
  ForegroundMount& operator=(const ForegroundMount&) = delete;
  ~ForegroundMount() { Stop(); }
  bool ok() const { return mounted_; }
  pid_t pid() const { return pid_; }
  // Unmounts and waits for the server; its exit code.
  int Stop() {
    if (pid_ <= 0) {
      return exit_code_;
    }
    RunCommand({ImgfsBinary(), "umount", mnt_});
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return exit_code_;
  }

 private:
  std::string mnt_;
  pid_t pid_ = -1;
  bool mounted_ = false;
  int exit_code_ = -1;
};

// Threads of `pid` named imgfs-ring*.
int RingThreads(pid_t pid) {
  int n = 0;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& t : std::filesystem::directory_iterator(dir)) {
    if (ReadFile(t.path().string() + "/comm").starts_with("imgfs-ring")) {
      ++n;
    }
  }
  return n;
}

// The count from the server's "imgfs: fuse io_uring: N requests" line; -1
// when there is none.
long RingRequests(const std::string& err) {
  const std::string key = "imgfs: fuse io_uring: ";
  size_t at = err.rfind(key);
  if (at == std::string::npos) {
    return -1;
  }
  return std::strtol(err.c_str() + at + key.size(), nullptr, 10);
}

// Reads `len` bytes at `off` with O_DIRECT, so each read reaches the server.
std::string ReadDirectAt(const std::string& path, off_t off, size_t len) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECT);
  if (fd < 0) {
    return "open failed";
  }
  void* raw = nullptr;
  if (::posix_memalign(&raw, 4096, len) != 0) {
    ::close(fd);
    return "no memory";
  }
  std::string out;
  ssize_t n = ::pread(fd, raw, len, off);
  if (n > 0) {
    out.assign(static_cast<char*>(raw), static_cast<size_t>(n));
  }
  std::free(raw);  // NOLINT(cppcoreguidelines-no-malloc)
  ::close(fd);
  return out;
}

class UringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
    IMGFS_REQUIRE(HaveQemuImg(), "qemu-img and qemu-io");
    ASSERT_EQ(::mkdir(mnt_.c_str(), 0755), 0);
    image_ = dir_ / "vm.qcow2";
    MustRun({"qemu-img", "create", "-q", "-f", "qcow2", image_, "24M"});
    MustRun({"qemu-io", "-c", "write -P 0x5a 1M 3M", "-c", "write -P 0xa5 9000001 70000", "-c",
             "write -z 12M 128k", "-c", "write -P 0x11 20M 4M", image_});
    std::string ref = dir_ / "vm.ref";
    MustRun({"qemu-img", "convert", "-O", "raw", image_, ref});
    ref_ = ReadFile(ref);
  }

  // Whole-file, large and small O_DIRECT reads and 4 concurrent readers,
  // all against qemu-img's bytes.
  void CheckBytes() {
    std::string raw = mnt_ + "/vm.raw";
    EXPECT_EQ(ReadFile(raw), ref_);
    EXPECT_EQ(ReadDirectAt(raw, 1 << 20, 1 << 20), ref_.substr(1 << 20, 1 << 20));
    std::vector<std::thread> readers;
    std::vector<int> bad(4, 0);
    for (int r = 0; r < 4; ++r) {
      readers.emplace_back([&, r] {
        for (int i = 0; i < 200; ++i) {
          auto off = static_cast<off_t>(((i * 7919 + r * 104729) % 6144) * 4096);
          if (ReadDirectAt(raw, off, 4096) != ref_.substr(static_cast<size_t>(off), 4096)) {
            ++bad[static_cast<size_t>(r)];
          }
        }
      });
    }
    for (auto& t : readers) {
      t.join();
    }
    EXPECT_EQ(bad, std::vector<int>(4, 0));
  }

  // Mounts in the foreground (IMGFS_FUSE_URING=uring), checks the bytes,
  // counts the ring threads, unmounts and keeps the server's stderr.
  void ServeAndCheck(bool uring) {
    ForegroundMount m(image_, mnt_, dir_ / "err", uring);
    ASSERT_TRUE(m.ok()) << ReadFile(dir_ / "err");
    CheckBytes();
    ring_threads_ = RingThreads(m.pid());
    EXPECT_EQ(m.Stop(), 0);
    err_ = ReadFile(dir_ / "err");
  }

  TempDir dir_;
  std::string mnt_ = dir_ / "mnt";
  int ring_threads_ = -1;
  std::string err_;
  std::string image_;
  std::string ref_;
};

TEST_F(UringTest, RequestsGoThroughTheRingsWhenTheKernelOffersThem) {
  EnableUring param("Y");
  if (!param.present()) {
    // The fallback of such a kernel is AKernelThatDoesNotOfferRingsIsServedThroughDevFuse.
    GTEST_SKIP() << "no FUSE over io_uring in this kernel (no " << kParam << ")";
  }
  ASSERT_TRUE(param.on()) << "cannot set " << kParam;
  ServeAndCheck(true);
  EXPECT_GE(ring_threads_, 1);  // one per possible CPU
  // Every O_DIRECT read is a request: at least 800 of them.
  EXPECT_GT(RingRequests(err_), 800) << err_;
  // No error line from the rings: the count is their only line.
  EXPECT_EQ(err_.find("imgfs: fuse io_uring:"), err_.rfind("imgfs: fuse io_uring:")) << err_;
}

TEST_F(UringTest, DisabledRingsLeaveEverythingOnDevFuse) {
  EnableUring param("Y");
  ServeAndCheck(false);
  EXPECT_EQ(ring_threads_, 0);
  EXPECT_EQ(RingRequests(err_), 0) << err_;
}

TEST_F(UringTest, AKernelThatDoesNotOfferRingsIsServedThroughDevFuse) {
  EnableUring param("N");
  ServeAndCheck(true);
  EXPECT_EQ(ring_threads_, 0);
  EXPECT_EQ(RingRequests(err_), 0) << err_;
}

// A ring that cannot go on must end the mount with an error, not leave its
// CPU's requests waiting forever: readers get an error, the server exits 1
// with one line saying why, and nothing stays mounted.
TEST_F(UringTest, ARingThatFailsEndsTheMountInsteadOfHanging) {
  EnableUring param("Y");
  if (!param.present()) {
    GTEST_SKIP() << "no FUSE over io_uring in this kernel (no " << kParam << "): no ring to fail";
  }
  ASSERT_TRUE(param.on()) << "cannot set " << kParam;
  ForegroundMount m(image_, mnt_, dir_ / "err", true, "50");
  ASSERT_TRUE(m.ok()) << ReadFile(dir_ / "err");
  const std::string raw = mnt_ + "/vm.raw";
  int good = 0;
  for (int i = 0; i < 2000; ++i) {
    auto off = static_cast<off_t>((i % 6144) * 4096);
    if (ReadDirectAt(raw, off, 4096) != ref_.substr(static_cast<size_t>(off), 4096)) {
      break;
    }
    ++good;
  }
  EXPECT_GT(good, 10);    // the rings served before the failure
  EXPECT_LT(good, 2000);  // and the failure ended the mount
  EXPECT_EQ(m.Stop(), 1);
  const std::string err = ReadFile(dir_ / "err");
  EXPECT_NE(err.find("imgfs: fuse io_uring: queue "), std::string::npos) << err;
  EXPECT_NE(err.find(": wait: Input/output error; unmounting\n"), std::string::npos) << err;
  EXPECT_NE(err.find(": fuse io_uring failed; unmounted\n"), std::string::npos) << err;
  EXPECT_FALSE(IsMounted(mnt_));
}

}  // namespace
}  // namespace imgfs::testing
