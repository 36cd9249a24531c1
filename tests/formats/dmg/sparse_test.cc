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
  auto wide = good;
  StoreBE64(wide.data() + 28, (uint64_t{1} << 32) + 41);  // low half disagrees with 0x10
  EXPECT_CODE(DecodeSparseHeader(wide), kCorrupt);
  StoreBE64(wide.data() + 28, uint64_t{1} << 60);  // absurd
  StoreBE32(wide.data() + 16, 0);
  EXPECT_CODE(DecodeSparseHeader(wide), kCorrupt);
  Cache cache(1 << 20);
  auto b = good;
  StoreBE32(b.data() + 64, 9);  // slot 0 stores band 9 ...
  b.resize(4096);               // ... but the file ends before it
  EXPECT_CODE(OpenSparseImage(NewMemoryFile("t", Str(b)), &cache), kCorrupt);
}

// More bands than the header's 1008 slots: 512-byte bands on a 2600-band
// disk, stored in shuffled order through the header and two index nodes
// (1008 + 1010 + 300 bands; the rest of the disk is never written).
struct ChainedSample {
  std::vector<std::byte> file;
  std::vector<std::byte> disk;
  size_t node1 = 0;  // file offsets of the index nodes
  size_t node2 = 0;
  size_t stored = 0;  // bands stored (some slots are left empty)
};

ChainedSample MakeChained() {
  constexpr size_t kBand = 512;
  constexpr uint32_t kDiskBands = 2600;
  std::vector<uint32_t> order(kDiskBands);
  for (uint32_t i = 0; i < kDiskBands; ++i) {
    order[i] = i + 1;
  }
  uint32_t x = 12345;  // deterministic shuffle
  for (size_t i = order.size() - 1; i > 0; --i) {
    x = x * 1103515245u + 12345u;
    std::swap(order[i], order[x % (i + 1)]);
  }
  const size_t counts[3] = {1008, 1010, 300};
  ChainedSample s;
  s.disk.resize(kDiskBands * kBand);
  SparseHeader h;
  h.sectors_per_band = 1;
  h.sector_count = kDiskBands;
  SparseIndexNode n1;
  SparseIndexNode n2;
  n2.number = 1;
  size_t next = 0;
  std::vector<uint32_t>* slots[3] = {&h.band_numbers, &n1.band_numbers, &n2.band_numbers};
  for (int node = 0; node < 3; ++node) {
    for (size_t i = 0; i < counts[node]; ++i) {
      const bool empty = i % 97 == 5;  // a few empty slots
      slots[node]->push_back(empty ? 0 : order[next++]);
      s.stored += !empty;
    }
  }
  s.node1 = 4096 + 1008 * kBand;
  s.node2 = s.node1 + 4096 + 1010 * kBand;
  h.next_node = s.node1;
  n1.next_node = s.node2;
  auto append_node = [&](std::vector<std::byte> node, const std::vector<uint32_t>& bands,
                         size_t slot_count) {
    s.file.insert(s.file.end(), node.begin(), node.end());
    for (size_t i = 0; i < slot_count; ++i) {
      const uint32_t b = i < bands.size() ? bands[i] : 0;
      std::vector<std::byte> data = MixedData(kBand, b);
      if (b != 0) {
        std::memcpy(s.disk.data() + (b - 1) * kBand, data.data(), kBand);
      }
      s.file.insert(s.file.end(), data.begin(), data.end());
    }
  };
  append_node(EncodeSparseHeader(h), h.band_numbers, 1008);
  append_node(EncodeSparseIndexNode(n1), n1.band_numbers, 1010);
  append_node(EncodeSparseIndexNode(n2), n2.band_numbers, 300);
  return s;
}

TEST(SparseImageTest, ReadsBandsThroughIndexNodes) {
  ChainedSample s = MakeChained();
  Cache cache(1 << 20);
  auto dev = OpenImageFile(NewMemoryFile("t.sparseimage", Str(s.file)), OpenOptions{}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(imgfs::testing::DeviceMatches(**dev, Str(s.disk)));
  const nlohmann::json data = (*dev)->Describe().format_specific["data"];
  EXPECT_EQ(data["index-nodes"], 2);
  EXPECT_EQ(data["bands-stored"], s.stored);
  std::vector<Extent> ext;
  ASSERT_OK(CollectExtents(**dev, 0, (*dev)->Size(), &ext));
  uint64_t data_bytes = 0;
  for (const Extent& e : ext) {
    data_bytes += e.kind == ExtentKind::kData ? e.length : 0;
  }
  EXPECT_EQ(data_bytes, s.stored * 512u);
}

TEST(SparseImageTest, IndexNodeMutations) {
  const ChainedSample s = MakeChained();
  Cache cache(1 << 20);
  auto open = [&](const std::vector<std::byte>& f) {
    return OpenSparseImage(NewMemoryFile("t", Str(f)), &cache);
  };
  ASSERT_OK(open(s.file));
  auto with = [&](size_t at, uint64_t v, bool wide) {
    auto f = s.file;
    wide ? StoreBE64(f.data() + at, v) : StoreBE32(f.data() + at, static_cast<uint32_t>(v));
    return f;
  };
  EXPECT_CODE(open(with(20, s.file.size(), true)), kCorrupt);      // node past the end
  EXPECT_CODE(open(with(20, s.node1 - 512, true)), kCorrupt);      // node over a header band
  EXPECT_CODE(open(with(s.node1 + 12, s.node1, true)), kCorrupt);  // node points at itself
  EXPECT_CODE(open(with(s.node2 + 12, s.node1, true)), kCorrupt);  // chain goes back
  EXPECT_CODE(open(with(s.node1 + 56, 2601, false)), kCorrupt);    // band past the disk
  EXPECT_CODE(open(with(s.node2 + 56, LoadBE32(s.file.data() + 64), false)),
              kCorrupt);                                                // stored twice
  EXPECT_CODE(open(with(s.node2 + 56 + 4 * 400, 1, false)), kCorrupt);  // slot past the end
  auto cut = s.file;
  cut.resize(s.node2 + 100);  // the last node is truncated
  EXPECT_CODE(open(cut), kCorrupt);
  EXPECT_OK(open(with(s.node2 + 12, 0, true)));  // a shorter chain is still an image
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
