// SPDX-License-Identifier: MIT
// The qcow2 checker on small in-memory images: persistent bitmaps (directory
// decoding, one mutation per rule), the copied flag of compressed entries,
// counting in windows, and unknown feature names for `info`.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "formats/qcow2/bitmaps.h"
#include "formats/qcow2/device.h"
#include "tests/formats/qcow2/image_builder.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::qcow2 {
namespace {

using testing::MiniImage;
using testing::Put16;
using testing::Put32;
using testing::Put64;
using testing::PutBytes;

// MiniImage plus one bitmap "b0" of 512-byte granularity: the 64 KiB disk
// needs 128 bits, so one table entry pointing at one data cluster.
//   0x070 bitmaps extension
//   0xc00 bitmap directory (one 32-byte entry)
//   0xe00 bitmap table (1 entry)
//   0x1000 bitmap data
struct BitmapImage : MiniImage {
  static constexpr uint64_t kExt = 112;
  static constexpr uint64_t kDir = 0xc00;
  static constexpr uint64_t kTable = 0xe00;
  static constexpr uint64_t kBitmapData = 0x1000;

  BitmapImage() {
    bytes.resize(kBitmapData + 512);
    std::string ext(24, '\0');
    Put32(&ext, 0, 1);      // nb_bitmaps
    Put64(&ext, 8, 32);     // directory size
    Put64(&ext, 16, kDir);  // directory offset
    AddExtension(kExt, kExtBitmaps, ext);
    SetHeader64(kAutoclearFeaturesOffset, kAutoclearBitmaps);
    Put64(&bytes, kDir, kTable);
    Put32(&bytes, kDir + 8, 1);             // table entries
    Put32(&bytes, kDir + 12, kBitmapAuto);  // flags
    bytes[kDir + 16] = 1;                   // dirty tracking
    bytes[kDir + 17] = 9;                   // granularity 512
    Put16(&bytes, kDir + 18, 2);            // name size
    PutBytes(&bytes, kDir + 24, "b0");
    Put64(&bytes, kTable, kBitmapData);
    bytes[kBitmapData] = '\x01';
    for (uint64_t c = 6; c <= 8; ++c) {
      Put16(&bytes, kRefBlock + 2 * c, 1);
    }
  }
};

Result<CheckReport> CheckBytes(const std::string& bytes, uint64_t window_clusters = 1u << 24) {
  CheckOptions options;
  options.window_clusters = window_clusters;
  return CheckImageFile(NewMemoryFile("t.qcow2", bytes), options);
}

std::string First(const CheckReport& r) {
  return r.errors.empty() ? (r.warnings.empty() ? "" : r.warnings[0]) : r.errors[0];
}

bool Mentions(const std::vector<std::string>& list, const std::string& what) {
  for (const std::string& s : list) {
    if (s.find(what) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(Qcow2CheckTest, BitmapClustersAreCounted) {
  BitmapImage img;
  auto report = CheckBytes(img.bytes);
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean()) << First(*report);
  EXPECT_TRUE(Mentions(report->checked, "1 persistent bitmap"));
}

TEST(Qcow2CheckTest, StaleBitmapsAreLeaksLikeQemu) {
  BitmapImage img;
  img.SetHeader64(kAutoclearFeaturesOffset, 0);
  auto report = CheckBytes(img.bytes);
  ASSERT_OK(report);
  EXPECT_TRUE(report->errors.empty()) << First(*report);
  EXPECT_EQ(report->warnings.size(), 3u);  // directory, table, data
}

TEST(Qcow2CheckTest, DroppedBitmapTableEntryLeaksItsCluster) {
  BitmapImage img;
  Put64(&img.bytes, BitmapImage::kTable, 0);
  auto report = CheckBytes(img.bytes);
  ASSERT_OK(report);
  EXPECT_TRUE(report->errors.empty()) << First(*report);
  ASSERT_EQ(report->warnings.size(), 1u);
  EXPECT_NE(report->warnings[0].find("leaked cluster 8"), std::string::npos);
}

// One mutation per rule; each one is an error.
TEST(Qcow2CheckTest, BitmapMutationsAreErrors) {
  struct Case {
    const char* name;
    void (*edit)(std::string*);
    const char* expect;
  };
  const Case kCases[] = {
      {"table entry past end of file",
       [](std::string* b) { Put64(b, BitmapImage::kTable, uint64_t{1} << 40); },
       "past end of file"},
      {"table entry on the L1 table", [](std::string* b) { Put64(b, BitmapImage::kTable, 0x200); },
       "refcount=1 reference=2"},
      {"table entry with bit 8", [](std::string* b) { Put64(b, BitmapImage::kTable, 0x1100); },
       "reserved bits"},
      {"table entry reserved bits",
       [](std::string* b) { Put64(b, BitmapImage::kTable, BitmapImage::kBitmapData | 2); },
       "reserved bits"},
      {"table entry all-ones with an offset",
       [](std::string* b) { Put64(b, BitmapImage::kTable, BitmapImage::kBitmapData | 1); },
       "reserved bits"},
      {"directory unaligned", [](std::string* b) { Put64(b, BitmapImage::kExt + 24, 0xc08); },
       "not cluster aligned"},
      {"directory past end of file",
       [](std::string* b) { Put64(b, BitmapImage::kExt + 24, uint64_t{1} << 40); },
       "past end of file"},
      {"directory size zero", [](std::string* b) { Put64(b, BitmapImage::kExt + 16, 0); },
       "has size 0"},
      {"directory size too big",
       [](std::string* b) { Put64(b, BitmapImage::kExt + 16, uint64_t{1} << 32); }, "has size"},
      {"more bitmaps than entries", [](std::string* b) { Put32(b, BitmapImage::kExt + 8, 2); },
       "holds 1 bitmaps"},
      {"no bitmaps", [](std::string* b) { Put32(b, BitmapImage::kExt + 8, 0); }, "lists 0"},
      {"reserved field", [](std::string* b) { Put32(b, BitmapImage::kExt + 12, 1); },
       "reserved field"},
      {"short extension", [](std::string* b) { Put32(b, BitmapImage::kExt + 4, 16); },
       "has 16 bytes"},
      {"entry longer than the directory",
       [](std::string* b) { Put16(b, BitmapImage::kDir + 18, 9); }, "extends past the directory"},
      {"table pointer unaligned", [](std::string* b) { Put64(b, BitmapImage::kDir, 0xe08); },
       "not a cluster boundary"},
      {"table pointer zero", [](std::string* b) { Put64(b, BitmapImage::kDir, 0); },
       "not a cluster boundary"},
      {"table pointer past end of file",
       [](std::string* b) { Put64(b, BitmapImage::kDir, uint64_t{1} << 40); }, "past end of file"},
      {"table too long", [](std::string* b) { Put32(b, BitmapImage::kDir + 8, 2); }, "need 1"},
      {"table size zero", [](std::string* b) { Put32(b, BitmapImage::kDir + 8, 0); },
       "table of 0 entries"},
      {"reserved flags", [](std::string* b) { Put32(b, BitmapImage::kDir + 12, 8); },
       "reserved flags"},
      {"unknown type", [](std::string* b) { (*b)[BitmapImage::kDir + 16] = 2; }, "unknown type"},
      {"granularity too small", [](std::string* b) { (*b)[BitmapImage::kDir + 17] = 8; },
       "granularity bits 8"},
      {"granularity too large", [](std::string* b) { (*b)[BitmapImage::kDir + 17] = 64; },
       "granularity bits 64"},
      {"empty name",
       [](std::string* b) {
         Put16(b, BitmapImage::kDir + 18, 0);
         Put64(b, BitmapImage::kExt + 16, 24);
       },
       "name of 0 bytes"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    BitmapImage img;
    c.edit(&img.bytes);
    auto report = CheckBytes(img.bytes);
    ASSERT_OK(report);
    ASSERT_FALSE(report->errors.empty());
    EXPECT_TRUE(Mentions(report->errors, c.expect)) << report->errors[0];
  }
}

TEST(Qcow2CheckTest, DuplicateBitmapNamesAreAnError) {
  BitmapImage img;
  std::string& b = img.bytes;
  // A second entry "b0" sharing nothing: its own table at 0x1200 with an
  // unallocated (all zeros) entry.
  Put32(&b, BitmapImage::kExt + 8, 2);
  Put64(&b, BitmapImage::kExt + 16, 64);
  std::string entry = b.substr(BitmapImage::kDir, 32);
  Put64(&entry, 0, 0x1200);
  PutBytes(&b, BitmapImage::kDir + 32, entry);
  b.resize(0x1400);
  Put16(&b, MiniImage::kRefBlock + 2 * 9, 1);
  auto report = CheckBytes(b);
  ASSERT_OK(report);
  EXPECT_TRUE(Mentions(report->errors, "used twice")) << First(*report);
  // With another name the image is clean.
  b[BitmapImage::kDir + 32 + 25] = '1';
  report = CheckBytes(b);
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean()) << First(*report);
}

TEST(Qcow2CheckTest, DecodeBitmapDirectoryFromBytes) {
  std::string dir(32, '\0');
  Put64(&dir, 0, 0x10000);
  Put32(&dir, 8, 3);
  Put32(&dir, 12, kBitmapInUse | kBitmapAuto);
  dir[16] = 1;
  dir[17] = 16;
  Put16(&dir, 18, 3);
  Put32(&dir, 20, 2);  // extra data before the name
  PutBytes(&dir, 26, "abc");
  auto span = std::span(reinterpret_cast<const std::byte*>(dir.data()), dir.size());
  auto entries = DecodeBitmapDirectory(span, 0x5000, 1);
  ASSERT_OK(entries);
  ASSERT_EQ(entries->size(), 1u);
  const BitmapEntry& e = (*entries)[0];
  EXPECT_EQ(e.entry_offset, 0x5000u);
  EXPECT_EQ(e.table_offset, 0x10000u);
  EXPECT_EQ(e.table_entries, 3u);
  EXPECT_EQ(e.flags, kBitmapInUse | kBitmapAuto);
  EXPECT_EQ(e.granularity_bits, 16);
  EXPECT_EQ(e.extra_data_bytes, 2u);
  EXPECT_EQ(e.name, "abc");
  EXPECT_CODE(DecodeBitmapDirectory(span, 0x5000, 2), kCorrupt);            // too few entries
  EXPECT_CODE(DecodeBitmapDirectory(span.first(24), 0x5000, 1), kCorrupt);  // truncated
  EXPECT_CODE(DecodeBitmapDirectory(span.first(20), 0x5000, 1), kCorrupt);  // no fixed part
  Put32(&dir, 20, 5000);  // extra data beyond the cap
  EXPECT_CODE(DecodeBitmapDirectory(span, 0x5000, 1), kCorrupt);
}

TEST(Qcow2CheckTest, BitmapTableEntriesNeeded) {
  // 64 KiB at 512 B per bit: 128 bits, 16 bytes, one cluster.
  EXPECT_EQ(BitmapTableEntriesNeeded(64 * 1024, 9, 9), 1u);
  // 1 TiB at 64 KiB per bit: 2 MiB of bitmap, 32 clusters of 64 KiB.
  EXPECT_EQ(BitmapTableEntriesNeeded(uint64_t{1} << 40, 16, 16), 32u);
  EXPECT_EQ(BitmapTableEntriesNeeded((uint64_t{1} << 40) + 1, 16, 16), 33u);
  EXPECT_EQ(BitmapTableEntriesNeeded(UINT64_MAX, 63, 9), 1u);
}

TEST(Qcow2CheckTest, CompressedEntryWithCopiedFlagIsAnError) {
  MiniImage img;
  // Guest cluster 2: a compressed stream at the data cluster's start
  // (content is not read by the checker); cluster 5 then has 2 references.
  Put64(&img.bytes, MiniImage::kL2 + 16, kL2Compressed | kCopied | MiniImage::kData);
  Put64(&img.bytes, MiniImage::kL2, 0);
  auto report = CheckBytes(img.bytes);
  ASSERT_OK(report);
  EXPECT_TRUE(Mentions(report->errors, "compressed but has the copied flag set")) << First(*report);
  Put64(&img.bytes, MiniImage::kL2 + 16, kL2Compressed | MiniImage::kData);
  report = CheckBytes(img.bytes);
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean()) << First(*report);
}

// Every window size finds the same problems as one window.
TEST(Qcow2CheckTest, WindowsAgreeWithOneWindow) {
  std::vector<std::string> images;
  images.push_back(BitmapImage().bytes);
  MiniImage overlap;
  Put64(&overlap.bytes, MiniImage::kL2 + 16, MiniImage::kData | kCopied);
  images.push_back(overlap.bytes);
  MiniImage leak;
  Put64(&leak.bytes, MiniImage::kL2, 0);
  images.push_back(leak.bytes);
  BitmapImage bitmap_overlap;
  Put64(&bitmap_overlap.bytes, BitmapImage::kTable, MiniImage::kL2);
  images.push_back(bitmap_overlap.bytes);
  for (size_t i = 0; i < images.size(); ++i) {
    SCOPED_TRACE(i);
    auto whole = CheckBytes(images[i]);
    ASSERT_OK(whole);
    for (uint64_t window : {1, 2, 3, 5}) {
      SCOPED_TRACE(window);
      auto windowed = CheckBytes(images[i], window);
      ASSERT_OK(windowed);
      EXPECT_EQ(windowed->errors, whole->errors);
      EXPECT_EQ(windowed->warnings, whole->warnings);
      EXPECT_TRUE(Mentions(windowed->checked, "windows"));
    }
  }
}

TEST(Qcow2CheckTest, UnknownFeaturesAreNamed) {
  MiniImage img;
  img.SetHeader64(kCompatibleFeaturesOffset, kCompatLazyRefcounts | (1u << 5) | (1u << 9));
  img.SetHeader64(kAutoclearFeaturesOffset, kAutoclearBitmaps | (uint64_t{1} << 40));
  std::string names(96, '\0');
  names[0] = 1;  // compatible
  names[1] = 5;
  PutBytes(&names, 2, "future compat");
  names[48] = 2;  // autoclear
  names[49] = 40;
  PutBytes(&names, 50, "future autoclear");
  img.AddExtension(112, kExtFeatureNames, names);
  auto h = DecodeHeader(img.head(), img.bytes.size());
  ASSERT_OK(h);
  EXPECT_EQ(UnknownFeatureNames(*h, 1),
            (std::vector<std::string>{"future compat (bit 5)", "unknown (bit 9)"}));
  EXPECT_EQ(UnknownFeatureNames(*h, 2), std::vector<std::string>{"future autoclear (bit 40)"});
  EXPECT_TRUE(UnknownFeatureNames(*h, 0).empty());
  Cache cache(1 << 20);
  OpenOptions options;
  auto dev = OpenImageFile(NewMemoryFile("t.qcow2", img.bytes), options, &cache);
  ASSERT_OK(dev);
  const nlohmann::json data = (*dev)->Describe().format_specific["data"];
  EXPECT_EQ(data["unknown-compatible-features"][0], "future compat (bit 5)");
  EXPECT_EQ(data["unknown-autoclear-features"][0], "future autoclear (bit 40)");
  EXPECT_TRUE(data["lazy-refcounts"].get<bool>());
}

TEST(Qcow2CheckTest, InfoListsBitmapsLikeQemuImg) {
  BitmapImage img;
  Cache cache(1 << 20);
  auto dev = OpenImageFile(NewMemoryFile("t.qcow2", img.bytes), OpenOptions{}, &cache);
  ASSERT_OK(dev);
  nlohmann::json data = (*dev)->Describe().format_specific["data"];
  EXPECT_EQ(data["bitmaps"],
            nlohmann::json::parse(R"([{"flags": ["auto"], "name": "b0", "granularity": 512}])"));
  img.SetHeader64(kAutoclearFeaturesOffset, 0);  // stale: qemu-img lists none
  dev = OpenImageFile(NewMemoryFile("t.qcow2", img.bytes), OpenOptions{}, &cache);
  ASSERT_OK(dev);
  EXPECT_FALSE((*dev)->Describe().format_specific["data"].contains("bitmaps"));
}

}  // namespace
}  // namespace imgfs::qcow2
