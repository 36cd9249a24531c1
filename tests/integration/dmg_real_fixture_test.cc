// SPDX-License-Identifier: MIT
// DMGs that Apple's hdiutil made, not this project (tests/data/dmg-real/,
// listed in dmg_real_fixtures.h): each is opened through the core and must
// read as the SHA-256 that tests/data/README.md records, and byte for byte
// as the independent readers decode the same file at test time: `7zz x
// -tdmg` (one file per blkx table, compared at its offset), `dmg2img` and
// `qemu-img convert -f dmg -O raw` where they read the image right (see
// RealDmg), and the MD5 that the image's own project's tests expect of the
// disk where they have one. Every test counts its comparisons and asserts
// the count, so an oracle that silently did nothing fails; under CI=true a
// missing tool fails instead of skipping. `check` must verify every CRC-32,
// `info` must name the variant and the blkx count, and the partition table
// read from the disk must be the one `sfdisk --json` reads from the
// oracles' output.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "core/partition/partition_table.h"
#include "formats/open.h"
#include "tests/integration/dmg_real_fixtures.h"
#include "tests/testing/oracles.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::testing {
namespace {

using Json = nlohmann::json;

std::string PrintName(const ::testing::TestParamInfo<RealDmg>& info) {
  std::string name = info.param.stem;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

// The digest of `path` in hex, by `tool` (sha256sum, md5sum).
std::string DigestOfFile(const std::string& tool, const std::string& path) {
  std::string out;
  EXPECT_EQ(RunIn(".", tool + " < " + ShellQuote(path), &out), 0) << out;
  return out.substr(0, out.find(' '));
}
std::string Sha256OfFile(const std::string& path) { return DigestOfFile("sha256sum", path); }

class RealDmgTest : public ::testing::TestWithParam<RealDmg> {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE_TOOL("xz");
    IMGFS_REQUIRE_TOOL("sha256sum");
    const RealDmg& d = GetParam();
    image_ = dir_.Join(std::string(d.stem) + ".dmg");
    ASSERT_TRUE(
        Sh(dir_.path(), "xz -dc " + ShellQuote(RealDmgXzPath(d)) + " > " + ShellQuote(image_)));
    ASSERT_EQ(Sha256OfFile(image_), d.dmg_sha256) << "not the file tests/data/README.md lists";
    auto dev = OpenImage(image_, OpenOptions{}, &cache_);
    ASSERT_OK(dev);
    dev_ = std::move(*dev);
    disk_.resize(dev_->Size());
    ASSERT_OK(dev_->Read(0, std::as_writable_bytes(std::span(disk_))));
  }

  // What `imgfs ARGS image` prints on stdout; a non-zero exit fails.
  std::string Imgfs(const std::string& args, int want_exit = 0) {
    std::string out;
    EXPECT_EQ(RunIn(dir_.path(),
                    ImgfsBinary() + " " + args + " " + ShellQuote(image_) + " 2>/dev/null", &out),
              want_exit)
        << args << ": " << out;
    return out;
  }

  TempDir dir_;
  Cache cache_{8 << 20};
  std::string image_;
  std::unique_ptr<BlockDevice> dev_;
  std::string disk_;  // the whole disk as the core reads it
};

TEST_P(RealDmgTest, ReadsAsTheReadmeAndEveryOracleSay) {
  const RealDmg& d = GetParam();
  IMGFS_REQUIRE_TOOL("7zz");
  if (d.dmg2img_reads) {
    IMGFS_REQUIRE_TOOL("dmg2img");
  }
  if (d.qemu_reads) {
    IMGFS_REQUIRE_TOOL("qemu-img");
  }
  size_t compared = 0;
  ASSERT_EQ(disk_.size(), d.virtual_bytes);
  WriteWholeFile(dir_.Join("ours.raw"), disk_);
  EXPECT_EQ(Sha256OfFile(dir_.Join("ours.raw")), d.raw_sha256);
  ++compared;
  if (d.upstream_md5 != nullptr) {
    IMGFS_REQUIRE_TOOL("md5sum");
    EXPECT_EQ(DigestOfFile("md5sum", dir_.Join("ours.raw")), d.upstream_md5);
    ++compared;
  }

  // 7-Zip: one file per blkx table, "<index>.<name>", laid end to end; any
  // warning (a CRC it could not match) or error fails.
  std::vector<ExtractedFile> files;
  ASSERT_TRUE(SevenZipExtractDmg(image_, &files));
  std::sort(files.begin(), files.end(), [](const ExtractedFile& a, const ExtractedFile& b) {
    return std::stoul(a.name) < std::stoul(b.name);
  });
  EXPECT_EQ(files.size(), d.blkx_count);
  size_t at = 0;
  for (const ExtractedFile& f : files) {
    ASSERT_LE(at + f.bytes.size(), disk_.size()) << f.name;
    EXPECT_TRUE(disk_.compare(at, f.bytes.size(), f.bytes) == 0) << f.name << " at " << at;
    at += f.bytes.size();
    ++compared;
  }
  EXPECT_EQ(at, disk_.size());

  if (d.dmg2img_reads) {
    std::string ref;
    ASSERT_TRUE(Dmg2imgRaw(image_, &ref));
    EXPECT_TRUE(DeviceMatches(*dev_, ref));
    ++compared;
  }
  if (d.qemu_reads) {
    std::string ref;
    ASSERT_TRUE(QemuImgRaw(image_, "dmg", &ref));
    EXPECT_TRUE(DeviceMatches(*dev_, ref));
    ++compared;
  }
  EXPECT_EQ(compared, 1 + (d.upstream_md5 != nullptr ? 1 : 0) + d.blkx_count +
                          (d.dmg2img_reads ? 1 : 0) + (d.qemu_reads ? 1 : 0));
}

TEST_P(RealDmgTest, CheckVerifiesEveryCrc32) {
  const RealDmg& d = GetParam();
  auto report = dev_->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->errors.empty()) << ::testing::PrintToString(report->errors);
  EXPECT_TRUE(report->warnings.empty()) << ::testing::PrintToString(report->warnings);
  auto count = [&](const std::string& prefix, const std::string& has) {
    return std::count_if(report->checked.begin(), report->checked.end(), [&](const auto& line) {
      return line.rfind(prefix, 0) == 0 && line.find(has) != std::string::npos;
    });
  };
  // Every table, the master checksum and (where the koly has one) the data
  // fork are CRC-32 and were computed, not skipped.
  EXPECT_EQ(count("blkx ", " crc32 0x"), static_cast<long>(d.blkx_count))
      << ::testing::PrintToString(report->checked);
  EXPECT_EQ(count("master crc32 0x", ""), 1);
  EXPECT_EQ(count("data fork crc32 0x", ""), d.data_fork_crc ? 1 : 0);
  EXPECT_EQ(count("data fork has no checksum", ""), d.data_fork_crc ? 0 : 1);

  const std::string out = Imgfs("check");
  EXPECT_NE(out.find("No errors were found on the image."), std::string::npos) << out;
}

TEST_P(RealDmgTest, InfoNamesTheVariantAndTables) {
  const RealDmg& d = GetParam();
  Json j = Json::parse(Imgfs("info --json"), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["format"], "dmg");
  EXPECT_EQ(j["virtual-size"], d.virtual_bytes);
  Json& data = j["format-specific"]["data"];
  EXPECT_EQ(data["variant"], d.variant);
  EXPECT_EQ(data["blkx"].size(), d.blkx_count);
  EXPECT_NE(Imgfs("info").find("variant: " + std::string(d.variant)), std::string::npos);
}

// The table the core reads from the disk (what `mount --partitions` and
// `info` use) against `sfdisk --json` on the same raw bytes (which the
// first test holds to the README hash and the oracles).
TEST_P(RealDmgTest, PartitionTableMatchesSfdisk) {
  const RealDmg& d = GetParam();
  IMGFS_REQUIRE_TOOL("sfdisk");
  auto table = ReadPartitionTable(*dev_);
  ASSERT_OK(table);
  EXPECT_EQ(SchemeName(table->scheme), d.scheme);
  EXPECT_TRUE(table->notes.empty()) << ::testing::PrintToString(table->notes);
  ASSERT_EQ(table->partitions.size(), d.partition_count);
  WriteWholeFile(dir_.Join("disk.raw"), disk_);
  std::string out;
  const int status = RunIn(dir_.path(), "sfdisk --json disk.raw 2>/dev/null", &out);
  if (d.partition_count == 0) {
    EXPECT_NE(status, 0) << "sfdisk found a table: " << out;
    return;
  }
  ASSERT_EQ(status, 0) << out;
  Json parsed = Json::parse(out, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << out;
  Json& sf = parsed["partitiontable"];
  EXPECT_EQ(sf["label"], d.scheme == std::string("mbr") ? "dos" : "gpt");
  Json& parts = sf["partitions"];
  ASSERT_EQ(parts.size(), table->partitions.size());
  size_t compared = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    Json& s = parts[i];
    const Partition& p = table->partitions[i];
    EXPECT_EQ(p.start_bytes, s["start"].get<uint64_t>() * 512) << i;
    EXPECT_EQ(p.length_bytes, s["size"].get<uint64_t>() * 512) << i;
    if (table->scheme == PartitionScheme::kMbr) {
      EXPECT_EQ(std::stoul(p.type, nullptr, 16),
                std::stoul(s["type"].get<std::string>(), nullptr, 16));
    } else {
      EXPECT_EQ(p.type, s["type"]);
      EXPECT_EQ(p.guid, s["uuid"]);
      EXPECT_EQ(p.name, s["name"]);
    }
    ++compared;
  }
  EXPECT_EQ(compared, d.partition_count);
}

INSTANTIATE_TEST_SUITE_P(Hdiutil, RealDmgTest, ::testing::ValuesIn(kRealDmgs), PrintName);

// node-udif's four compression-* images are one disk written with ADC,
// bzip2, raw and zlib chunks: all four must decode to the same bytes.
TEST(RealDmgCodecs, FourCodecsDecodeOneDisk) {
  IMGFS_REQUIRE_TOOL("xz");
  TempDir dir;
  Cache cache(8 << 20);
  std::vector<std::string> disks;
  for (const RealDmg& d : kRealDmgs) {
    if (std::string(d.raw_sha256) != kNodeUdifDiskSha256) {
      continue;
    }
    const std::string image = dir.Join(std::string(d.stem) + ".dmg");
    ASSERT_TRUE(
        Sh(dir.path(), "xz -dc " + ShellQuote(RealDmgXzPath(d)) + " > " + ShellQuote(image)));
    auto dev = OpenImage(image, OpenOptions{}, &cache);
    ASSERT_OK(dev);
    std::string disk((*dev)->Size(), '\0');
    ASSERT_OK((*dev)->Read(0, std::as_writable_bytes(std::span(disk))));
    disks.push_back(std::move(disk));
  }
  ASSERT_EQ(disks.size(), 4u);
  for (size_t i = 1; i < disks.size(); ++i) {
    EXPECT_TRUE(disks[i] == disks[0]) << kRealDmgs[i].stem;
  }
}

}  // namespace
}  // namespace imgfs::testing
