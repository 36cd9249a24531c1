// SPDX-License-Identifier: MIT
// The hdiutil-made DMGs of tests/data/dmg-real/ through a real FUSE mount:
// all of them mounted at once, each <stem>.raw must have the virtual size and
// the raw SHA-256 that tests/data/README.md records (the oracle comparisons
// are in tests/integration/dmg_real_fixture_test.cc), and odd-sized reads
// at odd offsets must agree with one whole read.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/fuse/test_util.h"
#include "tests/integration/dmg_real_fixtures.h"

namespace imgfs::testing {
namespace {

std::string Q(const std::string& s) { return "'" + s + "'"; }

// Reads `path` with pread in pieces of `piece` bytes from offset `start`,
// wrapping round to offset 0, so every byte is read once at an odd place.
std::string ReadInPieces(const std::string& path, size_t size, size_t start, size_t piece) {
  std::string out(size, '\0');
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    ADD_FAILURE() << "cannot open " << path;
    return out;
  }
  for (size_t done = 0; done < size;) {
    const size_t at = (start + done) % size;
    const size_t n = std::min({piece, size - done, size - at});
    const ssize_t got = ::pread(fd, out.data() + at, n, static_cast<off_t>(at));
    if (got != static_cast<ssize_t>(n)) {
      ADD_FAILURE() << path << ": pread of " << n << " at " << at << " returned " << got;
      break;
    }
    done += n;
  }
  ::close(fd);
  return out;
}

TEST(DmgRealMountTest, EveryHdiutilImageMountsAsItsRecordedDisk) {
  IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
  IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
  TempDir dir;
  std::vector<std::string> args;
  for (const RealDmg& d : kRealDmgs) {
    const std::string image = dir / (std::string(d.stem) + ".dmg");
    RunResult r = RunCommand(
        {"bash", "-o", "pipefail", "-c", "xz -dc " + Q(RealDmgXzPath(d)) + " > " + Q(image)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    args.push_back(image);
  }
  std::filesystem::create_directory(dir / "mnt");
  Mount m(args, dir / "mnt");
  ASSERT_TRUE(m.ok()) << m.result().err;

  size_t compared = 0;
  for (const RealDmg& d : kRealDmgs) {
    SCOPED_TRACE(d.stem);
    const std::string raw = m / (std::string(d.stem) + ".raw");
    struct stat st {};
    ASSERT_EQ(::stat(raw.c_str(), &st), 0) << raw;
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), d.virtual_bytes);
    RunResult sum = RunCommand({"sha256sum", raw});
    ASSERT_EQ(sum.exit_code, 0) << sum.err;
    EXPECT_EQ(sum.out.substr(0, 64), d.raw_sha256);
    const std::string whole = ReadFile(raw);
    EXPECT_TRUE(ReadInPieces(raw, whole.size(), 1000003 % whole.size(), 4093) == whole);
    ++compared;
  }
  EXPECT_EQ(compared, std::size(kRealDmgs));
}

}  // namespace
}  // namespace imgfs::testing
