// SPDX-License-Identifier: MIT
// Tests for the O_DIRECT read-ahead wrapper. The host file behind the
// O_DIRECT descriptor holds the complement of the base file's bytes, so each
// byte a read returns says which path served it: a read-ahead that never
// serves a byte (a dead fast path) fails, and so does a wrong byte from either.
#include "core/io/readahead_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

// A host file on a disk file system (O_DIRECT works there, not on every
// tmpfs) holding `contents`; removed by the destructor.
class HostFile {
 public:
  explicit HostFile(const std::string& contents) {
    const char* dir = std::getenv("TMPDIR");
    std::string tmpl = std::string(dir != nullptr ? dir : "/var/tmp") + "/imgfs-ra-XXXXXX";
    int fd = ::mkstemp(tmpl.data());
    EXPECT_GE(fd, 0);
    path_ = tmpl;
    EXPECT_EQ(::write(fd, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));
    ::close(fd);
  }
  ~HostFile() { ::unlink(path_.c_str()); }
  HostFile(const HostFile&) = delete;
  HostFile& operator=(const HostFile&) = delete;
  // The file opened with O_DIRECT, or -1 where the file system refuses it.
  int OpenDirect() const { return ::open(path_.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Pattern(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) {
    c = static_cast<char>(rng());
  }
  return s;
}

// Small blocks so that a few MiB exercise reuse of every block many times.
ReadAheadLimits SmallLimits() {
  ReadAheadLimits l;
  l.block_bytes = 64 << 10;
  l.max_blocks = 4;
  l.threads = 2;
  return l;
}

// Skips where the file system refuses O_DIRECT (some tmpfs), but fails
// under CI=true: CI's temp dir is on disk, and a skip there would hide the test.
#define IMGFS_REQUIRE_DIRECT(fd, host)                                  \
  do {                                                                  \
    if ((fd) < 0) {                                                     \
      const char* ci = std::getenv("CI");                               \
      if (ci != nullptr && std::string(ci) == "true") {                 \
        FAIL() << "no O_DIRECT on " << (host).path() << " but CI=true"; \
      }                                                                 \
      GTEST_SKIP() << "no O_DIRECT on " << (host).path();               \
    }                                                                   \
  } while (false)

// The bytes the O_DIRECT descriptor reads: every byte of `base` inverted.
std::string Inverted(const std::string& base) {
  std::string s = base;
  for (char& c : s) {
    c = static_cast<char>(~c);
  }
  return s;
}

// Which path served each byte of a read at `offset`: `direct` counts bytes
// equal to the inverted base (the read-ahead blocks), `wrong` bytes that
// match neither path.
struct Served {
  size_t direct = 0;
  size_t wrong = 0;
  void Add(const std::string& got, const std::string& base, uint64_t offset) {
    for (size_t i = 0; i < got.size(); ++i) {
      const char b = base[offset + i];
      if (got[i] == static_cast<char>(~b)) {
        ++direct;
      } else if (got[i] != b) {
        ++wrong;
      }
    }
  }
};

std::string ReadAll(const File& f, uint64_t offset, size_t n) {
  std::string out(n, '\0');
  auto got = f.ReadAt(offset, std::as_writable_bytes(std::span(out)));
  EXPECT_OK(got);
  out.resize(got.ok() ? *got : 0);
  return out;
}

TEST(ReadAheadFileTest, StreamWithPrefetchReadsTheFile) {
  const std::string data = Pattern((3 << 20) + 123, 1);  // not a multiple of anything
  HostFile host(Inverted(data));
  int fd = host.OpenDirect();
  IMGFS_REQUIRE_DIRECT(fd, host);
  auto f = NewReadAheadFile(NewMemoryFile("m", data), fd, SmallLimits());
  // Odd read sizes, each preceded by a prefetch of the window ahead, as the
  // qcow2 driver does; the window is larger than the blocks there are.
  uint64_t pos = 0;
  size_t step = 1000;
  Served served;
  while (pos < data.size()) {
    f->Prefetch(pos, 512 << 10);
    size_t n = std::min<size_t>(step, data.size() - pos);
    std::string got = ReadAll(*f, pos, n);
    ASSERT_EQ(got.size(), n) << "at " << pos;
    served.Add(got, data, pos);
    ASSERT_EQ(served.wrong, 0u) << "at " << pos;
    pos += n;
    step = step * 3 % 200000 + 1;
  }
  // Every read is preceded by a prefetch of its start, so the read-ahead
  // serves nearly all of the stream (reads spilling past the four blocks
  // go to the base file).
  EXPECT_GT(served.direct, data.size() * 3 / 4);
  // Past the end: short (the last block, read ahead), then empty.
  EXPECT_EQ(ReadAll(*f, data.size() - 10, 100), Inverted(data).substr(data.size() - 10));
  EXPECT_EQ(ReadAll(*f, data.size() + 5, 100), "");
}

TEST(ReadAheadFileTest, ConcurrentRandomPrefetchesAndReads) {
  const std::string data = Pattern((2 << 20) + 4097, 2);
  HostFile host(Inverted(data));
  int fd = host.OpenDirect();
  IMGFS_REQUIRE_DIRECT(fd, host);
  auto f = NewReadAheadFile(NewMemoryFile("m", data), fd, SmallLimits());
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  std::vector<Served> served(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<uint32_t>(t + 10));
      Served& mine = served[static_cast<size_t>(t)];
      for (int i = 0; i < 400; ++i) {
        uint64_t off = rng() % data.size();
        if (rng() % 3 == 0) {
          f->Prefetch(off, rng() % (300 << 10));
        }
        size_t n = std::min<size_t>(rng() % (200 << 10), data.size() - off);
        std::string got = ReadAll(*f, off, n);
        mine.Add(got, data, off);
        if (got.size() != n) {
          ++bad[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(bad, std::vector<int>(4, 0));
  size_t direct = 0;
  for (const Served& s : served) {
    EXPECT_EQ(s.wrong, 0u);
    direct += s.direct;
  }
  // A third of the reads follow a prefetch of their start.
  EXPECT_GT(direct, 0u);
}

TEST(ReadAheadFileTest, FailingDirectReadsFallBackToTheBaseFile) {
  const std::string data = Pattern(1 << 20, 3);
  HostFile host(std::string(1 << 20, 'x'));
  // A descriptor that cannot be read: every read-ahead fails.
  int fd = ::open(host.path().c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto f = NewReadAheadFile(NewMemoryFile("m", data), fd, SmallLimits());
  for (uint64_t pos = 0; pos < data.size(); pos += 100000) {
    f->Prefetch(pos, 256 << 10);
    ASSERT_EQ(ReadAll(*f, pos, 100000), data.substr(pos, 100000)) << "at " << pos;
  }
}

TEST(ReadAheadFileTest, DestroyedWithReadsInFlight) {
  const std::string data = Pattern(4 << 20, 4);
  HostFile host(data);
  for (int i = 0; i < 20; ++i) {
    int fd = host.OpenDirect();
    IMGFS_REQUIRE_DIRECT(fd, host);
    auto f = NewReadAheadFile(NewMemoryFile("m", data), fd, SmallLimits());
    f->Prefetch(static_cast<uint64_t>(i) * 4096, 4 << 20);
  }
}

TEST(ReadAheadFileTest, UnusedWrapperPassesThrough) {
  const std::string data = Pattern(10000, 5);
  HostFile host(Inverted(data));
  int fd = host.OpenDirect();
  IMGFS_REQUIRE_DIRECT(fd, host);
  auto f = NewReadAheadFile(NewMemoryFile("m", data), fd);
  // No Prefetch: every byte comes from the base file, none from O_DIRECT.
  EXPECT_EQ(ReadAll(*f, 17, 5000), data.substr(17, 5000));
  EXPECT_EQ(*f->Size(), data.size());
  EXPECT_EQ(f->name(), "m");
}

TEST(ReadAheadFileTest, OpenPosixFileReadsThroughReadAhead) {
  const std::string data = Pattern((1 << 20) + 7, 6);
  HostFile host(data);
  auto f = OpenPosixFile(host.path(), /*writable=*/false);
  ASSERT_OK(f);
  (*f)->Prefetch(0, data.size());
  EXPECT_EQ(ReadAll(**f, 0, data.size()), data);
  EXPECT_EQ(ReadAll(**f, 4095, 3), data.substr(4095, 3));
}

}  // namespace
}  // namespace imgfs
