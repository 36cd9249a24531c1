// SPDX-License-Identifier: MIT
// Oracle tests: disks partitioned at test time by sfdisk (MBR with logical
// partitions, GPT), sgdisk (GPT with names, types, attributes) and parted
// (mac, msdos, gpt) over random bytes; ReadPartitionTable must agree with
// `sfdisk --json`, `sgdisk -p` and `parted -m unit B print`, and each
// partition window must read what `dd skip=... count=...` copies out.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "core/cache/cache.h"
#include "core/partition/partition_table.h"
#include "formats/open.h"
#include "tests/fuse/test_util.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::testing {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr uint64_t kMiB = 1 << 20;

// Everything one oracle reports about a partition, in bytes.
struct Expected {
  uint32_t number = 0;
  uint64_t start_bytes = 0;
  uint64_t length_bytes = 0;
};

class PartitionOracleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE(HaveTool("sfdisk"), "sfdisk (util-linux, Debian package fdisk)");
    IMGFS_REQUIRE(HaveTool("sgdisk"), "sgdisk (Debian package gdisk)");
    IMGFS_REQUIRE(HaveTool("parted"), "parted");
  }

  // A sparse-free file of random bytes, so that every window has content.
  std::string RandomDisk(const std::string& name, uint64_t bytes, uint32_t seed) {
    std::string path = dir_ / name;
    std::mt19937_64 gen(seed);
    std::string data(bytes, '\0');
    for (size_t i = 0; i + 8 <= data.size(); i += 8) {
      const uint64_t v = gen();
      std::memcpy(data.data() + i, &v, 8);
    }
    WriteFile(path, data);
    return path;
  }

  // Runs a tool that must succeed and returns its stdout.
  std::string Run(const std::vector<std::string>& argv) {
    RunResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << argv[0] << ": " << r.err << r.out;
    return r.out;
  }

  void Sfdisk(const std::string& path, const std::string& script) {
    std::string script_path = path + ".sfdisk";
    WriteFile(script_path, script);
    RunResult r = RunCommand({"sh", "-c", "sfdisk -q '" + path + "' < '" + script_path + "'"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  PartitionTable Read(const std::string& path) {
    auto dev = OpenImage(path, OpenOptions{}, &cache_);
    EXPECT_OK(dev);
    if (!dev.ok()) {
      return {};
    }
    dev_ = std::move(*dev);
    auto table = ReadPartitionTable(*dev_);
    EXPECT_OK(table);
    return table.ok() ? *table : PartitionTable{};
  }

  // Compares the table with the oracle's partitions (and no more, unless a
  // number is in `extra_ok`), then each window with dd's copy.
  void ExpectMatches(const std::string& path, const PartitionTable& t,
                     const std::vector<Expected>& want, const std::set<uint32_t>& extra_ok = {}) {
    std::map<uint32_t, const Partition*> ours;
    for (const Partition& p : t.partitions) {
      ours[p.number] = &p;
    }
    for (const Expected& e : want) {
      SCOPED_TRACE("partition " + std::to_string(e.number));
      auto it = ours.find(e.number);
      ASSERT_NE(it, ours.end());
      EXPECT_EQ(it->second->start_bytes, e.start_bytes);
      EXPECT_EQ(it->second->length_bytes, e.length_bytes);
      ours.erase(it);
      ExpectWindowMatchesDd(path, e);
    }
    for (const auto& [number, p] : ours) {
      EXPECT_TRUE(extra_ok.count(number)) << "partition " << number << " is not in the oracle";
    }
  }

  void ExpectWindowMatchesDd(const std::string& path, const Expected& e) {
    ASSERT_EQ(e.start_bytes % 512, 0u);
    std::string ref = dir_ / ("p" + std::to_string(e.number) + ".dd");
    Run({"dd", "if=" + path, "of=" + ref, "bs=512", "skip=" + std::to_string(e.start_bytes / 512),
         "count=" + std::to_string(e.length_bytes / 512), "status=none"});
    std::string want = ReadFile(ref);
    ASSERT_EQ(want.size(), e.length_bytes);
    auto window = NewSliceDevice(dev_.get(), e.start_bytes, e.length_bytes);
    std::string got(e.length_bytes, '\0');
    ASSERT_OK(window->Read(0, std::as_writable_bytes(std::span(got))));
    EXPECT_TRUE(got == want) << "window bytes differ from dd's copy";
  }

  // `sfdisk --json`: partitions by number (from the node name's suffix).
  std::map<uint32_t, Json> SfdiskJson(const std::string& path) {
    Json j = Json::parse(Run({"sfdisk", "--json", path}), nullptr, false);
    std::map<uint32_t, Json> out;
    if (!j.is_object() || !j.contains("partitiontable")) {
      ADD_FAILURE() << "sfdisk --json printed no table";
      return out;
    }
    for (const Json& p : j["partitiontable"]["partitions"]) {
      std::string node = p["node"];
      size_t digits = node.find_last_not_of("0123456789") + 1;
      out[static_cast<uint32_t>(std::stoul(node.substr(digits)))] = p;
    }
    return out;
  }

  static std::vector<Expected> FromSfdisk(const std::map<uint32_t, Json>& parts,
                                          const std::set<uint32_t>& skip = {}) {
    std::vector<Expected> v;
    for (const auto& [n, p] : parts) {
      if (!skip.count(n)) {
        v.push_back({n, p["start"].get<uint64_t>() * 512, p["size"].get<uint64_t>() * 512});
      }
    }
    return v;
  }

  // `parted -m unit B print`: "N:<start>B:<end>B:<size>B:<fs>:<name>:<flags>;".
  struct PartedLine {
    Expected e;
    std::string name;
    std::string flags;
  };
  std::vector<PartedLine> Parted(const std::string& path) {
    std::istringstream in(Run({"parted", "-s", "-m", path, "unit", "B", "print"}));
    std::vector<PartedLine> out;
    std::string line;
    while (std::getline(in, line)) {
      // Partition lines start with a digit and end with ';'.
      if (line.empty() || !std::isdigit(static_cast<unsigned char>(line[0])) ||
          line.back() != ';') {
        continue;
      }
      std::vector<std::string> f;
      std::istringstream fields(line.substr(0, line.size() - 1));
      for (std::string field; std::getline(fields, field, ':');) {
        f.push_back(field);
      }
      f.resize(7);  // num, start, end, size, file system, name, flags
      out.push_back(
          {{static_cast<uint32_t>(std::stoul(f[0])), std::stoull(f[1]), std::stoull(f[3])},
           f[5],
           f[6]});
    }
    return out;
  }

  TempDir dir_;
  Cache cache_{16 * kMiB};
  std::unique_ptr<BlockDevice> dev_;
};

TEST_F(PartitionOracleTest, MbrWithLogicalPartitionsMatchesSfdisk) {
  std::string disk = RandomDisk("mbr.img", 24 * kMiB, 1);
  Sfdisk(disk, "label: dos\n,4M,c,*\n,6M,83\n,,5\n,5M,83\n,3M,82\n,,7\n");
  auto sf = SfdiskJson(disk);
  ASSERT_EQ(sf.size(), 6u);
  PartitionTable t = Read(disk);
  EXPECT_EQ(t.scheme, PartitionScheme::kMbr);
  EXPECT_TRUE(t.notes.empty()) << t.notes.front();
  // sfdisk lists the extended container (3); imgfs leaves it out.
  ASSERT_EQ(sf[3]["type"], "5");
  ExpectMatches(disk, t, FromSfdisk(sf, {3}));
  for (const Partition& p : t.partitions) {
    const Json& s = sf[p.number];
    EXPECT_EQ(std::stoul(p.type.substr(2), nullptr, 16),
              std::stoul(s["type"].get<std::string>(), nullptr, 16));
    EXPECT_EQ(p.bootable, s.value("bootable", false)) << p.number;
  }
}

TEST_F(PartitionOracleTest, GptMatchesSfdiskAndSgdisk) {
  std::string disk = RandomDisk("gpt.img", 24 * kMiB, 2);
  Run({"sgdisk", "-n1:2048:+4M", "-t1:ef00", "-c1:EFI system", "-n2:0:+8M", "-t2:8300",
       "-c2:Donn\xc3\xa9"
       "es",
       "-A2:set:2", "-n4:0:+2M", "-t4:0700", "-c4:data", "-n5:0:+1M", "-t5:8200", "-n6:0:+3M",
       "-t6:af00", "-c6:mac", disk});
  PartitionTable t = Read(disk);
  EXPECT_EQ(t.scheme, PartitionScheme::kGpt);
  EXPECT_TRUE(t.notes.empty()) << t.notes.front();
  auto sf = SfdiskJson(disk);
  ASSERT_EQ(sf.size(), 5u);
  ExpectMatches(disk, t, FromSfdisk(sf));
  for (const Partition& p : t.partitions) {
    SCOPED_TRACE(p.number);
    const Json& s = sf[p.number];
    EXPECT_EQ(p.type, s["type"]);
    EXPECT_EQ(p.guid, s["uuid"]);
    EXPECT_EQ(p.name, s.value("name", ""));
    EXPECT_EQ(p.bootable, s.value("attrs", "").find("LegacyBIOSBootable") != std::string::npos);
  }
  EXPECT_EQ(t.partitions[0].type_name, "EFI System");
  EXPECT_EQ(t.partitions[1].type_name, "Linux filesystem");
  EXPECT_EQ(t.partitions[2].type_name, "Microsoft basic data");
  EXPECT_EQ(t.partitions[3].type_name, "Linux swap");
  EXPECT_EQ(t.partitions[4].type_name, "Apple HFS/HFS+");

  // sgdisk -p: "   N   start   end   size unit   code  name".
  std::istringstream in(Run({"sgdisk", "-p", disk}));
  size_t rows = 0;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    uint32_t n = 0;
    uint64_t first = 0;
    uint64_t last = 0;
    std::string size, unit, code, name;
    if (!(fields >> n >> first >> last >> size >> unit >> code)) {
      continue;  // not a partition row
    }
    std::getline(fields >> std::ws, name);
    ++rows;
    auto it = std::find_if(t.partitions.begin(), t.partitions.end(),
                           [n](const Partition& p) { return p.number == n; });
    ASSERT_NE(it, t.partitions.end()) << line;
    EXPECT_EQ(it->start_bytes, first * 512) << line;
    EXPECT_EQ(it->start_bytes + it->length_bytes, (last + 1) * 512) << line;
    EXPECT_EQ(it->name, name) << line;
  }
  EXPECT_EQ(rows, 5u);
}

TEST_F(PartitionOracleTest, GptFromSfdisk) {
  std::string disk = RandomDisk("sfgpt.img", 16 * kMiB, 3);
  Sfdisk(disk,
         "label: gpt\n"
         "size=4M, type=U, name=\"boot\"\n"
         "size=8M, type=L\n"
         "type=E6D6D379-F507-44C2-A23C-238F2A3DF928\n");
  PartitionTable t = Read(disk);
  auto sf = SfdiskJson(disk);
  ExpectMatches(disk, t, FromSfdisk(sf));
  ASSERT_EQ(t.partitions.size(), 3u);
  EXPECT_EQ(t.partitions[0].name, "boot");
  EXPECT_EQ(t.partitions[2].type_name, "Linux LVM");
}

TEST_F(PartitionOracleTest, GptWithDamagedPrimaryUsesTheBackup) {
  std::string disk = RandomDisk("bad.img", 12 * kMiB, 4);
  Run({"sgdisk", "-n1:2048:+4M", "-t1:8300", "-c1:one", "-n2:0:+5M", "-c2:two", disk});
  auto sf = SfdiskJson(disk);
  ASSERT_EQ(sf.size(), 2u);
  // Damage the primary header (a byte inside its CRC-covered range).
  Run({"sh", "-c",
       "printf 'X' | dd of='" + disk + "' bs=1 seek=$((512 + 40)) conv=notrunc status=none"});
  PartitionTable t = Read(disk);
  EXPECT_EQ(t.scheme, PartitionScheme::kGpt);
  ASSERT_FALSE(t.notes.empty());
  EXPECT_THAT(t.notes[0], HasSubstr("primary header unusable"));
  EXPECT_THAT(t.notes[0], HasSubstr("header CRC32"));
  EXPECT_THAT(t.notes[0],
              HasSubstr("using the backup header at LBA " + std::to_string(12 * kMiB / 512 - 1)));
  ExpectMatches(disk, t, FromSfdisk(sf));
  EXPECT_EQ(t.partitions[1].name, "two");
}

TEST_F(PartitionOracleTest, GptWithDamagedPrimaryArrayUsesTheBackup) {
  std::string disk = RandomDisk("badarray.img", 12 * kMiB, 5);
  Run({"sgdisk", "-n1:2048:+4M", "-n2:0:+5M", disk});
  auto sf = SfdiskJson(disk);
  Run({"sh", "-c",
       "printf 'X' | dd of='" + disk + "' bs=1 seek=$((1024 + 40)) conv=notrunc status=none"});
  PartitionTable t = Read(disk);
  ASSERT_FALSE(t.notes.empty());
  EXPECT_THAT(t.notes[0], HasSubstr("entry array CRC32"));
  ExpectMatches(disk, t, FromSfdisk(sf));
}

TEST_F(PartitionOracleTest, ApmMatchesParted) {
  std::string disk = RandomDisk("mac.img", 16 * kMiB, 6);
  Run({"parted", "-s", disk, "mklabel", "mac", "mkpart", "hfsdata", "hfs+", "1MiB", "9MiB",
       "mkpart", "other", "ext2", "9MiB", "15MiB"});
  PartitionTable t = Read(disk);
  EXPECT_EQ(t.scheme, PartitionScheme::kApm);
  EXPECT_TRUE(t.notes.empty()) << t.notes.front();
  std::vector<Expected> want;
  std::set<uint32_t> free_entries;
  for (const PartedLine& l : Parted(disk)) {
    want.push_back(l.e);
    auto it = std::find_if(t.partitions.begin(), t.partitions.end(),
                           [&l](const Partition& p) { return p.number == l.e.number; });
    ASSERT_NE(it, t.partitions.end());
    EXPECT_EQ(it->name, l.name);
  }
  ASSERT_EQ(want.size(), 3u);  // the map itself, hfsdata, other
  EXPECT_EQ(t.partitions[0].type, "Apple_partition_map");
  EXPECT_EQ(t.partitions[1].type, "Apple_HFS");
  // parted hides free-space entries; imgfs lists them (Linux numbers them).
  for (const Partition& p : t.partitions) {
    if (p.type == "Apple_Free") {
      free_entries.insert(p.number);
    }
  }
  EXPECT_FALSE(free_entries.empty());
  ExpectMatches(disk, t, want, free_entries);
}

TEST_F(PartitionOracleTest, PartedMsdosWithLogicalPartitions) {
  std::string disk = RandomDisk("pm.img", 24 * kMiB, 7);
  Run({"parted", "-s",       disk,     "mklabel", "msdos",      "mkpart",  "primary",
       "fat32",  "1MiB",     "5MiB",   "set",     "1",          "boot",    "on",
       "mkpart", "extended", "5MiB",   "23MiB",   "mkpart",     "logical", "ext4",
       "6MiB",   "10MiB",    "mkpart", "logical", "linux-swap", "11MiB",   "20MiB"});
  PartitionTable t = Read(disk);
  EXPECT_EQ(t.scheme, PartitionScheme::kMbr);
  std::vector<Expected> want;
  for (const PartedLine& l : Parted(disk)) {
    if (l.e.number != 2) {  // the extended container
      want.push_back(l.e);
    }
  }
  ASSERT_EQ(want.size(), 3u);
  ExpectMatches(disk, t, want);
  EXPECT_TRUE(t.partitions[0].bootable);
}

TEST_F(PartitionOracleTest, PartedGpt) {
  std::string disk = RandomDisk("pg.img", 24 * kMiB, 8);
  Run({"parted", "-s",   disk,    "mklabel", "gpt", "mkpart",      "esp",    "fat32",
       "1MiB",   "5MiB", "set",   "1",       "esp", "on",          "mkpart", "root",
       "ext4",   "5MiB", "20MiB", "set",     "2",   "legacy_boot", "on"});
  PartitionTable t = Read(disk);
  std::vector<Expected> want;
  for (const PartedLine& l : Parted(disk)) {
    want.push_back(l.e);
    auto it = std::find_if(t.partitions.begin(), t.partitions.end(),
                           [&l](const Partition& p) { return p.number == l.e.number; });
    ASSERT_NE(it, t.partitions.end());
    EXPECT_EQ(it->name, l.name);
    EXPECT_EQ(it->bootable, l.flags.find("legacy_boot") != std::string::npos);
  }
  ASSERT_EQ(want.size(), 2u);
  ExpectMatches(disk, t, want);
  EXPECT_EQ(t.partitions[0].type_name, "EFI System");
}

TEST_F(PartitionOracleTest, QcowOfAPartitionedDiskReadsTheSameTable) {
  IMGFS_REQUIRE(HaveQemuImg(), "qemu-img");
  std::string disk = RandomDisk("q.img", 16 * kMiB, 9);
  Sfdisk(disk, "label: gpt\nsize=4M, type=L, name=a\ntype=S\n");
  std::string qcow = dir_ / "q.qcow2";
  Run({"qemu-img", "convert", "-f", "raw", "-O", "qcow2", disk, qcow});
  auto sf = SfdiskJson(disk);
  PartitionTable t = Read(qcow);
  EXPECT_EQ(t.scheme, PartitionScheme::kGpt);
  ExpectMatches(disk, t, FromSfdisk(sf));
}

}  // namespace
}  // namespace imgfs::testing
