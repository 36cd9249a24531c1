// SPDX-License-Identifier: MIT
// vvfat layout from bytes: FAT type by cluster count, BPBs of every kind,
// FSInfo and backup, MBR types, FAT12 packing, directory entries and
// times, symlink rules and refusals.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <ctime>

#include "core/exec/thread_pool.h"
#include "core/util/checked.h"
#include "core/util/endian.h"
#include "tests/testing/status_matchers.h"
#include "tests/vvfat/vvfat_test_util.h"
#include "vvfat/dirent.h"
#include "vvfat/layout.h"

namespace imgfs::vvfat {
namespace {

using testing::TempDir;

std::vector<std::byte> ReadAt(const BlockDevice& dev, uint64_t offset, size_t n) {
  std::vector<std::byte> b(n);
  EXPECT_OK(dev.Read(offset, b));
  return b;
}

uint16_t Le16(const std::vector<std::byte>& b, size_t at) { return LoadLE16(b.data() + at); }
uint32_t Le32(const std::vector<std::byte>& b, size_t at) { return LoadLE32(b.data() + at); }

Needs TreeOf(uint64_t clusters_of_512) {
  Needs n;
  n.clusters = [clusters_of_512](uint64_t cb) { return DivRoundUp(clusters_of_512 * 512, cb); };
  n.data_bytes = clusters_of_512 * 512;
  n.root_entries = 4;
  return n;
}

TEST(GeometryTest, TypeFollowsTheSpecificationsClusterCountThresholds) {
  EXPECT_EQ(TypeForClusterCount(4084), FatType::kFat12);
  EXPECT_EQ(TypeForClusterCount(4085), FatType::kFat16);
  EXPECT_EQ(TypeForClusterCount(65524), FatType::kFat16);
  EXPECT_EQ(TypeForClusterCount(65525), FatType::kFat32);
}

TEST(GeometryTest, EveryPlannedSizeHasTheTypeItsClusterCountMakes) {
  for (uint64_t mib : {2, 5, 16, 33, 100, 300, 511, 513, 2048, 40000, 2000000}) {
    for (std::optional<FatType> t :
         {std::optional<FatType>(), std::optional<FatType>(FatType::kFat12),
          std::optional<FatType>(FatType::kFat16), std::optional<FatType>(FatType::kFat32)}) {
      PlanOptions o;
      o.type = t;
      o.disk_bytes = mib << 20;
      auto g = PlanGeometry(o, TreeOf(10));
      if (!g.ok()) {
        continue;  // a type that cannot make this size is refused
      }
      EXPECT_EQ(TypeForClusterCount(g->cluster_count), g->type) << mib << " MiB";
      if (t) {
        EXPECT_EQ(g->type, *t);
      }
      EXPECT_EQ(g->disk_bytes(), mib << 20);
      // The FAT holds an entry for every cluster.
      EXPECT_GE(uint64_t{g->fat_sectors} * 512 * 8,
                (uint64_t{g->cluster_count} + 2) * static_cast<uint64_t>(g->type));
      EXPECT_LE(uint64_t{g->data_start()} + uint64_t{g->cluster_count} * g->sectors_per_cluster,
                g->volume_sectors);
    }
  }
}

TEST(GeometryTest, AutomaticTypeIsFat16Below512MiBAndFat32Above) {
  PlanOptions o;
  o.disk_bytes = 100ULL << 20;
  ASSERT_OK_AND_ASSIGN(Geometry g16, PlanGeometry(o, TreeOf(10)));
  EXPECT_EQ(g16.type, FatType::kFat16);
  o.disk_bytes = 1ULL << 30;
  ASSERT_OK_AND_ASSIGN(Geometry g32, PlanGeometry(o, TreeOf(10)));
  EXPECT_EQ(g32.type, FatType::kFat32);
  EXPECT_EQ(g32.cluster_bytes(), 4096u);
  o.disk_bytes = 2ULL << 40;  // 2 TiB: the most 512-byte sectors allow
  o.disk_bytes = *o.disk_bytes - 512;
  ASSERT_OK_AND_ASSIGN(Geometry big, PlanGeometry(o, TreeOf(10)));
  EXPECT_EQ(big.type, FatType::kFat32);
}

TEST(GeometryTest, RefusalsSayWhatWouldFit) {
  PlanOptions o;
  o.type = FatType::kFat12;
  o.disk_bytes = 2ULL << 20;
  auto g = PlanGeometry(o, TreeOf(100000));
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kNoSpace);
  EXPECT_NE(g.status().message().find("would fit"), std::string::npos) << g.status().message();
  PlanOptions fat12;
  fat12.type = FatType::kFat12;
  auto big = PlanGeometry(fat12, TreeOf(1000000));  // 488 MiB: past FAT12
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("it fits as FAT"), std::string::npos)
      << big.status().message();
  PlanOptions small;
  small.type = FatType::kFat32;
  small.disk_bytes = 8ULL << 20;  // too few clusters for FAT32
  EXPECT_FALSE(PlanGeometry(small, TreeOf(1)).ok());
}

TEST(FatTableTest, Fat12PacksTwoEntriesInThreeBytes) {
  Geometry g;
  g.type = FatType::kFat12;
  g.cluster_count = 10;
  g.media = 0xf0;
  // Chains: 2-4 and 5.
  FatTable fat(g, {4, 5}, 6);
  std::vector<std::byte> b(12);
  fat.Read(0, b);
  // Entries 0xff0 0xfff | 0x003 0x004 | 0xfff 0xfff | 0 0
  const uint8_t want[] = {0xf0, 0xff, 0xff, 0x03, 0x40, 0x00, 0xff, 0xff, 0xff, 0, 0, 0};
  for (size_t i = 0; i < sizeof want; ++i) {
    EXPECT_EQ(static_cast<uint8_t>(b[i]), want[i]) << i;
  }
  // Unaligned reads give the same bytes.
  std::vector<std::byte> part(5);
  fat.Read(4, part);
  EXPECT_EQ(static_cast<uint8_t>(part[0]), 0x40);
  EXPECT_EQ(static_cast<uint8_t>(part[2]), 0xff);
}

TEST(FatTableTest, Fat32EntriesAndEndOfChain) {
  Geometry g;
  g.type = FatType::kFat32;
  g.cluster_count = 100;
  FatTable fat(g, {2, 9}, 10);
  EXPECT_EQ(fat.Entry(0), 0x0ffffff8u);
  EXPECT_EQ(fat.Entry(2), 0x0fffffffu);
  EXPECT_EQ(fat.Entry(3), 4u);
  EXPECT_EQ(fat.Entry(9), 0x0fffffffu);
  EXPECT_EQ(fat.Entry(10), 0u);
}

TEST(LayoutTest, FloppiesHaveTheirStandardBpbAndNoMbr) {
  TempDir dir;
  Put(dir / "a.txt", "floppy");
  struct Want {
    uint64_t bytes;
    uint16_t sectors;
    uint8_t spc;
    uint16_t root;
    uint8_t media;
    uint16_t fat;
    uint16_t spt;
  };
  for (const Want& w :
       {Want{368640, 720, 2, 112, 0xfd, 2, 9}, Want{737280, 1440, 2, 112, 0xf9, 3, 9},
        Want{1228800, 2400, 1, 224, 0xf9, 7, 15}, Want{1474560, 2880, 1, 224, 0xf0, 9, 18},
        Want{2949120, 5760, 2, 240, 0xf0, 9, 36}}) {
    DiskOptions o;
    o.plan.floppy_bytes = w.bytes;
    o.plan.mbr = false;
    ASSERT_OK_AND_ASSIGN(auto dev, MakeDisk(dir.path(), o));
    EXPECT_EQ(dev->Size(), w.bytes);
    auto b = ReadAt(*dev, 0, 512);
    EXPECT_EQ(Le16(b, 11), 512);
    EXPECT_EQ(static_cast<uint8_t>(b[13]), w.spc);
    EXPECT_EQ(Le16(b, 14), 1);
    EXPECT_EQ(static_cast<uint8_t>(b[16]), 2);
    EXPECT_EQ(Le16(b, 17), w.root);
    EXPECT_EQ(Le16(b, 19), w.sectors);
    EXPECT_EQ(static_cast<uint8_t>(b[21]), w.media);
    EXPECT_EQ(Le16(b, 22), w.fat);
    EXPECT_EQ(Le16(b, 24), w.spt);
    EXPECT_EQ(Le16(b, 26), 2);
    EXPECT_EQ(Le32(b, 28), 0u);
    EXPECT_EQ(static_cast<uint8_t>(b[36]), 0x00);  // drive number: floppy
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data()) + 54, 8), "FAT12   ");
    EXPECT_EQ(static_cast<uint8_t>(b[510]), 0x55);
    EXPECT_EQ(static_cast<uint8_t>(b[511]), 0xaa);
    // FAT[0] carries the media byte.
    auto fat = ReadAt(*dev, 512, 3);
    EXPECT_EQ(static_cast<uint8_t>(fat[0]), w.media);
  }
}

TEST(LayoutTest, Fat32HasFsInfoAndABackupBootSector) {
  TempDir dir;
  Put(dir / "f", std::string(5000, 'x'));
  DiskOptions o;
  o.plan.type = FatType::kFat32;
  o.plan.mbr = false;
  o.label = "data";
  ASSERT_OK_AND_ASSIGN(auto dev, MakeDisk(dir.path(), o));
  auto boot = ReadAt(*dev, 0, 512);
  EXPECT_EQ(static_cast<uint8_t>(boot[0]), 0xeb);
  EXPECT_EQ(static_cast<uint8_t>(boot[1]), 0x58);
  EXPECT_EQ(Le16(boot, 14), 32);  // reserved sectors
  EXPECT_EQ(Le16(boot, 17), 0);   // no fixed root
  EXPECT_EQ(Le16(boot, 22), 0);   // FATSz16
  EXPECT_EQ(Le32(boot, 44), 2u);  // root cluster
  EXPECT_EQ(Le16(boot, 48), 1);   // FSInfo sector
  EXPECT_EQ(Le16(boot, 50), 6);   // backup boot sector
  EXPECT_EQ(static_cast<uint8_t>(boot[66]), 0x29);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(boot.data()) + 71, 11), "DATA       ");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(boot.data()) + 82, 8), "FAT32   ");
  EXPECT_EQ(ReadAt(*dev, 6 * 512, 512), boot);
  auto info = ReadAt(*dev, 512, 512);
  EXPECT_EQ(Le32(info, 0), 0x41615252u);
  EXPECT_EQ(Le32(info, 484), 0x61417272u);
  EXPECT_EQ(Le32(info, 508), 0xaa550000u);
  const uint32_t clusters =
      (Le32(boot, 32) - 32 - 2 * Le32(boot, 36)) / static_cast<uint8_t>(boot[13]);
  // Root (1 cluster) and the file (5000 bytes in 512-byte clusters: 10).
  EXPECT_EQ(Le32(info, 488), clusters - 1 - 10);
  EXPECT_EQ(Le32(info, 492), 2u + 1 + 10);
  EXPECT_EQ(ReadAt(*dev, 7 * 512, 512), info);
}

TEST(LayoutTest, MbrPartitionTypeFollowsTypeAndSize) {
  TempDir dir;
  Put(dir / "a", "a");
  struct Case {
    std::optional<FatType> type;
    uint64_t size;
    uint8_t want;
  };
  for (const Case& c :
       {Case{FatType::kFat12, 4 << 20, 0x01}, Case{FatType::kFat16, 16 << 20, 0x04},
        Case{FatType::kFat16, 100 << 20, 0x06}, Case{FatType::kFat32, 1ULL << 30, 0x0b},
        Case{FatType::kFat32, 16ULL << 30, 0x0c}}) {
    DiskOptions o;
    o.plan.type = c.type;
    o.plan.disk_bytes = c.size;
    ASSERT_OK_AND_ASSIGN(auto dev, MakeDisk(dir.path(), o));
    auto mbr = ReadAt(*dev, 0, 512);
    EXPECT_EQ(static_cast<uint8_t>(mbr[446 + 4]), c.want) << c.size;
    EXPECT_EQ(Le32(mbr, 446 + 8), 2048u);
    EXPECT_EQ(Le32(mbr, 446 + 12), c.size / 512 - 2048);
    EXPECT_EQ(static_cast<uint8_t>(mbr[510]), 0x55);
  }
  Geometry g;
  g.type = FatType::kFat16;
  g.partition_start = 20000000;  // ends past CHS: LBA type
  g.volume_sectors = 4000000;
  EXPECT_EQ(PartitionType(g), 0x0e);
}

TEST(LayoutTest, DirectoryEntriesCarryTimesAttributesAndCase) {
  TempDir dir;
  Put(dir / "ro.txt", "read only");
  ::chmod((dir / "ro.txt").c_str(), 0444);
  struct tm tm {};
  tm.tm_year = 2001 - 1900;
  tm.tm_mon = 1;
  tm.tm_mday = 3;
  tm.tm_hour = 4;
  tm.tm_min = 5;
  tm.tm_sec = 7;
  tm.tm_isdst = -1;
  const time_t t = std::mktime(&tm);
  struct timespec times[2] = {{t, 0}, {t, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir / "ro.txt").c_str(), times, 0), 0);
  DiskOptions o;
  o.plan.mbr = false;
  o.plan.type = FatType::kFat16;
  o.label = "Vol";
  ASSERT_OK_AND_ASSIGN(auto dev, MakeDisk(dir.path(), o));
  auto boot = ReadAt(*dev, 0, 512);
  const uint64_t root = (uint64_t{Le16(boot, 14)} + 2ULL * Le16(boot, 22)) * 512;
  auto e = ReadAt(*dev, root, 64);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(e.data()), 11), "VOL        ");
  EXPECT_EQ(static_cast<uint8_t>(e[11]), kAttrVolumeId);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(e.data()) + 32, 11), "RO      TXT");
  EXPECT_EQ(static_cast<uint8_t>(e[32 + 11]), kAttrArchive | kAttrReadOnly);
  EXPECT_EQ(static_cast<uint8_t>(e[32 + 12]), kNtLowerBase | kNtLowerExt);
  EXPECT_EQ(Le16(e, 32 + 24), ((2001 - 1980) << 9) | (2 << 5) | 3);  // write date
  EXPECT_EQ(Le16(e, 32 + 22), (4 << 11) | (5 << 5) | 3);             // 04:05:06
  EXPECT_EQ(Le16(e, 32 + 18), ((2001 - 1980) << 9) | (2 << 5) | 3);  // access date
  EXPECT_EQ(Le32(e, 32 + 28), 9u);
}

TEST(LayoutTest, DatesOutsideFatsRangeAreClamped) {
  DosTime early = ToDosTime({0, 0});  // 1970
  EXPECT_EQ(early.date, (1 << 5) | 1);
  DosTime late = ToDosTime({static_cast<time_t>(5000000000LL), 0});  // 2128
  EXPECT_EQ(late.date >> 9, 127);
}

TEST(LayoutTest, ReadsAreStableAndWritesAreRefused) {
  TempDir dir;
  Put(dir / "x/y/z.bin", testing::RandomBytes(70000, 7));
  ASSERT_OK_AND_ASSIGN(auto dev, MakeDisk(dir.path()));
  auto a = ReadAt(*dev, 0, static_cast<size_t>(dev->Size()));
  auto b = ReadAt(*dev, 0, static_cast<size_t>(dev->Size()));
  EXPECT_EQ(a, b);
  // Odd offsets read the same bytes as a whole read.
  for (uint64_t off : {uint64_t{1}, uint64_t{511}, uint64_t{1048575}, dev->Size() - 3}) {
    auto p = ReadAt(*dev, off, 3);
    EXPECT_EQ(0, std::memcmp(p.data(), a.data() + off, 3)) << off;
  }
  std::vector<std::byte> w(512);
  EXPECT_EQ(dev->Write(0, w).code(), StatusCode::kReadOnly);
  std::vector<std::byte> past(2);
  EXPECT_FALSE(dev->Read(dev->Size() - 1, past).ok());
  // The same tree gives the same serial number and bytes.
  ASSERT_OK_AND_ASSIGN(auto again, MakeDisk(dir.path()));
  EXPECT_EQ(ReadAt(*again, 0, static_cast<size_t>(again->Size())), a);
}

TEST(LayoutTest, AFileThatShrinksAfterTheMountReadsAsZerosAndIsLogged) {
  TempDir dir;
  Put(dir / "f.bin", std::string(4096, 'A'));
  std::vector<std::string> logged;
  DiskOptions o;
  o.plan.mbr = false;
  o.plan.type = FatType::kFat12;
  o.plan.cluster_bytes = 4096;
  ASSERT_OK_AND_ASSIGN(
      auto dev, OpenFatDisk(dir.path(), o, [&](const std::string& m) { logged.push_back(m); }));
  ::truncate((dir / "f.bin").c_str(), 1000);
  auto boot = ReadAt(*dev, 0, 512);
  const uint64_t data = (uint64_t{Le16(boot, 14)} + 2ULL * Le16(boot, 22) + 512 * 32 / 512) * 512;
  auto bytes = ReadAt(*dev, data, 4096);
  EXPECT_EQ(static_cast<char>(bytes[999]), 'A');
  EXPECT_EQ(bytes[1000], std::byte{0});
  EXPECT_EQ(bytes[4095], std::byte{0});
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("shorter than at mount"), std::string::npos);
}

TEST(LayoutTest, SymlinksInsideAreFollowedOthersSkippedWithAWarning) {
  TempDir top;
  const std::string dir = top / "tree";
  Put(dir + "/real/file.txt", "target");
  Put(top / "outside.txt", "secret");
  ASSERT_EQ(::symlink("real/file.txt", (dir + "/in-link").c_str()), 0);
  ASSERT_EQ(::symlink("real", (dir + "/dir-link").c_str()), 0);
  ASSERT_EQ(::symlink("../outside.txt", (dir + "/out-link").c_str()), 0);
  ASSERT_EQ(::symlink("nowhere", (dir + "/dangling").c_str()), 0);
  ASSERT_EQ(::symlink("..", (dir + "/real/loop").c_str()), 0);
  ASSERT_EQ(::mkfifo((dir + "/fifo").c_str(), 0644), 0);
  BuildLog log;
  DiskOptions o;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Layout> l, BuildLayout(dir, WithLog(o, &log)));
  std::set<std::string> paths;
  for (uint32_t i = 1; i < l->tree.nodes.size(); ++i) {
    paths.insert(l->tree.RelativePath(i));
  }
  EXPECT_EQ(paths, (std::set<std::string>{"dir-link", "dir-link/file.txt", "in-link", "real",
                                          "real/file.txt"}));
  std::string all;
  for (const std::string& w : log.warnings) {
    all += w + "\n";
  }
  EXPECT_EQ(log.warnings.size(), 5u) << all;  // out-link, dangling, 2 loops, fifo
  EXPECT_NE(all.find("out-link: it leaves"), std::string::npos) << all;
  EXPECT_NE(all.find("dangling"), std::string::npos) << all;
  EXPECT_NE(all.find("loops back"), std::string::npos) << all;
  EXPECT_NE(all.find("fifo: not a regular file"), std::string::npos) << all;
}

TEST(LayoutBadInputTest, MissingOrNonDirectoryRootIsRefused) {
  TempDir dir;
  Put(dir / "file", "x");
  auto missing = MakeDisk(dir / "nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  auto file = MakeDisk(dir / "file");
  EXPECT_EQ(file.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(file.status().message().find("not a directory"), std::string::npos);
}

// Builds the disk of `dir` as an unprivileged user (root reads every file)
// and returns the number of warnings, or -1 when the build failed.
int WarningsAsNobody(const std::string& dir) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    constexpr uid_t kNobody = 65534;
    if (::geteuid() == 0 && (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0)) {
      ::_exit(200);
    }
    BuildLog log;
    auto r = MakeDisk(dir, {}, &log);
    ::_exit(r.ok() ? static_cast<int>(std::min<size_t>(log.warnings.size(), 100)) : 201);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) <= 100 ? WEXITSTATUS(status) : -1;
}

TEST(LayoutBadInputTest, UnreadableFilesAndDirectoriesAreSkippedWithAWarning) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  Put(dir / "readable", "x");
  Put(dir / "secret", "x");
  ASSERT_EQ(::chmod((dir / "secret").c_str(), 0), 0);
  ASSERT_EQ(::mkdir((dir / "closed").c_str(), 0), 0);
  // "secret" cannot be read, "closed" cannot be listed (shown empty).
  EXPECT_EQ(WarningsAsNobody(dir.path()), 2);
  ::chmod((dir / "closed").c_str(), 0755);
}

// Read permission from the mode, without asking the kernel per file: exact
// for CAP_DAC_* readers and the owner, "ask" where ACL entries may decide.
TEST(LayoutBadInputTest, ReadAccessIsDecidedFromTheModeWhereThatIsExact) {
  Credentials user;
  user.uid = 1000;
  // Mode 000, owned by another user, read by an unprivileged one: no.
  EXPECT_EQ(DecideReadAccess(user, S_IFREG | 0000, 2000, 2000), ReadAccess::kNo);
  // Group or others may read, ACL entries may say otherwise: ask.
  EXPECT_EQ(DecideReadAccess(user, S_IFREG | 0640, 2000, 2000), ReadAccess::kAsk);
  EXPECT_EQ(DecideReadAccess(user, S_IFREG | 0604, 2000, 2000), ReadAccess::kAsk);
  // Neither group (the ACL mask) nor others: no, whoever named entries name.
  EXPECT_EQ(DecideReadAccess(user, S_IFREG | 0600, 2000, 1000), ReadAccess::kNo);
  // The owner: the owner bits alone, whatever the others may.
  EXPECT_EQ(DecideReadAccess(user, S_IFREG | 0400, 1000, 2000), ReadAccess::kYes);
  EXPECT_EQ(DecideReadAccess(user, S_IFREG | 0044, 1000, 2000), ReadAccess::kNo);
  Credentials root;
  root.uid = 0;
  root.read_any = true;  // CAP_DAC_OVERRIDE
  EXPECT_EQ(DecideReadAccess(root, S_IFREG | 0000, 2000, 2000), ReadAccess::kYes);
  EXPECT_EQ(DecideReadAccess(root, S_IFREG | 0000, 0, 0), ReadAccess::kYes);
  // Ids from outside our user namespace: capabilities may not apply.
  EXPECT_EQ(DecideReadAccess(root, S_IFREG | 0000, 65534, 0), ReadAccess::kAsk);
  EXPECT_EQ(DecideReadAccess(root, S_IFREG | 0644, 0, 65534), ReadAccess::kAsk);
  // Without capabilities, root is an ordinary owner.
  Credentials plain_root;
  EXPECT_EQ(DecideReadAccess(plain_root, S_IFREG | 0200, 0, 0), ReadAccess::kNo);
  // This process: as root (the tests' usual case) the decision needs no call.
  if (::geteuid() == 0) {
    EXPECT_EQ(Credentials::OfProcess().uid, 0u);
  }
}

TEST(LayoutBadInputTest, ReadableByGroupOrOthersIsAskedOfTheKernel) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  Put(dir / "public", "x");
  ASSERT_EQ(::chmod((dir / "public").c_str(), 0444), 0);
  Put(dir / "group-only", "x");
  ASSERT_EQ(::chmod((dir / "group-only").c_str(), 0440), 0);
  // "public" is read by others; "group-only" is not ours, nor our group's
  // (unless nobody's group owns it).
  struct stat st {};
  ASSERT_EQ(::stat((dir / "group-only").c_str(), &st), 0);
  EXPECT_EQ(WarningsAsNobody(dir.path()), st.st_gid == 65534 ? 0 : 1);
}

// The same tree scanned on a pool and serially: the same disk, byte for
// byte, and the same warnings in the same order.
TEST(LayoutTest, APoolScanGivesTheSameDiskAsASerialOne) {
  TempDir dir;
  for (int d = 0; d < 5; ++d) {
    for (int f = 0; f < (d == 2 ? 1300 : 40); ++f) {
      Put(dir / ("dir " + std::to_string(d) + "/sub/file number " + std::to_string(f) + ".txt"),
          std::string(static_cast<size_t>(f % 700), static_cast<char>('a' + d)));
    }
  }
  Put(dir / "dir 1/LONGFI~1.TXT", "claims its name");
  ASSERT_EQ(::symlink("../dir 0", (dir / "dir 3/back").c_str()), 0);
  ASSERT_EQ(::symlink("/nowhere", (dir / "dir 4/dangling").c_str()), 0);
  ASSERT_EQ(::symlink("..", (dir / "dir 4/sub/loop").c_str()), 0);
  ASSERT_EQ(::mkfifo((dir / "dir 2/fifo").c_str(), 0644), 0);
  BuildLog serial_log;
  ASSERT_OK_AND_ASSIGN(auto serial, MakeDisk(dir.path(), {}, &serial_log));
  ThreadPool pool(3);
  DiskOptions o;
  o.pool = &pool;
  BuildLog pool_log;
  ASSERT_OK_AND_ASSIGN(auto pooled, MakeDisk(dir.path(), o, &pool_log));
  ASSERT_EQ(serial->Size(), pooled->Size());
  EXPECT_EQ(ReadAt(*serial, 0, serial->Size()), ReadAt(*pooled, 0, pooled->Size()));
  EXPECT_EQ(serial_log.warnings, pool_log.warnings);
  EXPECT_EQ(serial_log.warnings.size(), 3u);  // dangling, loop, fifo
  EXPECT_EQ(serial_log.renamed, pool_log.renamed);
}

TEST(LayoutBadInputTest, AFullFixedRootDirectoryIsRefusedClearly) {
  TempDir dir;
  for (int i = 0; i < 520; ++i) {
    Put(dir / ("F" + std::to_string(i)), "");
  }
  DiskOptions o;
  o.plan.type = FatType::kFat16;
  auto r = MakeDisk(dir.path(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("root directory needs 520 entries"), std::string::npos)
      << r.status().message();
  // Without a type the tree gets FAT32, whose root directory grows.
  ASSERT_OK_AND_ASSIGN(auto dev, MakeDisk(dir.path()));
  EXPECT_EQ(dev->Describe().format_specific["data"]["fat-type"], "FAT32");
}

TEST(LayoutBadInputTest, ATreeTooBigForTheFloppyIsRefused) {
  TempDir dir;
  Put(dir / "big", std::string(2 << 20, 'b'));
  DiskOptions o;
  o.plan.floppy_bytes = 1474560;
  o.plan.mbr = false;
  auto r = MakeDisk(dir.path(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNoSpace);
  EXPECT_NE(r.status().message().find("floppy holds"), std::string::npos);
}

TEST(LayoutBadInputTest, FilesOver4GiBAreRefusedOrSkipped) {
  TempDir dir;
  Put(dir / "small", "s");
  {
    const int fd = ::open((dir / "huge").c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 5LL << 30), 0);  // sparse
    ::close(fd);
  }
  auto r = MakeDisk(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status().message().find("huge"), std::string::npos);
  DiskOptions o;
  o.skip_large = true;
  BuildLog log;
  ASSERT_OK(MakeDisk(dir.path(), o, &log).status());
  ASSERT_EQ(log.warnings.size(), 1u);
  EXPECT_NE(log.warnings[0].find("huge"), std::string::npos);
}

TEST(LayoutBadInputTest, BadLabelsAndSizesAreRefused) {
  EXPECT_FALSE(ParseVolumeLabel("twelve chars").ok());
  EXPECT_FALSE(ParseVolumeLabel("a*b").ok());
  EXPECT_FALSE(ParseVolumeLabel("\xc3\xa9").ok());
  TempDir dir;
  DiskOptions o;
  o.plan.disk_bytes = 1000;
  EXPECT_EQ(MakeDisk(dir.path(), o).status().code(), StatusCode::kInvalidArgument);
  DiskOptions c;
  c.plan.cluster_bytes = 3000;
  EXPECT_EQ(MakeDisk(dir.path(), c).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace imgfs::vvfat
