// SPDX-License-Identifier: MIT
#include "core/io/file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

TEST(MemoryFileTest, ReadWriteAndShortReadAtEnd) {
  auto f = NewMemoryFile("m", "hello");
  std::vector<std::byte> buf(8);
  auto n = f->ReadAt(2, buf);
  ASSERT_OK(n);
  EXPECT_EQ(*n, 3u);
  ASSERT_OK(f->WriteAt(8, std::as_bytes(std::span("xy", 2))));
  EXPECT_EQ(*f->Size(), 10u);
  EXPECT_CODE(f->ReadExactAt(9, buf, "thing"), kCorrupt);
}

TEST(FaultFileTest, FailsTheNthRead) {
  FaultPlan plan;
  plan.fail_read_at_call = 1;
  auto f = NewFaultFile(NewMemoryFile("m", std::string(100, 'a')), plan);
  std::vector<std::byte> buf(10);
  EXPECT_OK(f->ReadAt(0, buf));
  EXPECT_CODE(f->ReadAt(0, buf), kIOError);
  EXPECT_OK(f->ReadAt(0, buf));
}

TEST(FaultFileTest, ShortReadsAreCompletedByReadExact) {
  FaultPlan plan;
  plan.short_reads = true;
  auto f = NewFaultFile(NewMemoryFile("m", std::string(100, 'a')), plan);
  std::vector<std::byte> buf(64);
  EXPECT_OK(f->ReadExactAt(10, buf, "block"));
  EXPECT_EQ(buf[63], std::byte{'a'});
}

TEST(PosixFileTest, ReportsHoles) {
  char tmpl[] = "/tmp/imgfs_file_test_XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  auto f = CreatePosixFile(tmpl);
  ASSERT_OK(f);
  const uint64_t kMiB = 1 << 20;
  ASSERT_OK((*f)->Truncate(8 * kMiB));
  std::vector<std::byte> data(kMiB, std::byte{1});
  ASSERT_OK((*f)->WriteAt(4 * kMiB, data));
  auto next_data = (*f)->NextData(0);
  ASSERT_OK(next_data);
  // tmpfs and ext4 both report the hole; filesystems without SEEK_DATA say 0.
  EXPECT_TRUE(*next_data == 4 * kMiB || *next_data == 0);
  EXPECT_EQ(*(*f)->NextHole(4 * kMiB), *next_data == 0 ? 8 * kMiB : 5 * kMiB);
  unlink(tmpl);
}

TEST(PosixFileTest, MissingFileIsNotFound) {
  EXPECT_CODE(OpenPosixFile("/nonexistent/imgfs/x", false), kNotFound);
}

// A FIFO with no writer would block open(2) forever; it is refused at once.
TEST(PosixFileTest, FifoIsRefusedWithoutBlocking) {
  char dir[] = "/tmp/imgfs-fifo-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string fifo = std::string(dir) + "/f";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (bool writable : {false, true}) {
    auto f = OpenPosixFile(fifo, writable);
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find("is a FIFO"), std::string::npos) << f.status().message();
  }
  unlink(fifo.c_str());
  rmdir(dir);
}

// O_NONBLOCK must not turn a file lease into an error: another process holds
// a read lease; opening for writing waits for the lease break (the holder is
// sent SIGIO, which ends it) and then succeeds.
TEST(PosixFileTest, OpenWaitsForALeaseBreakInsteadOfFailing) {
  char path[] = "/tmp/imgfs-lease-XXXXXX";
  int tmp = mkstemp(path);
  ASSERT_GE(tmp, 0);
  close(tmp);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int fd = open(path, O_RDONLY);
    char ok = (fd >= 0 && fcntl(fd, F_SETLEASE, F_RDLCK) == 0) ? 'y' : 'n';
    (void)!write(ready[1], &ok, 1);
    pause();  // SIGIO from the lease break ends the child
    _exit(0);
  }
  char ok = 0;
  ASSERT_EQ(read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, 'y') << "could not take a read lease on " << path;
  auto f = OpenPosixFile(path, true);
  EXPECT_TRUE(f.ok()) << f.status().message();
  int wstatus = 0;
  waitpid(child, &wstatus, 0);
  close(ready[0]);
  close(ready[1]);
  unlink(path);
}

}  // namespace
}  // namespace imgfs
