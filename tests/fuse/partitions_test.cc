// SPDX-License-Identifier: MIT
// `imgfs mount --partitions` and the partition list of `imgfs info`, run
// through the binary: disks partitioned by sfdisk/sgdisk over random bytes,
// a FAT file system (mkfs.fat + mcopy) and an ext4 one (mkfs.ext4 -d) put in
// partitions, the disk converted to qcow2 by qemu-img; every <stem>.pN.raw
// must read what `dd skip=... count=...` copies from the raw disk, and the
// file systems must mount with `mount -o loop` (as root).
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "fuse/cli/mount_plan.h"
#include "tests/fuse/test_util.h"

namespace imgfs::testing {
namespace {

using Json = nlohmann::json;

constexpr uint64_t kMiB = 1 << 20;

std::string RandomData(uint64_t bytes, uint32_t seed) {
  std::mt19937_64 gen(seed);
  std::string data(bytes, '\0');
  for (size_t i = 0; i + 8 <= data.size(); i += 8) {
    const uint64_t v = gen();
    std::memcpy(data.data() + i, &v, 8);
  }
  return data;
}

// True when `tool` is on PATH (some tools exit non-zero for --version).
bool OnPath(const std::string& tool) {
  return RunCommand({"sh", "-c", "command -v '" + tool + "'"}).exit_code == 0;
}

std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A `mount -o loop,ro` that is undone on scope exit.
class LoopMount {
 public:
  LoopMount(const std::string& file, const std::string& dir) : dir_(dir) {
    result_ = RunCommand({"mount", "-o", "loop,ro", file, dir});
    mounted_ = result_.exit_code == 0;
  }
  LoopMount(const LoopMount&) = delete;
  LoopMount& operator=(const LoopMount&) = delete;
  ~LoopMount() {
    if (mounted_) {
      RunCommand({"umount", dir_});
    }
  }
  bool ok() const { return mounted_; }
  const RunResult& result() const { return result_; }

 private:
  std::string dir_;
  RunResult result_;
  bool mounted_ = false;
};

class PartitionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(::access(ImgfsBinary().c_str(), X_OK) == 0, "the imgfs binary (IMGFS_BINARY)");
    IMGFS_REQUIRE(HaveTool("sfdisk"), "sfdisk (Debian package fdisk)");
    IMGFS_REQUIRE(HaveTool("sgdisk"), "sgdisk (Debian package gdisk)");
    IMGFS_REQUIRE(HaveQemuImg(), "qemu-img");
    IMGFS_REQUIRE(OnPath("mkfs.fat"), "mkfs.fat (Debian package dosfstools)");
    IMGFS_REQUIRE(OnPath("mcopy") && OnPath("mtype"), "mcopy and mtype (Debian package mtools)");
    IMGFS_REQUIRE(OnPath("mkfs.ext4"), "mkfs.ext4 (Debian package e2fsprogs)");
    mnt_ = dir_ / "mnt";
    std::filesystem::create_directory(mnt_);
  }

  void Sh(const std::string& command) {
    RunResult r = RunCommand({"sh", "-c", command});
    ASSERT_EQ(r.exit_code, 0) << command << ": " << r.err;
  }

  // 40 MiB of random bytes; MBR: p1 8M FAT32 (bootable), extended p2 with
  // p5 10M (a FAT file system holding hello.txt) and p6 rest (ext4 holding
  // world.txt). Returns the raw disk path.
  std::string MakeMbrDisk() {
    std::string disk = dir_ / "disk.img";
    WriteFile(disk, RandomData(40 * kMiB, 11));
    WriteFile(dir_ / "script", "label: dos\n,8M,c,*\n,,5\n,10M,6\n,,83\n");
    Sh("sfdisk -q '" + disk + "' < '" + (dir_ / "script") + "'");
    sfdisk_ = Json::parse(RunCommand({"sfdisk", "--json", disk}).out, nullptr, false);
    WriteFile(dir_ / "hello.txt", "hello from FAT\n");
    Sh("cd '" + dir_.path() + "' && mkfs.fat -C fat.img 10240 >/dev/null && " +
       "mcopy -i fat.img hello.txt ::hello.txt && dd if=fat.img of=disk.img bs=512 seek=" +
       std::to_string(Start(5) / 512) + " conv=notrunc status=none");
    std::filesystem::create_directory(dir_ / "src");
    WriteFile(dir_ / "src/world.txt", "hello from ext4\n");
    Sh("cd '" + dir_.path() + "' && mkfs.ext4 -q -F -d src ext.img " +
       std::to_string(Length(6) / 1024) + "k && dd if=ext.img of=disk.img bs=512 seek=" +
       std::to_string(Start(6) / 512) + " conv=notrunc status=none");
    return disk;
  }

  const Json* SfdiskPart(uint32_t number) const {
    for (const Json& p : sfdisk_["partitiontable"]["partitions"]) {
      std::string node = p["node"];
      if (node.ends_with(std::to_string(number)) &&
          !std::isdigit(
              static_cast<unsigned char>(node[node.size() - std::to_string(number).size() - 1]))) {
        return &p;
      }
    }
    return nullptr;
  }
  uint64_t Start(uint32_t n) const { return SfdiskPart(n)->at("start").get<uint64_t>() * 512; }
  uint64_t Length(uint32_t n) const { return SfdiskPart(n)->at("size").get<uint64_t>() * 512; }

  // The view must equal dd's copy of the same sectors of `disk`.
  void ExpectViewMatchesDd(const std::string& view, const std::string& disk, uint32_t n) {
    std::string ref = dir_ / ("p" + std::to_string(n) + ".dd");
    Sh("dd if='" + disk + "' of='" + ref + "' bs=512 skip=" + std::to_string(Start(n) / 512) +
       " count=" + std::to_string(Length(n) / 512) + " status=none");
    std::string want = ReadFile(ref);
    std::string got = ReadFile(view);
    EXPECT_EQ(got.size(), want.size()) << view;
    EXPECT_TRUE(got == want) << view << " differs from dd's copy";
  }

  RunResult Imgfs(std::vector<std::string> args) {
    args.insert(args.begin(), ImgfsBinary());
    return RunCommand(args);
  }

  TempDir dir_;
  std::string mnt_;
  Json sfdisk_;
};

TEST_F(PartitionsTest, PartitionStemFollowsTheDiskViewName) {
  EXPECT_EQ(cli::PartitionStem("disk.raw", 2), "disk.p2");
  EXPECT_EQ(cli::PartitionStem("disk-2.raw", 5), "disk-2.p5");
  EXPECT_EQ(cli::PartitionStem("odd", 1), "odd.p1");
}

TEST_F(PartitionsTest, QcowOfAnMbrDiskShowsEachPartitionAndTheyMount) {
#ifdef IMGFS_TEST_HAS_NO_FUSE
  GTEST_SKIP() << "built without FUSE";
#endif
  IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
  std::string disk = MakeMbrDisk();
  if (HasFailure()) {
    return;
  }
  std::string qcow = dir_ / "disk.qcow2";
  ASSERT_EQ(RunCommand({"qemu-img", "convert", "-f", "raw", "-O", "qcow2", disk, qcow}).exit_code,
            0);
  Mount m({"--partitions", qcow}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  EXPECT_EQ(Listing(mnt_),
            (std::vector<std::string>{"disk.p1.raw", "disk.p5.raw", "disk.p6.raw", "disk.raw"}));
  EXPECT_EQ(ReadFile(m / "disk.raw"), ReadFile(disk));
  for (uint32_t n : {1u, 5u, 6u}) {
    ExpectViewMatchesDd(m / ("disk.p" + std::to_string(n) + ".raw"), disk, n);
  }
  // The FAT file system inside p5, read by mtools straight from the view.
  RunResult mtype = RunCommand({"mtype", "-i", m / "disk.p5.raw", "::hello.txt"});
  EXPECT_EQ(mtype.exit_code, 0) << mtype.err;
  EXPECT_EQ(mtype.out, "hello from FAT\n");

  if (::geteuid() != 0) {
    if (InCi()) {
      FAIL() << "CI=true but not root: cannot check mount -o loop of the views";
    }
    GTEST_SKIP() << "not root: mount -o loop of the partition views is not checked";
  }
  std::filesystem::create_directory(dir_ / "ext");
  {
    LoopMount ext(m / "disk.p6.raw", dir_ / "ext");
    ASSERT_TRUE(ext.ok()) << "mount -o loop,ro disk.p6.raw: " << ext.result().err;
    EXPECT_EQ(ReadFile(dir_ / "ext/world.txt"), "hello from ext4\n");
  }
  std::filesystem::create_directory(dir_ / "fat");
  LoopMount fat(m / "disk.p5.raw", dir_ / "fat");
  if (!fat.ok() && fat.result().err.find("unknown filesystem type") != std::string::npos) {
    // Some kernels (minimal VM builds) have no vfat; mtype above read the
    // FAT through the view already.
    std::printf("note: this kernel cannot mount vfat: %s", fat.result().err.c_str());
    return;
  }
  ASSERT_TRUE(fat.ok()) << "mount -o loop,ro disk.p5.raw: " << fat.result().err;
  EXPECT_EQ(ReadFile(dir_ / "fat/hello.txt"), "hello from FAT\n");
}

// The macOS-made disk (tests/data/README.md; named .dmg but a plain GPT
// disk, so probed as raw): info lists its one partition as sfdisk does, and
// p1 is the HFS+ volume, which 7-Zip reads straight from the view.
TEST_F(PartitionsTest, MacosDiskShowsItsHfsVolumeAsP1) {
#ifdef IMGFS_TEST_HAS_NO_FUSE
  GTEST_SKIP() << "built without FUSE";
#endif
  IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
  IMGFS_REQUIRE(OnPath("7zz"), "7zz (Debian package 7zip)");
  std::string disk = dir_ / "blank-large-file.dmg";
  ASSERT_TRUE(UnpackMacosDisk(disk));
  sfdisk_ = Json::parse(RunCommand({"sfdisk", "--json", disk}).out, nullptr, false);
  ASSERT_NE(SfdiskPart(1), nullptr) << sfdisk_.dump();
  RunResult info = Imgfs({"info", "--json", disk});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  Json j = Json::parse(info.out, nullptr, false);
  EXPECT_EQ(j["format"], "raw");
  const Json& parts = j["partition-table"]["partitions"];
  ASSERT_EQ(parts.size(), 1u) << info.out;
  EXPECT_EQ(j["partition-table"]["scheme"], "gpt");
  EXPECT_EQ(parts[0]["start"].get<uint64_t>(), Start(1));
  EXPECT_EQ(parts[0]["length"].get<uint64_t>(), Length(1));
  EXPECT_EQ(parts[0]["type"], SfdiskPart(1)->at("type"));
  EXPECT_EQ(parts[0]["guid"], SfdiskPart(1)->at("uuid"));
  EXPECT_EQ(parts[0]["name"], SfdiskPart(1)->at("name"));
  EXPECT_EQ(parts[0]["name"], "disk image");

  Mount m({"--partitions", disk}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  EXPECT_EQ(Listing(mnt_),
            (std::vector<std::string>{"blank-large-file.p1.raw", "blank-large-file.raw"}));
  EXPECT_TRUE(ReadFile(m / "blank-large-file.raw") == ReadFile(disk));
  ExpectViewMatchesDd(m / "blank-large-file.p1.raw", disk, 1);
  RunResult l = RunCommand({"7zz", "l", "-slt", m / "blank-large-file.p1.raw"});
  EXPECT_EQ(l.exit_code, 0) << l.err;
  EXPECT_NE(l.out.find("Type = HFS"), std::string::npos) << l.out;
  EXPECT_NE(l.out.find("Path = blank-large-disk/.fseventsd/fseventsd-uuid"), std::string::npos)
      << l.out;
}

TEST_F(PartitionsTest, DamagedPrimaryGptMountsFromTheBackupWithANote) {
#ifdef IMGFS_TEST_HAS_NO_FUSE
  GTEST_SKIP() << "built without FUSE";
#endif
  IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
  std::string disk = dir_ / "gpt.img";
  WriteFile(disk, RandomData(12 * kMiB, 12));
  ASSERT_EQ(RunCommand({"sgdisk", "-n1:2048:+3M", "-n3:0:+4M", disk}).exit_code, 0);
  sfdisk_ = Json::parse(RunCommand({"sfdisk", "--json", disk}).out, nullptr, false);
  Sh("printf 'X' | dd of='" + disk + "' bs=1 seek=560 conv=notrunc status=none");
  Mount m({"--partitions", disk}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  EXPECT_NE(m.result().err.find("using the backup header"), std::string::npos) << m.result().err;
  EXPECT_EQ(Listing(mnt_), (std::vector<std::string>{"gpt.p1.raw", "gpt.p3.raw", "gpt.raw"}));
  ExpectViewMatchesDd(m / "gpt.p1.raw", disk, 1);
  ExpectViewMatchesDd(m / "gpt.p3.raw", disk, 3);
}

TEST_F(PartitionsTest, UnreadableTableLeavesTheWholeDiskAndAWarning) {
#ifdef IMGFS_TEST_HAS_NO_FUSE
  GTEST_SKIP() << "built without FUSE";
#endif
  IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
  std::string disk = dir_ / "broken.img";
  WriteFile(disk, RandomData(4 * kMiB, 13));
  ASSERT_EQ(RunCommand({"sgdisk", "-n1:2048:+1M", disk}).exit_code, 0);
  // Both headers damaged: the protective MBR says GPT, nothing backs it.
  Sh("printf 'X' | dd of='" + disk + "' bs=1 seek=560 conv=notrunc status=none");
  Sh("printf 'X' | dd of='" + disk + "' bs=1 seek=" + std::to_string(4 * kMiB - 512 + 48) +
     " conv=notrunc status=none");
  std::string other = dir_ / "other.img";
  WriteFile(other, RandomData(kMiB, 14));
  Mount m({"--partitions", disk, other}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  EXPECT_NE(m.result().err.find("imgfs: warning: " + disk + ": cannot read partition table: gpt:"),
            std::string::npos)
      << m.result().err;
  EXPECT_NE(m.result().err.find("no partition table"), std::string::npos) << m.result().err;
  EXPECT_EQ(Listing(mnt_), (std::vector<std::string>{"broken.raw", "other.raw"}));
}

TEST_F(PartitionsTest, SameStemImagesKeepTheirPartitionsApart) {
#ifdef IMGFS_TEST_HAS_NO_FUSE
  GTEST_SKIP() << "built without FUSE";
#endif
  IMGFS_REQUIRE(HaveFuse(), "/dev/fuse");
  std::filesystem::create_directory(dir_ / "a");
  std::filesystem::create_directory(dir_ / "b");
  for (const char* sub : {"a", "b"}) {
    std::string disk = dir_ / (std::string(sub) + "/disk.img");
    WriteFile(disk, RandomData(4 * kMiB, 15));
    ASSERT_EQ(RunCommand({"sgdisk", "-n1:2048:+1M", disk}).exit_code, 0);
  }
  Mount m({"--partitions", dir_ / "a/disk.img", dir_ / "b/disk.img"}, mnt_);
  ASSERT_TRUE(m.ok()) << m.result().err;
  EXPECT_EQ(Listing(mnt_),
            (std::vector<std::string>{"disk-2.p1.raw", "disk-2.raw", "disk.p1.raw", "disk.raw"}));
}

TEST_F(PartitionsTest, FileMountpointRefusesPartitions) {
#ifdef IMGFS_TEST_HAS_NO_FUSE
  GTEST_SKIP() << "built without FUSE";
#endif
  std::string disk = dir_ / "d.img";
  WriteFile(disk, RandomData(kMiB, 16));
  std::string target = dir_ / "target";
  WriteFile(target, "");
  RunResult r = Imgfs({"mount", "--partitions", disk, target});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--partitions needs a directory mountpoint"), std::string::npos) << r.err;
}

TEST_F(PartitionsTest, InfoListsPartitionsLikeSfdisk) {
  std::string disk = MakeMbrDisk();
  if (HasFailure()) {
    return;
  }
  std::string qcow = dir_ / "disk.qcow2";
  ASSERT_EQ(RunCommand({"qemu-img", "convert", "-f", "raw", "-O", "qcow2", disk, qcow}).exit_code,
            0);
  RunResult r = Imgfs({"info", "--json", qcow});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = Json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.contains("partition-table")) << r.out;
  const Json& t = j["partition-table"];
  EXPECT_EQ(t["scheme"], "mbr");
  EXPECT_EQ(t["sector-size"], 512);
  EXPECT_EQ(t["notes"], Json::array());
  std::vector<uint32_t> numbers;
  for (const Json& p : t["partitions"]) {
    const uint32_t n = p["number"];
    numbers.push_back(n);
    EXPECT_EQ(p["start"].get<uint64_t>(), Start(n)) << n;
    EXPECT_EQ(p["length"].get<uint64_t>(), Length(n)) << n;
    EXPECT_EQ(std::stoul(p["type"].get<std::string>(), nullptr, 16),
              std::stoul(SfdiskPart(n)->at("type").get<std::string>(), nullptr, 16))
        << n;
    EXPECT_EQ(p["bootable"], SfdiskPart(n)->value("bootable", false)) << n;
  }
  EXPECT_EQ(numbers, (std::vector<uint32_t>{1, 5, 6}));

  RunResult human = Imgfs({"info", qcow});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("Partition table: mbr, 512-byte sectors"), std::string::npos)
      << human.out;
  EXPECT_NE(human.out.find("     5       " + std::to_string(Start(5))), std::string::npos)
      << human.out;
  EXPECT_NE(human.out.find("0x0c (W95 FAT32 (LBA))"), std::string::npos) << human.out;
}

TEST_F(PartitionsTest, InfoOfADiskWithoutTableHasNoPartitionKey) {
  std::string disk = dir_ / "plain.img";
  WriteFile(disk, std::string(kMiB, '\0'));
  RunResult r = Imgfs({"info", "--json", disk});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(Json::parse(r.out, nullptr, false).contains("partition-table")) << r.out;
  EXPECT_EQ(Imgfs({"info", disk}).out.find("Partition table"), std::string::npos);
}

TEST_F(PartitionsTest, InfoNamesGptTypesAndNames) {
  std::string disk = dir_ / "g.img";
  WriteFile(disk, RandomData(8 * kMiB, 17));
  ASSERT_EQ(RunCommand({"sgdisk", "-n1:2048:+2M", "-t1:ef00", "-c1:ESP", "-n2:0:+3M", "-t2:af0a",
                        "-c2:mac data", disk})
                .exit_code,
            0);
  RunResult r = Imgfs({"info", "--json", disk});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Json t = Json::parse(r.out, nullptr, false)["partition-table"];
  ASSERT_EQ(t["partitions"].size(), 2u) << r.out;
  EXPECT_EQ(t["partitions"][0]["type-name"], "EFI System");
  EXPECT_EQ(t["partitions"][0]["name"], "ESP");
  EXPECT_EQ(t["partitions"][1]["type"], "7C3457EF-0000-11AA-AA11-00306543ECAC");
  EXPECT_EQ(t["partitions"][1]["type-name"], "Apple APFS");
  EXPECT_EQ(t["partitions"][1]["name"], "mac data");
}

}  // namespace
}  // namespace imgfs::testing
