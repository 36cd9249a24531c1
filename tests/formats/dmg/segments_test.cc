// SPDX-License-Identifier: MIT
// Segmented UDIF images from bytes: segment names, the concatenated File,
// and LoadUdif over a set split at test time (tests/formats/dmg/
// test_segments.h) with the segment files served from memory; the
// segmented set must read exactly as the one-file image it was cut from.
// Then one hostile set per validation rule.
#include "formats/dmg/segments.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "formats/dmg/device.h"
#include "formats/dmg/image.h"
#include "tests/formats/dmg/test_data.h"
#include "tests/formats/dmg/test_dmg_builder.h"
#include "tests/formats/dmg/test_segments.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::dmg {
namespace {

using testing::BuildTestDmgPartitions;
using testing::CompressIntoChunks;
using testing::EditKoly;
using testing::MixedData;
using testing::SplitIntoSegments;
using testing::TestChunk;
using testing::TestPartition;

std::string AsText(const std::vector<std::byte>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

std::shared_ptr<const File> Mem(const std::string& name, const std::vector<std::byte>& bytes) {
  return std::shared_ptr<const File>(NewMemoryFile(name, AsText(bytes)));
}

TEST(SegmentNamesTest, FollowHdiutil) {
  EXPECT_EQ(SegmentFileName("disk.dmg", 1), "disk.dmg");
  EXPECT_EQ(SegmentFileName("disk.dmg", 2), "disk.002.dmgpart");
  EXPECT_EQ(SegmentFileName("dir/Disk.DMG", 12), "dir/Disk.012.dmgpart");
  EXPECT_EQ(SegmentFileName("disk.dmg", 1234), "disk.1234.dmgpart");
  EXPECT_EQ(SegmentFileName("noext", 3), "noext.003.dmgpart");
  EXPECT_EQ(NumberedSegmentFileName("disk.001.dmg", 2), "disk.002.dmgpart");
  EXPECT_EQ(NumberedSegmentFileName("disk.dmg", 2), std::nullopt);
  EXPECT_EQ(NumberedSegmentFileName("disk.001.dmg", 1), std::nullopt);
  EXPECT_EQ(FirstSegmentName("disk.002.dmgpart"), "disk.dmg");
  EXPECT_EQ(FirstSegmentName("a.b.017.DMGPART"), "a.b.dmg");
  EXPECT_EQ(FirstSegmentName("disk.dmgpart"), std::nullopt);
  EXPECT_EQ(FirstSegmentName("disk.x2.dmgpart"), std::nullopt);
  EXPECT_EQ(FirstSegmentName("disk.dmg"), std::nullopt);
}

TEST(ConcatFileTest, ReadsAcrossPiecesWithinBounds) {
  auto a = Mem("a", MixedData(100, 1));
  auto b = Mem("b", MixedData(50, 2));
  const std::string all = AsText(MixedData(100, 1)).substr(10, 80) + AsText(MixedData(50, 2));
  auto f = NewConcatFile("set", {{a, 10, 80}, {b, 0, 0}, {b, 0, 50}});
  ASSERT_OK(f->Size());
  EXPECT_EQ(*f->Size(), 130u);
  std::string got(130, '\0');
  EXPECT_OK(f->ReadExactAt(0, std::as_writable_bytes(std::span(got)), "t"));
  EXPECT_EQ(got, all);
  std::string mid(20, '\0');
  EXPECT_OK(f->ReadExactAt(75, std::as_writable_bytes(std::span(mid)), "t"));
  EXPECT_EQ(mid, all.substr(75, 20));
  std::string past(10, '\0');
  auto n = f->ReadAt(125, std::as_writable_bytes(std::span(past)));
  ASSERT_OK(n);
  EXPECT_EQ(*n, 5u);  // short at the end, never beyond
  EXPECT_CODE(f->ReadExactAt(125, std::as_writable_bytes(std::span(past)), "t"), kCorrupt);
  // A piece that claims more than its file holds reads short.
  auto shrunk = NewConcatFile("set", {{b, 40, 30}});
  std::string want(30, '\0');
  EXPECT_CODE(shrunk->ReadExactAt(0, std::as_writable_bytes(std::span(want)), "t"), kCorrupt);
}

// A two-table zlib image with raw and zero-fill chunks, plus its disk bytes.
struct Whole {
  std::vector<std::byte> dmg;
  std::string disk;
};

Whole MakeWhole() {
  Whole w;
  std::vector<TestPartition> parts;
  for (int p = 0; p < 2; ++p) {
    std::vector<std::byte> data =
        MixedData((200u << 10) + 512 * static_cast<size_t>(p + 1), static_cast<uint32_t>(5 + p));
    auto chunks = CompressIntoChunks(ChunkType::kZlib, data, 64);
    EXPECT_OK(chunks);
    chunks->insert(chunks->begin() + 1, TestChunk{ChunkType::kZeroFill, 16, {}});
    data.insert(data.begin() + 64 * 512, 16 * 512, std::byte{0});
    std::vector<std::byte> raw = MixedData(3 * 512, 77);
    chunks->push_back(TestChunk{ChunkType::kRaw, 3, raw});
    data.insert(data.end(), raw.begin(), raw.end());
    parts.push_back(TestPartition{"part " + std::to_string(p), p - 1, std::move(*chunks)});
    w.disk += AsText(data);
  }
  w.dmg = BuildTestDmgPartitions(parts);
  return w;
}

uint64_t ForkLength(const std::vector<std::byte>& dmg) {
  auto k = DecodeKoly(std::span(dmg).subspan(dmg.size() - kKolyBytes));
  EXPECT_OK(k);
  return k->data_fork_length;
}

// Serves segment files from memory as open_aux_file would from the
// first segment's directory.
struct MemorySet {
  std::map<std::string, std::vector<std::byte>> files;
  OpenContext ctx;

  explicit MemorySet(const std::vector<std::vector<std::byte>>& segments) {
    for (size_t i = 0; i < segments.size(); ++i) {
      files[SegmentFileName("t.dmg", static_cast<uint32_t>(i + 1))] = segments[i];
    }
    ctx.path = "t.dmg";
    ctx.resolve = [](const std::string& ref) { return "dir/" + ref; };
    ctx.open_aux_file = [this](const std::string& ref) -> Result<std::unique_ptr<File>> {
      auto it = files.find(ref);
      if (it == files.end()) {
        return NotFoundError("cannot open " + ref + ": No such file or directory");
      }
      return NewMemoryFile(ref, AsText(it->second));
    };
  }
  Result<std::shared_ptr<const UdifImage>> Load(const std::string& name = "t.dmg") {
    ctx.path = name;
    return LoadUdif(Mem(name, files.at(name)), &ctx);
  }
};

std::string ReadDisk(const BlockDevice& dev) {
  std::string out(static_cast<size_t>(dev.Size()), '\0');
  EXPECT_OK(dev.Read(0, std::as_writable_bytes(std::span(out))));
  return out;
}

TEST(SegmentedUdifTest, ReadsLikeTheOneFileImage) {
  const Whole w = MakeWhole();
  const uint64_t fork = ForkLength(w.dmg);
  // Cuts inside chunks (hdiutil cuts by size, not at chunk boundaries).
  for (std::vector<uint64_t> cuts :
       {std::vector<uint64_t>{fork / 2}, std::vector<uint64_t>{777, fork / 3, fork - 1}}) {
    auto segments = SplitIntoSegments(w.dmg, cuts);
    ASSERT_OK(segments);
    MemorySet set(*segments);
    auto image = set.Load();
    ASSERT_OK(image);
    EXPECT_EQ((*image)->segments.size(), cuts.size() + 1);
    EXPECT_EQ((*image)->file_size, fork);
    Cache cache(4 << 20);
    auto dev = NewUdifDevice(*image, &cache, nullptr);
    ASSERT_OK(dev);
    EXPECT_TRUE(ReadDisk(**dev) == w.disk);
    // Unaligned reads across chunk and segment boundaries.
    std::string part(70000, '\0');
    EXPECT_OK((*dev)->Read(12345, std::as_writable_bytes(std::span(part))));
    EXPECT_TRUE(part == w.disk.substr(12345, 70000));

    auto check = (*dev)->Check();
    ASSERT_OK(check);
    EXPECT_TRUE(check->clean()) << (check->errors.empty() ? "" : check->errors[0]);
    std::string checked;
    for (const std::string& line : check->checked) {
      checked += line + "\n";
    }
    EXPECT_NE(checked.find("segment 2 data fork crc32"), std::string::npos) << checked;

    ImageInfo info = (*dev)->Describe();
    EXPECT_EQ(info.filename, "t.dmg");
    const auto& segs = info.format_specific["data"]["segments"];
    EXPECT_EQ(segs["count"], cuts.size() + 1);
    EXPECT_EQ(segs["files"][1], "dir/t.002.dmgpart");

    // Raw chunks report no host offset: no one host file holds them.
    std::vector<Extent> extents;
    EXPECT_OK((*dev)->Extents(0, (*dev)->Size(), &extents));
    for (const Extent& e : extents) {
      EXPECT_FALSE(e.host_offset.has_value());
    }
  }
}

TEST(SegmentedUdifTest, CheckFindsADamagedSegment) {
  const Whole w = MakeWhole();
  auto segments = SplitIntoSegments(w.dmg, std::vector<uint64_t>{ForkLength(w.dmg) / 2});
  ASSERT_OK(segments);
  MemorySet set(*segments);
  set.files["t.002.dmgpart"][5] ^= std::byte{1};  // a stored byte of segment 2
  auto image = set.Load();
  ASSERT_OK(image);
  Cache cache(4 << 20);
  auto dev = NewUdifDevice(*image, &cache, nullptr);
  ASSERT_OK(dev);
  auto check = (*dev)->Check();
  ASSERT_OK(check);
  ASSERT_FALSE(check->errors.empty());
  EXPECT_NE(check->errors[0].find("segment 2 data fork checksum mismatch"), std::string::npos)
      << check->errors[0];
}

// One hostile set per rule: the error code and a phrase of the message.
struct Bad {
  const char* name;
  StatusCode code;
  const char* phrase;
  void (*spoil)(MemorySet* set, uint64_t fork);
};

void ExpectBad(const Bad& b) {
  const Whole w = MakeWhole();
  const uint64_t fork = ForkLength(w.dmg);
  auto segments = SplitIntoSegments(w.dmg, std::vector<uint64_t>{fork / 3, 2 * fork / 3});
  ASSERT_OK(segments);
  MemorySet set(*segments);
  b.spoil(&set, fork);
  auto image = set.Load();
  Status s = image.status();
  if (image.ok()) {
    Cache cache(1 << 20);
    s = NewUdifDevice(*image, &cache, nullptr).status();
  }
  ASSERT_FALSE(s.ok()) << b.name;
  EXPECT_EQ(s.code(), b.code) << b.name << ": " << s.message();
  EXPECT_NE(s.message().find(b.phrase), std::string::npos) << b.name << ": " << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << b.name;
}

TEST(SegmentedUdifTest, RefusesBrokenSets) {
  const Bad kCases[] = {
      {"missing segment", StatusCode::kNotFound,
       "segment 3 of 3 'dir/t.003.dmgpart' cannot be opened",
       [](MemorySet* s, uint64_t) { s->files.erase("t.003.dmgpart"); }},
      {"wrong uuid", StatusCode::kCorrupt,
       "segment 2 of 3 'dir/t.002.dmgpart' has another segment id",
       [](MemorySet* s, uint64_t) {
         ASSERT_OK(EditKoly(&s->files["t.002.dmgpart"], [](Koly& k) { k.segment_id[3] ^= 1; }));
       }},
      {"wrong count", StatusCode::kCorrupt, "says it is one of 4 segments",
       [](MemorySet* s, uint64_t) {
         ASSERT_OK(EditKoly(&s->files["t.003.dmgpart"], [](Koly& k) { k.segment_count = 4; }));
       }},
      {"segments swapped", StatusCode::kCorrupt,
       "segment 2 of 3 'dir/t.002.dmgpart' says it is segment 3",
       [](MemorySet* s, uint64_t) {
         std::swap(s->files["t.002.dmgpart"], s->files["t.003.dmgpart"]);
       }},
      {"truncated segment", StatusCode::kCorrupt,
       "segment 2 of 3 'dir/t.002.dmgpart': koly trailer",
       [](MemorySet* s, uint64_t) {
         s->files["t.002.dmgpart"].resize(s->files["t.002.dmgpart"].size() - 100);
       }},
      {"data fork past the segment", StatusCode::kCorrupt, "leaves the file",
       [](MemorySet* s, uint64_t) {
         ASSERT_OK(EditKoly(&s->files["t.002.dmgpart"], [](Koly& k) { k.data_fork_length += 1; }));
       }},
      {"sector count", StatusCode::kCorrupt, "says the disk has",
       [](MemorySet* s, uint64_t) {
         ASSERT_OK(EditKoly(&s->files["t.002.dmgpart"], [](Koly& k) { k.sector_count += 1; }));
       }},
      {"running offset", StatusCode::kCorrupt, "running data fork offset",
       [](MemorySet* s, uint64_t) {
         ASSERT_OK(EditKoly(&s->files["t.003.dmgpart"],
                            [](Koly& k) { k.running_data_fork_offset += 512; }));
       }},
      {"chunks past the forks", StatusCode::kCorrupt, "leaves the segments' data forks",
       [](MemorySet* s, uint64_t) {
         // Segment 3 loses its last 600 fork bytes: the last chunks now
         // point past the concatenated forks.
         auto& f = s->files["t.003.dmgpart"];
         std::vector<std::byte> koly(f.end() - kKolyBytes, f.end());
         f.resize(f.size() - kKolyBytes - 600);
         f.insert(f.end(), koly.begin(), koly.end());
         ASSERT_OK(EditKoly(&f, [](Koly& k) { k.data_fork_length -= 600; }));
       }},
      {"huge segment count", StatusCode::kUnsupported, "4097 segments",
       [](MemorySet* s, uint64_t) {
         ASSERT_OK(EditKoly(&s->files["t.dmg"], [](Koly& k) { k.segment_count = 4097; }));
       }},
  };
  for (const Bad& b : kCases) {
    ExpectBad(b);
  }
}

TEST(SegmentedUdifTest, OpeningALaterSegmentNamesTheFirst) {
  const Whole w = MakeWhole();
  auto segments = SplitIntoSegments(w.dmg, std::vector<uint64_t>{1000});
  ASSERT_OK(segments);
  MemorySet set(*segments);
  auto image = set.Load("t.002.dmgpart");
  EXPECT_CODE(image, kInvalidArgument);
  EXPECT_NE(image.status().message().find("open its first segment 't.dmg'"), std::string::npos)
      << image.status().message();
}

TEST(SegmentedUdifTest, FirstSegmentMayBeNumbered) {
  const Whole w = MakeWhole();
  auto segments = SplitIntoSegments(w.dmg, std::vector<uint64_t>{1000});
  ASSERT_OK(segments);
  MemorySet set(*segments);
  set.files["t.001.dmg"] = set.files["t.dmg"];
  set.files.erase("t.dmg");
  auto image = set.Load("t.001.dmg");
  ASSERT_OK(image);
  ASSERT_EQ((*image)->segments.size(), 2u);
  EXPECT_EQ((*image)->segments[1].name, "dir/t.002.dmgpart");
  Cache cache(4 << 20);
  auto dev = NewUdifDevice(*image, &cache, nullptr);
  ASSERT_OK(dev);
  EXPECT_TRUE(ReadDisk(**dev) == w.disk);
}

TEST(SegmentedUdifTest, WithoutAFileOpenerIsUnsupported) {
  const Whole w = MakeWhole();
  auto segments = SplitIntoSegments(w.dmg, std::vector<uint64_t>{1000});
  ASSERT_OK(segments);
  auto image = LoadUdif(Mem("t.dmg", (*segments)[0]));
  EXPECT_CODE(image, kUnsupported);
}

TEST(SegmentedUdifTest, LaterSegmentsAreRecognised) {
  const Whole w = MakeWhole();
  auto segments = SplitIntoSegments(w.dmg, std::vector<uint64_t>{1000});
  ASSERT_OK(segments);
  // The registry hands the probe's tail (up to 512 bytes; the whole file
  // when it is shorter).
  auto tail = [](const std::vector<std::byte>& f) {
    return std::span(f).last(std::min<size_t>(f.size(), 512));
  };
  EXPECT_FALSE(IsLaterSegmentTail(tail((*segments)[0])));
  EXPECT_TRUE(IsLaterSegmentTail(tail((*segments)[1])));
  EXPECT_FALSE(IsLaterSegmentTail(tail(w.dmg)));
  EXPECT_FALSE(IsLaterSegmentTail(tail(std::vector<std::byte>(10))));
}

}  // namespace
}  // namespace imgfs::dmg
