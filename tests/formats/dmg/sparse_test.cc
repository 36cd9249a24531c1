// SPDX-License-Identifier: MIT
// UDSP (.sparseimage) from bytes and UDSB (.sparsebundle) directories made
// in a temp dir: reads, holes, extents, and one mutation per rule.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/util/endian.h"
#include "formats/dmg/sparsebundle.h"
#include "formats/dmg/sparseimage.h"
#include "formats/open.h"
#include "tests/formats/dmg/test_data.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::dmg {
namespace {

using testing::MixedData;

std::string Str(const std::vector<std::byte>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

// A 10-band disk (4 sectors a band) storing disk bands 7 and 2, in that
// order; the last stored band is short (reads zero-padded).
struct SparseSample {
  std::vector<std::byte> file;
  std::vector<std::byte> disk;
};

SparseSample MakeSparse() {
  SparseSample s;
  SparseHeader h;
  h.sectors_per_band = 4;
  h.sector_count = 40;
  h.band_numbers = {7, 2};
  s.file = EncodeSparseHeader(h);
  s.disk.resize(40 * 512);
  std::vector<std::byte> b7 = MixedData(2048, 7);
  std::vector<std::byte> b2 = MixedData(1000, 2);
  s.file.insert(s.file.end(), b7.begin(), b7.end());
  s.file.insert(s.file.end(), b2.begin(), b2.end());
  std::memcpy(s.disk.data() + 6 * 2048, b7.data(), b7.size());
  std::memcpy(s.disk.data() + 1 * 2048, b2.data(), b2.size());
  return s;
}

TEST(SparseImageTest, ReadsBandsAndHoles) {
  SparseSample s = MakeSparse();
  Cache cache(1 << 20);
  auto dev = OpenImageFile(NewMemoryFile("t.sparseimage", Str(s.file)), OpenOptions{}, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Describe().format, "sparseimage");
  EXPECT_TRUE(imgfs::testing::DeviceMatches(**dev, Str(s.disk)));
  std::vector<Extent> ext;
  ASSERT_OK(CollectExtents(**dev, 0, (*dev)->Size(), &ext));
  ASSERT_EQ(ext.size(), 5u);
  EXPECT_EQ(ext[1].kind, ExtentKind::kData);
  EXPECT_EQ(ext[1].offset, 2048u);
  EXPECT_EQ(*ext[1].host_offset, 4096u + 2048u);
  EXPECT_EQ(ext[2].kind, ExtentKind::kUnallocated);
}

TEST(SparseImageTest, HeaderMutations) {
  const std::vector<std::byte> good = MakeSparse().file;
  EXPECT_OK(DecodeSparseHeader(good));
  auto mutate = [&](size_t at, uint32_t v) {
    auto b = good;
    StoreBE32(b.data() + at, v);
    return DecodeSparseHeader(b);
  };
  EXPECT_CODE(DecodeSparseHeader(std::span(good).first(4095)), kCorrupt);
  EXPECT_CODE(mutate(0, 0), kCorrupt);         // signature
  EXPECT_CODE(mutate(8, 0), kCorrupt);         // zero band size
  EXPECT_CODE(mutate(8, 1u << 30), kCorrupt);  // absurd band size
  EXPECT_CODE(mutate(64, 11), kCorrupt);       // band past the disk
  EXPECT_CODE(mutate(68, 7), kCorrupt);        // band stored twice
  Cache cache(1 << 20);
  auto b = good;
  b.resize(4096 + 2000 * 2048);  // more bands than the header maps
  EXPECT_CODE(OpenSparseImage(NewMemoryFile("t", Str(b)), &cache), kUnsupported);
}

constexpr const char* kInfo = R"(<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>CFBundleInfoDictionaryVersion</key>
	<string>6.0</string>
	<key>band-size</key>
	<integer>8192</integer>
	<key>bundle-backingstore-version</key>
	<integer>1</integer>
	<key>diskimage-bundle-type</key>
	<string>com.apple.diskimage.sparsebundle</string>
	<key>size</key>
	<integer>40960</integer>
</dict>
</plist>
)";

TEST(SparseBundleTest, ReadsBandsMissingAndShort) {
  imgfs::testing::TempDir dir;
  const std::string b = dir.Join("x.sparsebundle");
  std::filesystem::create_directories(b + "/bands");
  imgfs::testing::WriteWholeFile(b + "/Info.plist", kInfo);
  imgfs::testing::WriteWholeFile(b + "/token", "");
  std::vector<std::byte> disk(40960);
  std::vector<std::byte> b0 = MixedData(8192, 1);
  std::vector<std::byte> b3 = MixedData(3000, 3);  // short band
  imgfs::testing::WriteWholeFile(b + "/bands/0", Str(b0));
  imgfs::testing::WriteWholeFile(b + "/bands/3", Str(b3));
  std::memcpy(disk.data(), b0.data(), b0.size());
  std::memcpy(disk.data() + 3 * 8192, b3.data(), b3.size());
  EXPECT_TRUE(IsSparseBundle(b));
  EXPECT_FALSE(IsSparseBundle(dir.path()));
  Cache cache(1 << 20);
  auto dev = OpenImage(b, OpenOptions{}, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Size(), 40960u);
  EXPECT_EQ((*dev)->Describe().format, "sparsebundle");
  EXPECT_TRUE(imgfs::testing::DeviceMatches(**dev, Str(disk)));
  std::vector<Extent> ext;
  ASSERT_OK(CollectExtents(**dev, 0, (*dev)->Size(), &ext));
  ASSERT_EQ(ext.size(), 4u);
  EXPECT_EQ(ext[1].kind, ExtentKind::kUnallocated);
  EXPECT_EQ(ext[1].length, 2u * 8192);

  imgfs::testing::WriteWholeFile(b + "/token", "encrcdsa and more");
  EXPECT_CODE(OpenImage(b, OpenOptions{}, &cache), kUnsupported);
}

TEST(SparseBundleTest, InfoMutations) {
  EXPECT_OK(ParseSparseBundleInfo(kInfo));
  auto with = [](const std::string& from, const std::string& to) {
    std::string s = kInfo;
    s.replace(s.find(from), from.size(), to);
    return ParseSparseBundleInfo(s);
  };
  EXPECT_CODE(with("<integer>8192</integer>", "<integer>0</integer>"), kCorrupt);
  EXPECT_CODE(with("<integer>8192</integer>", "<integer>4294967296000</integer>"), kCorrupt);
  EXPECT_CODE(with("<integer>40960</integer>", "<integer>-1</integer>"), kCorrupt);
  EXPECT_CODE(with("<integer>40960</integer>", "<string>x</string>"), kCorrupt);
  EXPECT_CODE(with("<integer>1</integer>", "<integer>3</integer>"), kUnsupported);
  EXPECT_CODE(with("com.apple.diskimage.sparsebundle", "com.example.other"), kUnsupported);
  EXPECT_CODE(ParseSparseBundleInfo("<plist><dict/>"), kCorrupt);
}

}  // namespace
}  // namespace imgfs::dmg
