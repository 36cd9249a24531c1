// SPDX-License-Identifier: MIT
// Check() against `qemu-img check`: clean images are clean for both, and
// each deliberate corruption is an error (or a leak) for both. Covers
// persistent bitmaps, internal snapshots and their copied flags, a file of
// many small clusters counted in windows, and `imgfs check` exit codes.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "core/cache/cache.h"
#include "core/util/endian.h"
#include "formats/open.h"
#include "formats/qcow2/device.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/recording_file.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::ImgfsBinary;
using testing::ReadWholeFile;
using testing::RunIn;
using testing::Sh;
using testing::TempDir;
using testing::WriteWholeFile;

constexpr uint64_t kOffsetMask = 0x00fffffffffffe00ull;

uint64_t Get64(const std::string& s, uint64_t at) {
  return LoadBE64(reinterpret_cast<const std::byte*>(s.data() + at));
}
void Set64(std::string* s, uint64_t at, uint64_t v) {
  StoreBE64(reinterpret_cast<std::byte*>(s->data() + at), v);
}

Result<CheckReport> OurCheck(const TempDir& dir, const std::string& name) {
  Cache cache(1 << 20);
  IMGFS_ASSIGN_OR_RETURN(auto dev, OpenImage(dir.Join(name), {}, &cache));
  return dev->Check();
}

TEST(Qcow2Check, CleanImagesAreCleanForBoth) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 -o cluster_size=4096 a.qcow2 4M && "
                 "qemu-io -c 'write -P 1 0 1M' -c 'write -z 2M 64k' -c 'discard 512k 64k' a.qcow2 "
                 "&& qemu-img snapshot -c s1 a.qcow2 && qemu-io -c 'write -P 2 0 8k' a.qcow2 && "
                 "qemu-img convert -c -O qcow2 -o compression_type=zstd a.qcow2 c.qcow2 && "
                 "qemu-img create -q -f qcow2 -o extended_l2=on,refcount_bits=1 e.qcow2 4M && "
                 "qemu-io -c 'write -P 3 4k 4k' e.qcow2 && "
                 "qemu-img create -q -f qcow2 -o refcount_bits=64,data_file=d.data d.qcow2 4M && "
                 "qemu-io -c 'write -P 4 1M 1M' d.qcow2"));
  for (const char* name : {"a.qcow2", "c.qcow2", "e.qcow2", "d.qcow2"}) {
    SCOPED_TRACE(name);
    std::string out;
    EXPECT_EQ(RunIn(dir.path(), std::string("qemu-img check ") + name, &out), 0) << out;
    auto report = OurCheck(dir, name);
    ASSERT_OK(report);
    EXPECT_TRUE(report->clean()) << (report->errors.empty() ? report->warnings[0]
                                                            : report->errors[0]);
  }
}

struct Corruption {
  const char* name;
  // Edits the image given L1, L2 and refcount block offsets.
  std::function<void(std::string* img, uint64_t l2, uint64_t refblock)> edit;
  bool error;  // else a leak
};

TEST(Qcow2Check, CorruptionsAgreeWithQemuImgCheck) {
  IMGFS_REQUIRE_QEMU();
  const Corruption kCases[] = {
      {"refcount too low",
       [](std::string* img, uint64_t l2, uint64_t refblock) {
         uint64_t cluster = (Get64(*img, l2) & kOffsetMask) >> 16;
         StoreBE16(reinterpret_cast<std::byte*>(img->data() + refblock + cluster * 2), 0);
       },
       true},
      {"two L2 entries share a cluster",
       [](std::string* img, uint64_t l2, uint64_t) { Set64(img, l2 + 8, Get64(*img, l2)); }, true},
      {"L2 entry past end of file",
       [](std::string* img, uint64_t l2, uint64_t) {
         Set64(img, l2 + 16, (1ull << 63) | (1ull << 40));
       },
       true},
      {"L2 table overlaps the L1 table",
       [](std::string* img, uint64_t, uint64_t) {
         uint64_t l1 = Get64(*img, 40);
         Set64(img, l1 + 8, l1 | (1ull << 63));
       },
       true},
      {"copied flag clear on a data cluster with refcount 1",
       [](std::string* img, uint64_t l2, uint64_t) {
         Set64(img, l2, Get64(*img, l2) & ~(1ull << 63));
       },
       true},
      {"leaked data cluster",
       [](std::string* img, uint64_t l2, uint64_t) { Set64(img, l2 + 8, 0); }, false},
  };
  for (const Corruption& c : kCases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    ASSERT_TRUE(Sh(dir.path(),
                   "qemu-img create -q -f qcow2 a.qcow2 1G && "
                   "qemu-io -c 'write -P 0x5a 0 256k' a.qcow2"));
    std::string img = ReadWholeFile(dir.Join("a.qcow2"));
    uint64_t l2 = Get64(img, Get64(img, 40)) & kOffsetMask;
    uint64_t refblock = Get64(img, Get64(img, 48)) & kOffsetMask;
    c.edit(&img, l2, refblock);
    WriteWholeFile(dir.Join("a.qcow2"), img);
    std::string out;
    int rc = RunIn(dir.path(), "qemu-img check a.qcow2", &out);
    EXPECT_EQ(rc, c.error ? 2 : 3) << out;
    auto report = OurCheck(dir, "a.qcow2");
    ASSERT_OK(report);
    EXPECT_EQ(!report->errors.empty(), c.error) << out;
    EXPECT_FALSE(report->clean());
    if (!c.error) {
      EXPECT_EQ(report->warnings.size(), 1u);
    }
  }
}

// What qemu-img check's exit status says: 0 clean, 1 could not check (for
// a broken bitmap directory qemu cannot even open the image), 2 errors,
// 3 leaks only. imgfs must report errors for 1 and 2, only leaks for 3.
void ExpectSameVerdict(const TempDir& dir, const std::string& name, int expected_qemu_rc) {
  std::string out;
  int rc = RunIn(dir.path(), "qemu-img check " + name, &out);
  EXPECT_EQ(rc, expected_qemu_rc) << out;
  auto report = OurCheck(dir, name);
  ASSERT_OK(report);
  std::string first = report->errors.empty() ? (report->warnings.empty() ? "" : report->warnings[0])
                                             : report->errors[0];
  EXPECT_EQ(report->clean(), rc == 0) << out << "\nimgfs: " << first;
  EXPECT_EQ(!report->errors.empty(), rc == 1 || rc == 2) << out << "\nimgfs: " << first;
}

// Applies `edit` to a copy of the image `clean` and compares verdicts.
void ExpectSameVerdictAfter(const std::string& clean, const std::function<void(std::string*)>& edit,
                            int expected_qemu_rc) {
  TempDir tmp;
  std::string img = clean;
  edit(&img);
  ASSERT_TRUE(img != clean);  // the edit changed something (never print images)
  WriteWholeFile(tmp.Join("x.qcow2"), img);
  ExpectSameVerdict(tmp, "x.qcow2", expected_qemu_rc);
}

// Offset of the bitmaps extension's payload in a v3 header, or 0.
uint64_t BitmapsExtension(const std::string& img) {
  uint64_t at = LoadBE32(reinterpret_cast<const std::byte*>(img.data() + 100));
  while (at + 8 <= 4096) {
    uint32_t type = LoadBE32(reinterpret_cast<const std::byte*>(img.data() + at));
    uint32_t length = LoadBE32(reinterpret_cast<const std::byte*>(img.data() + at + 4));
    if (type == 0) {
      return 0;
    }
    if (type == 0x23852875) {
      return at + 8;
    }
    at += 8 + ((length + 7) & ~7u);
  }
  return 0;
}

constexpr const char* kMakeBitmapImage =
    "qemu-img create -q -f qcow2 -o cluster_size=4096 a.qcow2 64M && "
    "qemu-img bitmap --add a.qcow2 b0 && "
    "qemu-img bitmap --add -g 65536 a.qcow2 b1 && "
    "qemu-io -c 'write -P 1 0 1M' -c 'write -P 2 32M 64k' a.qcow2 >/dev/null && "
    "qemu-img bitmap --disable a.qcow2 b1";

TEST(Qcow2Check, BitmapImagesAreCleanForBothAndInfoMatches) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), std::string(kMakeBitmapImage) +
                                 " && qemu-img convert --bitmaps -O qcow2 a.qcow2 c.qcow2"));
  for (const char* name : {"a.qcow2", "c.qcow2"}) {
    SCOPED_TRACE(name);
    ExpectSameVerdict(dir, name, 0);
    std::string ours;
    std::string qemu;
    ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " info --json " + name, &ours));
    ASSERT_TRUE(Sh(dir.path(), std::string("qemu-img info --output=json ") + name, &qemu));
    EXPECT_EQ(nlohmann::json::parse(ours), nlohmann::json::parse(qemu)) << ours << qemu;
  }
}

TEST(Qcow2Check, BitmapCorruptionsAgreeWithQemuImgCheck) {
  IMGFS_REQUIRE_QEMU();
  struct Case {
    const char* name;
    // Edits the image given the extension payload, directory and first
    // bitmap table offsets.
    std::function<void(std::string*, uint64_t ext, uint64_t dir, uint64_t table)> edit;
    int qemu_rc;
  };
  const Case kCases[] = {
      {"bitmap table entry past end of file",
       [](std::string* img, uint64_t, uint64_t, uint64_t table) { Set64(img, table, 1ull << 40); },
       2},
      {"bitmap table entry on the L1 table",
       [](std::string* img, uint64_t, uint64_t, uint64_t table) {
         Set64(img, table, Get64(*img, 40));
       },
       2},
      {"bitmap table entry unaligned",
       [](std::string* img, uint64_t, uint64_t, uint64_t table) {
         Set64(img, table, Get64(*img, table) + 512);
       },
       1},
      {"bitmap table entry dropped (leak)",
       [](std::string* img, uint64_t, uint64_t, uint64_t table) { Set64(img, table, 0); }, 3},
      {"bitmap directory offset unaligned",
       [](std::string* img, uint64_t ext, uint64_t dir, uint64_t) {
         Set64(img, ext + 16, dir + 8);
       },
       1},
      {"bitmap directory offset past end of file",
       [](std::string* img, uint64_t ext, uint64_t, uint64_t) { Set64(img, ext + 16, 1ull << 40); },
       1},
      {"bitmap table offset past end of file",
       [](std::string* img, uint64_t, uint64_t dir, uint64_t) { Set64(img, dir, 1ull << 40); }, 2},
      {"stale bitmaps (autoclear bit clear): leaks",
       [](std::string* img, uint64_t, uint64_t, uint64_t) { Set64(img, 88, 0); }, 3},
  };
  TempDir base;
  ASSERT_TRUE(Sh(base.path(), kMakeBitmapImage));
  const std::string clean = ReadWholeFile(base.Join("a.qcow2"));
  const uint64_t ext = BitmapsExtension(clean);
  ASSERT_NE(ext, 0u);
  const uint64_t dir = Get64(clean, ext + 16);
  const uint64_t table = Get64(clean, dir);
  ASSERT_NE(Get64(clean, table), 0u);  // b0 has a data cluster
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    ExpectSameVerdictAfter(
        clean, [&](std::string* img) { c.edit(img, ext, dir, table); }, c.qemu_rc);
  }
}

// Snapshot L1 tables and the L2 tables they share hold clusters with
// refcount 2; only the active tables' copied flags must match refcounts
// (qemu leaves the flag set in snapshot L1 copies). Compressed entries must
// never have it, in any table.
TEST(Qcow2Check, SnapshotCopiedFlagsAgreeWithQemuImgCheck) {
  IMGFS_REQUIRE_QEMU();
  TempDir base;
  ASSERT_TRUE(Sh(base.path(),
                 "qemu-img create -q -f qcow2 -o cluster_size=4096 a.qcow2 64M && "
                 "qemu-io -c 'write -P 1 0 64k' -c 'write -P 3 4M 8k' -c 'write -c -P 4 8M 4k' "
                 "a.qcow2 >/dev/null && qemu-img snapshot -c s1 a.qcow2 && "
                 "qemu-io -c 'write -P 2 0 8k' a.qcow2 >/dev/null && "
                 "qemu-img snapshot -c s2 a.qcow2 && qemu-io -c 'write -P 5 4k 4k' a.qcow2 "
                 ">/dev/null"));
  ExpectSameVerdict(base, "a.qcow2", 0);
  const std::string clean = ReadWholeFile(base.Join("a.qcow2"));
  // L1 entry 0 covers 0..2M (COWed after the snapshots), entry 2 covers
  // 4M (shared with both snapshots), entry 4 covers the compressed 8M.
  struct Case {
    const char* name;
    std::function<void(std::string*, uint64_t l1, uint64_t snap_l1)> edit;
    int qemu_rc;
  };
  const Case kCases[] = {
      {"copied flipped in a snapshot L1 entry",
       [](std::string* img, uint64_t, uint64_t snap_l1) {
         Set64(img, snap_l1 + 16, Get64(*img, snap_l1 + 16) ^ (1ull << 63));
       },
       0},
      {"copied flipped in an L2 entry seen from a snapshot only",
       [](std::string* img, uint64_t, uint64_t snap_l1) {
         uint64_t l2 = Get64(*img, snap_l1) & kOffsetMask;
         Set64(img, l2 + 8 * 8, Get64(*img, l2 + 8 * 8) ^ (1ull << 63));
       },
       0},
      {"copied set in the active L1 entry of a shared L2 table",
       [](std::string* img, uint64_t l1, uint64_t) {
         Set64(img, l1 + 16, Get64(*img, l1 + 16) | (1ull << 63));
       },
       2},
      {"copied set on a shared data cluster in the active L2",
       [](std::string* img, uint64_t l1, uint64_t) {
         uint64_t l2 = Get64(*img, l1 + 16) & kOffsetMask;
         Set64(img, l2, Get64(*img, l2) | (1ull << 63));
       },
       2},
      {"copied cleared on an unshared data cluster",
       [](std::string* img, uint64_t l1, uint64_t) {
         uint64_t l2 = Get64(*img, l1) & kOffsetMask;
         Set64(img, l2 + 8, Get64(*img, l2 + 8) & ~(1ull << 63));
       },
       2},
      {"copied set on a compressed cluster",
       [](std::string* img, uint64_t l1, uint64_t) {
         uint64_t l2 = Get64(*img, l1 + 32) & kOffsetMask;
         Set64(img, l2, Get64(*img, l2) | (1ull << 63));
       },
       2},
  };
  const uint64_t l1 = Get64(clean, 40);
  const uint64_t snap_l1 = Get64(clean, Get64(clean, 64));
  ASSERT_EQ(Get64(clean, l1 + 16) >> 63, 0u);  // shared: no copied flag
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    ExpectSameVerdictAfter(
        clean, [&](std::string* img) { c.edit(img, l1, snap_l1); }, c.qemu_rc);
  }
}

// 512-byte clusters and data far apart on a 4 GiB disk: the file has
// ~100k clusters. Counting them in windows of 4096 finds what one window
// finds, and both agree with qemu-img check.
TEST(Qcow2Check, ManySmallClustersCountedInWindows) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  // Patterns go into a sparse raw file first: qemu-io allocating 512-byte
  // clusters one request at a time is slow, a convert is not.
  ASSERT_TRUE(Sh(dir.path(),
                 "truncate -s 4G r.raw && qemu-io -f raw -t unsafe -c 'write -P 1 0 16M' "
                 "-c 'write -P 2 1G 16M' -c 'write -P 3 3G 16M' -c 'write -P 4 4095M 1M' r.raw "
                 ">/dev/null && qemu-img convert -t unsafe -O qcow2 -o cluster_size=512 r.raw "
                 "a.qcow2 && rm r.raw"));
  std::string img = ReadWholeFile(dir.Join("a.qcow2"));
  ASSERT_GT(img.size() / 512, 100000u);
  // Checks `img` (which the test keeps equal to a.qcow2) and counts the
  // bytes the check reads into `*bytes_read`.
  auto check = [&](uint64_t window, uint64_t* bytes_read = nullptr) {
    qcow2::CheckOptions options;
    options.window_clusters = window;
    std::atomic<uint64_t> counter{0};
    auto report = qcow2::CheckImageFile(
        std::make_shared<testing::RecordingFile>(img, "a.qcow2", &counter), options);
    if (bytes_read != nullptr) {
      *bytes_read = counter.load();
    }
    return report;
  };
  ExpectSameVerdict(dir, "a.qcow2", 0);
  // The cost is counted in bytes read, not seconds: one pass reads the
  // metadata (a few percent of a file of 512-byte clusters), never the
  // data, and each window walks the metadata once more.
  uint64_t whole_bytes = 0;
  uint64_t windowed_bytes = 0;
  ASSERT_OK(check(uint64_t{1} << 24, &whole_bytes));
  auto windowed = check(4096, &windowed_bytes);
  ASSERT_OK(windowed);
  EXPECT_TRUE(windowed->clean());
  const uint64_t windows = (img.size() / 512 + 4095) / 4096;
  EXPECT_LT(whole_bytes, img.size() / 4);
  EXPECT_LE(windowed_bytes, (windows + 1) * whole_bytes);
  // The last L2 table: drop its first entry (a leak far into the file) and
  // point its second at the refcount table (refcount 1, referenced twice;
  // its own data cluster leaks too).
  uint64_t l1 = Get64(img, 40);
  uint32_t l1_entries = LoadBE32(reinterpret_cast<const std::byte*>(img.data() + 36));
  uint64_t last_l2 = Get64(img, l1 + 8 * (l1_entries - 1)) & kOffsetMask;
  ASSERT_NE(last_l2, 0u);
  Set64(&img, last_l2, 0);
  Set64(&img, last_l2 + 8, Get64(img, 48) | (1ull << 63));
  WriteWholeFile(dir.Join("a.qcow2"), img);
  ExpectSameVerdict(dir, "a.qcow2", 2);
  auto whole = check(uint64_t{1} << 24);
  ASSERT_OK(whole);
  windowed = check(4096);
  ASSERT_OK(windowed);
  EXPECT_EQ(windowed->errors, whole->errors);
  EXPECT_EQ(windowed->warnings, whole->warnings);
  EXPECT_EQ(whole->errors.size(), 1u);
  EXPECT_EQ(whole->warnings.size(), 2u);
}

// `imgfs check` exits 0 clean, 1 problems found, 2 could not check.
TEST(Qcow2Check, ExitCodes) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 a.qcow2 16M && "
                 "qemu-io -c 'write -P 1 0 128k' a.qcow2 >/dev/null && "
                 "cp a.qcow2 leak.qcow2 && head -c 100 a.qcow2 > short.qcow2 && "
                 "cp a.qcow2 garbage.qcow2 && "
                 "printf '\\377\\377\\377\\377' | dd of=garbage.qcow2 bs=1 seek=20 conv=notrunc "
                 "2>/dev/null"));
  std::string img = ReadWholeFile(dir.Join("leak.qcow2"));
  uint64_t l2 = Get64(img, Get64(img, 40)) & kOffsetMask;
  Set64(&img, l2, 0);
  WriteWholeFile(dir.Join("leak.qcow2"), img);
  const std::string imgfs = ImgfsBinary() + " check ";
  std::string out;
  EXPECT_EQ(RunIn(dir.path(), imgfs + "a.qcow2", &out), 0) << out;
  EXPECT_EQ(RunIn(dir.path(), imgfs + "leak.qcow2", &out), 1) << out;
  EXPECT_NE(out.find("leaked cluster"), std::string::npos) << out;
  EXPECT_EQ(RunIn(dir.path(), imgfs + "short.qcow2", &out), 2) << out;
  EXPECT_EQ(RunIn(dir.path(), imgfs + "garbage.qcow2", &out), 2) << out;
  EXPECT_NE(out.find("cluster_bits"), std::string::npos) << out;
  EXPECT_EQ(RunIn(dir.path(), imgfs + "missing.qcow2", &out), 2) << out;
}

}  // namespace
}  // namespace imgfs
