// SPDX-License-Identifier: MIT
// BlockMapDevice through a small in-test map driver over an in-memory
// file: every mapping kind, runs across kinds, backing fall-through, extents
// with depth and host offsets, the parallel split (counted, not timed),
// coalesced host reads, read-ahead and Map errors. The oracle is a byte
// image of the guest disk computed from the same segment list by hand.
#include "core/blockmap/block_map_device.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/exec/thread_pool.h"
#include "tests/testing/recording_file.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::RecordingFile;

// One segment of the test map. kCompressed units are "compressed" by
// XOR with `key`, one stored byte per guest byte, and each segment is one
// unit. kIndirect bytes are stored inverted. kError segments make Map fail.
enum class Seg : uint8_t { kHost, kZero, kUnallocated, kCompressed, kIndirect, kError };

struct Segment {
  uint64_t offset = 0;
  uint64_t length = 0;
  Seg kind = Seg::kUnallocated;
  uint64_t host = 0;  // kHost, kCompressed: where the bytes are
  uint8_t key = 0;    // kCompressed
};

// A File that counts ReadAt calls and records prefetches.
class CountingFile final : public File {
 public:
  explicit CountingFile(std::string contents) : base_(std::move(contents)) {}
  Result<size_t> ReadAt(uint64_t offset, std::span<std::byte> dst) const override {
    reads_.fetch_add(1);
    return base_.ReadAt(offset, dst);
  }
  Status WriteAt(uint64_t, std::span<const std::byte>) override { return ReadOnlyError("ro"); }
  Result<uint64_t> Size() const override { return base_.Size(); }
  Status Flush() override { return Status::Ok(); }
  Status Truncate(uint64_t) override { return ReadOnlyError("ro"); }
  const std::string& name() const override { return base_.name(); }
  void Prefetch(uint64_t offset, uint64_t length) const override { base_.Prefetch(offset, length); }
  int reads() const { return reads_.load(); }
  RecordingFile::Ranges prefetches() const { return base_.prefetches(); }

 private:
  RecordingFile base_;
  mutable std::atomic<int> reads_{0};
};

class MapDevice final : public BlockMapDevice {
 public:
  MapDevice(const BlockMapConfig& config, const File* file, uint64_t size,
            std::vector<Segment> segments, const BlockDevice* backing = nullptr, uint64_t grain = 0)
      : BlockMapDevice(config),
        file_(file),
        size_(size),
        segments_(std::move(segments)),
        backing_(backing),
        grain_(grain) {}

  uint64_t Size() const override { return size_; }
  ImageInfo Describe() const override { return ImageInfo{}; }
  const BlockDevice* backing() const override { return backing_; }
  int map_calls() const { return map_calls_.load(); }
  using BlockMapDevice::ContinuesRecentRead;

  // Past the last segment: unallocated. `grain_` (if set) cuts every
  // answer at grain boundaries, as a driver with one entry per grain would.
  Result<Mapping> Map(uint64_t offset, uint64_t max_length) const override {
    map_calls_.fetch_add(1);
    uint64_t end = offset + max_length;
    if (grain_ != 0) {
      end = std::min(end, (offset / grain_ + 1) * grain_);
    }
    for (const Segment& s : segments_) {
      if (offset < s.offset || offset >= s.offset + s.length) {
        continue;
      }
      const uint64_t length = std::min(end, s.offset + s.length) - offset;
      const uint64_t into = offset - s.offset;
      switch (s.kind) {
        case Seg::kHost:
          return Mapping{MapKind::kHost, length, file_, s.host + into, 0, 0, 0};
        case Seg::kZero:
          return Mapping{MapKind::kZero, length, nullptr, 0, 0, 0, 0};
        case Seg::kUnallocated:
          return Mapping{MapKind::kUnallocated, length, nullptr, 0, 0, 0, 0};
        case Seg::kCompressed:
          return Mapping{MapKind::kCompressed, length, file_, s.host, s.length, s.offset, s.key};
        case Seg::kIndirect:
          return Mapping{MapKind::kIndirect, length, nullptr, s.host, 0, s.offset, 0};
        case Seg::kError:
          return CorruptError("test: bad entry at " + std::to_string(offset));
      }
    }
    return Mapping{MapKind::kUnallocated, end - offset, nullptr, 0, 0, 0, 0};
  }

  Status ReadCompressed(const Mapping& m, uint64_t offset,
                        std::span<std::byte> dst) const override {
    std::vector<std::byte> unit(m.stored_bytes);
    IMGFS_RETURN_IF_ERROR(file_->ReadExactAt(m.host_offset, unit, "test: unit"));
    for (std::byte& b : unit) {
      b ^= static_cast<std::byte>(m.driver_data);
    }
    std::copy_n(unit.begin() + static_cast<ptrdiff_t>(offset - m.unit_offset), dst.size(),
                dst.begin());
    compressed_reads_.fetch_add(1);
    return Status::Ok();
  }
  int compressed_reads() const { return compressed_reads_.load(); }

  Status ReadIndirect(const Mapping& m, uint64_t offset, std::span<std::byte> dst) const override {
    IMGFS_RETURN_IF_ERROR(
        file_->ReadExactAt(m.host_offset + (offset - m.unit_offset), dst, "test: indirect"));
    for (std::byte& b : dst) {
      b = ~b;
    }
    return Status::Ok();
  }

 private:
  const File* file_;
  const uint64_t size_;
  const std::vector<Segment> segments_;
  const BlockDevice* backing_;
  const uint64_t grain_;
  mutable std::atomic<int> map_calls_{0};
  mutable std::atomic<int> compressed_reads_{0};
};

// Host file contents: byte i is a function of i, never 0 in the first 64 KiB.
std::string HostBytes(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>(((i * 131 + seed) % 251) + 1);
  }
  return s;
}

// The guest disk as the segment list says it reads.
std::vector<std::byte> Expected(const std::string& host, uint64_t size,
                                const std::vector<Segment>& segments,
                                const std::vector<std::byte>& backing) {
  std::vector<std::byte> out(size, std::byte{0});
  for (const Segment& s : segments) {
    for (uint64_t i = 0; i < s.length; ++i) {
      const uint64_t g = s.offset + i;
      switch (s.kind) {
        case Seg::kHost:
          out[g] = static_cast<std::byte>(host[s.host + i]);
          break;
        case Seg::kCompressed:
          out[g] = static_cast<std::byte>(host[s.host + i]) ^ static_cast<std::byte>(s.key);
          break;
        case Seg::kIndirect:
          out[g] = ~static_cast<std::byte>(host[s.host + i]);
          break;
        case Seg::kUnallocated:
          out[g] = g < backing.size() ? backing[g] : std::byte{0};
          break;
        default:
          break;
      }
    }
  }
  return out;
}

// A 64 KiB top image over a 40 KiB backing device: every kind, host runs
// that are and are not contiguous, compressed units side by side, and an
// unallocated range that runs past the backing's end.
constexpr uint64_t kSize = 64 << 10;
constexpr uint64_t kBackingSize = 40 << 10;
const std::vector<Segment> kTop = {
    {0, 5000, Seg::kHost, 1000},
    {5000, 3192, Seg::kHost, 6000},  // host-contiguous with the first
    {8192, 4096, Seg::kZero},
    {12288, 4096, Seg::kCompressed, 20000, 0x5a},
    {16384, 4096, Seg::kCompressed, 30000, 0xa5},
    {20480, 12288, Seg::kUnallocated},
    {32768, 4096, Seg::kHost, 40000},
    {36864, 16384, Seg::kUnallocated},  // crosses the backing's end at 40960
    {53248, 4000, Seg::kHost, 100},
    {57248, 2048, Seg::kIndirect, 3000},
    // 59296..65536: past the last segment, unallocated beyond the backing
};
const std::vector<Segment> kBelow = {
    {0, 20480, Seg::kHost, 0},
    {20480, 8192, Seg::kZero},
    {28672, 12288, Seg::kHost, 50000},
};

struct Fixture {
  CountingFile host{HostBytes(128 << 10, 7)};
  CountingFile below_host{HostBytes(128 << 10, 99)};
  // Its Extents stop every 4 KiB, so the top must loop over the backing.
  MapDevice below{BlockMapConfig{"below", nullptr, nullptr, nullptr, 12}, &below_host, kBackingSize,
                  kBelow};
  std::vector<std::byte> below_bytes;
  std::vector<std::byte> want;
  std::string host_contents = HostBytes(128 << 10, 7);

  Fixture() {
    below_bytes = Expected(HostBytes(128 << 10, 99), kBackingSize, kBelow, {});
    want = Expected(host_contents, kSize, kTop, below_bytes);
  }
  MapDevice Top(const BlockMapConfig& config = {"test"}, uint64_t grain = 0) {
    return MapDevice(config, &host, kSize, kTop, &below, grain);
  }
};

void ExpectReads(const BlockDevice& dev, const std::vector<std::byte>& want, uint64_t step,
                 const std::vector<uint64_t>& lengths) {
  for (uint64_t offset = 0; offset < want.size(); offset += step) {
    for (uint64_t len : lengths) {
      len = std::min<uint64_t>(len, want.size() - offset);
      std::vector<std::byte> got(len, std::byte{0xee});
      ASSERT_OK(dev.Read(offset, got));
      for (uint64_t i = 0; i < len; ++i) {
        ASSERT_EQ(got[i], want[offset + i])
            << "offset " << offset << " length " << len << " byte " << i;
      }
    }
  }
}

TEST(BlockMapDeviceTest, ReadsEveryKindAtOddOffsetsByteByByte) {
  Fixture f;
  MapDevice top = f.Top();
  ExpectReads(top, f.want, 997, {1, 3, 511, 4097, 9000, 70000});
  ExpectReads(f.below, f.below_bytes, 1231, {1, 4095, 13000});
}

TEST(BlockMapDeviceTest, ReadsTheSameWithOneEntryPerGrain) {
  Fixture f;
  MapDevice top = f.Top({"test"}, 512);
  ExpectReads(top, f.want, 1499, {1, 700, 4096, 20000, 70000});
}

TEST(BlockMapDeviceTest, ShorterBackingReadsZerosPastItsEnd) {
  Fixture f;
  MapDevice top = f.Top();
  std::vector<std::byte> got(8192);
  ASSERT_OK(top.Read(kBackingSize - 4096, got));
  EXPECT_TRUE(std::equal(got.begin(), got.begin() + 4096, f.below_bytes.end() - 4096));
  EXPECT_TRUE(
      std::all_of(got.begin() + 4096, got.end(), [](std::byte b) { return b == std::byte{0}; }));
  MapDevice alone(BlockMapConfig{"test"}, &f.host, kSize, kTop);  // no backing: zeros
  ASSERT_OK(alone.Read(20480, got));
  EXPECT_TRUE(std::all_of(got.begin(), got.end(), [](std::byte b) { return b == std::byte{0}; }));
}

TEST(BlockMapDeviceTest, ReadsPastTheEndAreRefused) {
  Fixture f;
  MapDevice top = f.Top();
  std::vector<std::byte> got(2);
  EXPECT_CODE(top.Read(kSize - 1, got), kOutOfRange);
}

TEST(BlockMapDeviceTest, EmptyReadsSucceedWithoutMapping) {
  Fixture f;
  MapDevice top = f.Top();
  std::vector<std::byte> none;
  EXPECT_OK(top.Read(0, none));
  EXPECT_OK(top.Read(kSize, none));
}

TEST(BlockMapDeviceTest, ExtentsCarryDepthAndHostOffsets) {
  Fixture f;
  MapDevice top = f.Top({"test"}, 512);  // many small mappings, merged in the output
  std::vector<Extent> got;
  ASSERT_OK(CollectExtents(top, 0, kSize, &got));
  using K = ExtentKind;
  const std::vector<Extent> want = {
      {0, 8192, K::kData, 0, 1000, false},
      {8192, 4096, K::kZero, 0, std::nullopt, false},
      {12288, 8192, K::kData, 0, std::nullopt, true},
      {20480, 8192, K::kZero, 1, std::nullopt, false},  // backing zero range
      {28672, 4096, K::kData, 1, 50000, false},         // backing host range
      {32768, 4096, K::kData, 0, 40000, false},
      {36864, 4096, K::kData, 1, 50000 + 8192, false},
      {40960, 12288, K::kUnallocated, 0, std::nullopt, false},  // past the backing
      {53248, 4000, K::kData, 0, 100, false},
      {57248, 2048, K::kData, 0, std::nullopt, false},  // indirect
      {59296, kSize - 59296, K::kUnallocated, 0, std::nullopt, false},
  };
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].offset, want[i].offset) << i;
    EXPECT_EQ(got[i].length, want[i].length) << i;
    EXPECT_EQ(got[i].kind, want[i].kind) << i;
    EXPECT_EQ(got[i].depth, want[i].depth) << i;
    EXPECT_EQ(got[i].host_offset, want[i].host_offset) << i;
    EXPECT_EQ(got[i].compressed, want[i].compressed) << i;
  }
}

TEST(BlockMapDeviceTest, ExtentsStopAtTheWindow) {
  Fixture f;
  BlockMapConfig config{"test"};
  config.extents_window_bits = 13;  // 8 KiB
  MapDevice top = f.Top(config);
  std::vector<Extent> got;
  ASSERT_OK(top.Extents(100, kSize - 100, &got));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].offset, 100u);
  EXPECT_EQ(got[0].length, 8192u - 100);
  EXPECT_EQ(got[0].host_offset, 1100u);
  EXPECT_CODE(top.Extents(0, 0, &got), kInvalidArgument);
}

// Alternating zero and unallocated 512-byte grains: one mapping each.
class StripedDevice final : public BlockMapDevice {
 public:
  StripedDevice() : BlockMapDevice(BlockMapConfig{"striped"}) {}
  uint64_t Size() const override { return 8 << 20; }
  ImageInfo Describe() const override { return ImageInfo{}; }
  Result<Mapping> Map(uint64_t offset, uint64_t max_length) const override {
    const MapKind kind = (offset / 512) % 2 == 0 ? MapKind::kZero : MapKind::kUnallocated;
    return Mapping{kind, std::min(max_length, 512 - offset % 512), nullptr, 0, 0, 0, 0};
  }
};

TEST(BlockMapDeviceTest, ExtentsStopAfterAFewThousandAndCallersLoop) {
  StripedDevice dev;
  std::vector<Extent> got;
  ASSERT_OK(dev.Extents(0, dev.Size(), &got));
  EXPECT_EQ(got.size(), BlockMapDevice::kMaxExtentsPerCall);
  got.clear();
  ASSERT_OK(CollectExtents(dev, 0, dev.Size(), &got));
  ASSERT_EQ(got.size(), dev.Size() / 512);
  EXPECT_EQ(got.back().kind, ExtentKind::kUnallocated);
  EXPECT_EQ(got.back().offset, dev.Size() - 512);
}

TEST(BlockMapDeviceTest, HostContiguousRunsAreOneHostRead) {
  Fixture f;
  MapDevice top = f.Top({"test"}, 512);  // 17 mappings (the 5000 boundary too)
  std::vector<std::byte> got(8192);
  ASSERT_OK(top.Read(0, got));
  EXPECT_EQ(f.host.reads(), 1);
  EXPECT_EQ(top.map_calls(), 17);  // each asked once
}

TEST(BlockMapDeviceTest, LargeReadsSplitIntoPiecesOnThePool) {
  constexpr uint64_t kMiB = 1 << 20;
  CountingFile host(HostBytes(3 * kMiB, 3));
  std::vector<Segment> map = {{0, 2 * kMiB, Seg::kHost, kMiB}};
  for (uint64_t u = 0; u < 8; ++u) {  // 8 compressed units of 64 KiB
    map.push_back({2 * kMiB + u * 65536, 65536, Seg::kCompressed, u * 65536, 0x33});
  }
  const std::vector<std::byte> want = Expected(HostBytes(3 * kMiB, 3), 3 * kMiB, map, {});
  ThreadPool pool(2);
  BlockMapConfig config{"test"};
  config.pool = &pool;
  MapDevice dev(config, &host, 3 * kMiB, map);
  std::vector<std::byte> got(kMiB);
  ASSERT_OK(dev.Read(0, got));  // host: 1 MiB in 256 KiB pieces
  EXPECT_EQ(dev.pieces_read(), 4u);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin()));
  ASSERT_OK(dev.Read(2 * kMiB, std::span(got).first(512 << 10)));  // one piece per unit
  EXPECT_EQ(dev.pieces_read(), 4u + 8);
  EXPECT_EQ(dev.compressed_reads(), 8);
  EXPECT_TRUE(std::equal(got.begin(), got.begin() + (512 << 10), want.begin() + 2 * kMiB));
  ASSERT_OK(dev.Read(0, std::span(got).first(64 << 10)));  // small: serial
  EXPECT_EQ(dev.pieces_read(), 12u);
  ExpectReads(dev, want, 300000, {1, 200000, 700001});

  MapDevice serial(BlockMapConfig{"test"}, &host, 3 * kMiB, map);  // no pool
  ASSERT_OK(serial.Read(0, got));
  EXPECT_EQ(serial.pieces_read(), 0u);
}

TEST(BlockMapDeviceTest, MapErrorsFailReadsAndExtents) {
  Fixture f;
  std::vector<Segment> map = kTop;
  map.insert(map.begin(), Segment{8192, 4096, Seg::kError});
  ThreadPool pool(2);
  BlockMapConfig config{"test"};
  config.pool = &pool;
  MapDevice dev(config, &f.host, kSize, map);
  std::vector<std::byte> got(kSize);
  EXPECT_CODE(dev.Read(9000, std::span(got).first(10)), kCorrupt);
  EXPECT_CODE(dev.Read(0, got), kCorrupt);  // found while planning pieces
  std::vector<Extent> extents;
  EXPECT_CODE(CollectExtents(dev, 0, kSize, &extents), kCorrupt);
  EXPECT_OK(dev.Read(0, std::span(got).first(8192)));  // before it: fine
}

// A driver whose Map breaks its contract (no progress).
class EmptyMapDevice final : public BlockMapDevice {
 public:
  EmptyMapDevice() : BlockMapDevice(BlockMapConfig{"empty"}) {}
  uint64_t Size() const override { return 4096; }
  ImageInfo Describe() const override { return ImageInfo{}; }
  Result<Mapping> Map(uint64_t, uint64_t max_length) const override {
    const uint64_t length = kind_ == 0 ? 0 : std::min<uint64_t>(100, max_length);
    return Mapping{MapKind::kCompressed, length, nullptr, 0, 0, 0, 0};
  }
  int kind_ = 0;
};

TEST(BlockMapDeviceTest, BrokenMappingsAreInternalErrorsAndCompressedNeedsAReader) {
  EmptyMapDevice dev;
  std::vector<std::byte> got(10);
  EXPECT_CODE(dev.Read(0, got), kInternal);
  dev.kind_ = 1;
  EXPECT_CODE(dev.Read(0, got), kUnsupported);  // no ReadCompressed
  std::vector<Extent> extents;
  EXPECT_OK(dev.Extents(0, 4096, &extents));
  EXPECT_TRUE(extents.front().compressed);
}

TEST(BlockMapDeviceTest, SequentialLargeReadsPrefetchTheHostBehindThem) {
  constexpr uint64_t kMiB = 1 << 20;
  CountingFile host(HostBytes(1024, 1));
  // Guest 0..16 MiB on host 0..16 MiB (reads past the file's end are zeros).
  MapDevice dev(BlockMapConfig{"test"}, &host, 16 * kMiB, {{0, 16 * kMiB, Seg::kHost, 0}});
  std::vector<std::byte> got(64 << 10);
  ASSERT_OK(dev.Read(0, got));
  ASSERT_EQ(host.prefetches(), (RecordingFile::Ranges{{65536, 8 * kMiB}}));
  ASSERT_OK(dev.Read(65536, got));  // within the window: no new prefetch
  EXPECT_EQ(host.prefetches().size(), 1u);
  ASSERT_OK(dev.Read(12 * kMiB, std::span(got).first(4096)));  // small: no read-ahead
  EXPECT_EQ(host.prefetches().size(), 1u);
}

TEST(BlockMapDeviceTest, SmallHostReadsAreReadAround) {
  CountingFile host(HostBytes(1 << 20, 1));
  ReadAround around(1 << 20, 16);
  BlockMapConfig config{"test"};
  config.read_around = &around;
  config.read_around_file = &host;
  MapDevice dev(config, &host, 1 << 20, {{0, 1 << 20, Seg::kHost, 0}});
  std::vector<std::byte> got(4096);
  ASSERT_OK(dev.Read(70000, got));
  ASSERT_OK(dev.Read(80000, got));
  EXPECT_EQ(host.prefetches(), (RecordingFile::Ranges{{65536, 65536}}));
}

TEST(BlockMapDeviceTest, RecentReadsTellStreamsApart) {
  Fixture f;
  MapDevice top = f.Top();
  EXPECT_FALSE(top.ContinuesRecentRead(100, 200));
  EXPECT_TRUE(top.ContinuesRecentRead(200, 300));
  EXPECT_FALSE(top.ContinuesRecentRead(5000, 6000));
  EXPECT_FALSE(top.ContinuesRecentRead(0, 10));  // offset 0 never continues
}

}  // namespace
}  // namespace imgfs
