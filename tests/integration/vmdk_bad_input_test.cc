// SPDX-License-Identifier: MIT
// Broken and hostile vmdk disks, made from qemu-img's own: each must fail
// with a one-line error status (and `imgfs info` with a non-zero exit), no
// crash, no hang, no unbounded allocation.
#include <gtest/gtest.h>

#include <string>

#include "core/cache/cache.h"
#include "core/util/endian.h"
#include "formats/open.h"
#include "tests/formats/vmdk/test_sesparse_builder.h"
#include "tests/integration/vmdk_test_util.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::ReadWholeFile;
using testing::Sh;
using testing::TempDir;
using testing::WriteWholeFile;

// Header fields (VMware "Virtual Disk Format 1.1", SparseExtentHeader).
constexpr size_t kGrainSizeAt = 20;
constexpr size_t kDescriptorSizeAt = 36;
constexpr size_t kNumGtesAt = 44;
constexpr size_t kGdOffsetAt = 56;

// Opening (and reading all of) `name` fails with `code`, and `imgfs convert`
// (which reads every byte) says so on one line with a non-zero exit.
void ExpectRefused(const TempDir& dir, const std::string& name, StatusCode code) {
  SCOPED_TRACE(name);
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join(name), {}, &cache);
  Status s = dev.status();
  if (dev.ok()) {
    std::string buf((*dev)->Size() < (64u << 20) ? (*dev)->Size() : (64u << 20), '\0');
    s = (*dev)->Read(0, std::as_writable_bytes(std::span(buf)));
  }
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
  std::string out;
  EXPECT_NE(
      testing::RunIn(dir.path(),
                     testing::ImgfsBinary() + " convert -O raw " + name + " out.raw 2>&1", &out),
      0);
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
  EXPECT_EQ(out.rfind("imgfs: ", 0), 0u) << out;  // imgfs's own message, not the shell's
}

class VmdkBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE_QEMU();
    ASSERT_TRUE(Sh(dir_.path(),
                   "qemu-img create -q -f vmdk good.vmdk 4M && "
                   "qemu-io -f vmdk -c 'write -P 0x5a 0 1M' good.vmdk >/dev/null"));
    good_ = ReadWholeFile(dir_.Join("good.vmdk"));
  }
  // Writes good.vmdk with `edit` applied as `name`.
  void Mutate(const std::string& name, const std::function<void(std::string*)>& edit) {
    std::string bytes = good_;
    edit(&bytes);
    WriteWholeFile(dir_.Join(name), bytes);
  }
  static void Put64(std::string* b, size_t at, uint64_t v) {
    StoreLE64(reinterpret_cast<std::byte*>(b->data()) + at, v);
  }
  static void Put32(std::string* b, size_t at, uint32_t v) {
    StoreLE32(reinterpret_cast<std::byte*>(b->data()) + at, v);
  }
  TempDir dir_;
  std::string good_;
};

TEST_F(VmdkBadInput, TruncatedHeaderAndDescriptor) {
  Mutate("short.vmdk", [](std::string* b) { b->resize(300); });
  ExpectRefused(dir_, "short.vmdk", StatusCode::kCorrupt);
  Mutate("desc.vmdk", [](std::string* b) { Put64(b, kDescriptorSizeAt, 100000); });
  ExpectRefused(dir_, "desc.vmdk", StatusCode::kCorrupt);
  WriteWholeFile(dir_.Join("text.vmdk"), "# Disk DescriptorFile\nversion=1\nCID=1234");
  ExpectRefused(dir_, "text.vmdk", StatusCode::kCorrupt);
}

TEST_F(VmdkBadInput, GrainDirectoryAndTablesPastEndOfFile) {
  Mutate("gd.vmdk", [](std::string* b) { Put64(b, kGdOffsetAt, 1u << 20); });
  ExpectRefused(dir_, "gd.vmdk", StatusCode::kCorrupt);
  // The first directory entry points its grain table past the end: the
  // open succeeds (a damaged table fails only the reads that meet it).
  Mutate("gt.vmdk", [](std::string* b) {
    const uint64_t gd = LoadLE64(reinterpret_cast<const std::byte*>(b->data()) + kGdOffsetAt);
    Put32(b, gd * 512, 1u << 24);
  });
  ExpectRefused(dir_, "gt.vmdk", StatusCode::kCorrupt);
}

TEST_F(VmdkBadInput, CheckReportsGrainsPastTheEndAndSharedTables) {
  Mutate("grain.vmdk", [](std::string* b) {
    const auto* p = reinterpret_cast<const std::byte*>(b->data());
    const uint64_t gt = LoadLE32(p + LoadLE64(p + kGdOffsetAt) * 512);
    Put32(b, gt * 512 + 4, 1u << 30);  // grain 1 far past the end
  });
  Cache cache(1 << 20);
  auto dev = OpenImage(dir_.Join("grain.vmdk"), {}, &cache);
  ASSERT_OK(dev);
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  ASSERT_EQ(report->errors.size(), 1u);
  EXPECT_NE(report->errors[0].find("past the end"), std::string::npos) << report->errors[0];
  std::string out;
  EXPECT_NE(testing::RunIn(dir_.path(), testing::ImgfsBinary() + " check grain.vmdk", &out), 0);
  auto good = OpenImage(dir_.Join("good.vmdk"), {}, &cache);
  ASSERT_OK(good);
  auto clean = (*good)->Check();
  ASSERT_OK(clean);
  EXPECT_TRUE(clean->clean());
  EXPECT_EQ(testing::RunIn(dir_.path(), testing::ImgfsBinary() + " check good.vmdk", &out), 0)
      << out;
}

TEST_F(VmdkBadInput, AbsurdGrainSizesAndCounts) {
  Mutate("g0.vmdk", [](std::string* b) { Put64(b, kGrainSizeAt, 0); });
  ExpectRefused(dir_, "g0.vmdk", StatusCode::kCorrupt);
  Mutate("g3.vmdk", [](std::string* b) { Put64(b, kGrainSizeAt, 3); });
  ExpectRefused(dir_, "g3.vmdk", StatusCode::kCorrupt);
  Mutate("ghuge.vmdk", [](std::string* b) { Put64(b, kGrainSizeAt, uint64_t{1} << 40); });
  ExpectRefused(dir_, "ghuge.vmdk", StatusCode::kCorrupt);
  Mutate("gtes.vmdk", [](std::string* b) { Put32(b, kNumGtesAt, 0); });
  ExpectRefused(dir_, "gtes.vmdk", StatusCode::kCorrupt);
  // 2^54 sectors of 1-sector grains, one entry per table: a directory of
  // 2^54 entries is refused before anything is allocated.
  Mutate("cap.vmdk", [](std::string* b) {
    Put64(b, 12, uint64_t{1} << 54);
    Put64(b, kGrainSizeAt, 1);
    Put32(b, kNumGtesAt, 1);
  });
  ExpectRefused(dir_, "cap.vmdk", StatusCode::kUnsupported);
}

TEST_F(VmdkBadInput, BadDescriptors) {
  const std::string head =
      "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
      "createType=\"monolithicFlat\"\n";
  WriteWholeFile(dir_.Join("f.raw"), std::string(4096, 'x'));
  WriteWholeFile(dir_.Join("type.vmdk"), head + "RW 8 FLAT \"f.raw\" 0\nRW 8 VMFSRDM \"f.raw\"\n");
  ExpectRefused(dir_, "type.vmdk", StatusCode::kUnsupported);
  Cache cache(1 << 20);
  auto dev = OpenImage(dir_.Join("type.vmdk"), {}, &cache);
  EXPECT_NE(dev.status().message().find("VMFSRDM"), std::string::npos) << dev.status().ToString();
  // A line that starts like an extent but does not parse is an error, never skipped.
  WriteWholeFile(dir_.Join("line.vmdk"), head + "RW 8 FLAT \"f.raw\" 0\nRW eight FLAT \"f.raw\"\n");
  ExpectRefused(dir_, "line.vmdk", StatusCode::kCorrupt);
  WriteWholeFile(dir_.Join("missing.vmdk"), head + "RW 8 FLAT \"nothere.raw\" 0\n");
  ExpectRefused(dir_, "missing.vmdk", StatusCode::kNotFound);
  WriteWholeFile(dir_.Join("none.vmdk"), head);
  ExpectRefused(dir_, "none.vmdk", StatusCode::kCorrupt);
  // Thousands of extents: too many is refused by count; 3000 ZERO extents
  // (no files) open and read.
  std::string many = head;
  for (int i = 0; i < 5000; ++i) {
    many += "RW 1 FLAT \"f.raw\" 0\n";
  }
  WriteWholeFile(dir_.Join("many.vmdk"), many);
  ExpectRefused(dir_, "many.vmdk", StatusCode::kUnsupported);
  std::string zeros = head;
  for (int i = 0; i < 3000; ++i) {
    zeros += "RW 1 ZERO\n";
  }
  WriteWholeFile(dir_.Join("zeros.vmdk"), zeros);
  auto z = OpenImage(dir_.Join("zeros.vmdk"), {}, &cache);
  ASSERT_OK(z);
  EXPECT_EQ((*z)->Size(), 3000u * 512);
  std::string buf(3000 * 512, 'x');
  ASSERT_OK((*z)->Read(0, std::as_writable_bytes(std::span(buf))));
  EXPECT_TRUE(buf == std::string(3000 * 512, '\0'));
}

TEST_F(VmdkBadInput, CyclicParentsAreRefused) {
  ASSERT_TRUE(Sh(dir_.path(),
                 "qemu-img create -q -f vmdk a.vmdk 1M && "
                 "qemu-img create -q -f vmdk -b a.vmdk -F vmdk b.vmdk"));
  // b names a; make a name b.
  testing::EditEmbeddedDescriptor(dir_.Join("a.vmdk"), [](std::string t) {
    return testing::ReplaceFirst(t, "parentCID=ffffffff",
                                 "parentCID=ffffffff\nparentFileNameHint=\"b.vmdk\"");
  });
  ExpectRefused(dir_, "b.vmdk", StatusCode::kInvalidArgument);
}

TEST_F(VmdkBadInput, ChainsDeeperThanTheLimitAreRefused) {
  std::string cmd = "qemu-img create -q -f vmdk l0.vmdk 1M";
  for (int i = 1; i < 6; ++i) {
    cmd += " && qemu-img create -q -f vmdk -b l" + std::to_string(i - 1) + ".vmdk -F vmdk l" +
           std::to_string(i) + ".vmdk";
  }
  ASSERT_TRUE(Sh(dir_.path(), cmd));
  Cache cache(1 << 20);
  OpenOptions options;
  options.max_chain_depth = 4;
  EXPECT_CODE(OpenImage(dir_.Join("l5.vmdk"), options, &cache), kInvalidArgument);
  options.max_chain_depth = 6;
  EXPECT_OK(OpenImage(dir_.Join("l5.vmdk"), options, &cache));
}

TEST_F(VmdkBadInput, CorruptCompressedGrains) {
  ASSERT_TRUE(
      Sh(dir_.path(), "qemu-img convert -O vmdk -o subformat=streamOptimized good.vmdk s.vmdk"));
  std::string s = ReadWholeFile(dir_.Join("s.vmdk"));
  // The first grain marker follows the metadata; damage its stream.
  const uint64_t gd = LoadLE64(reinterpret_cast<const std::byte*>(s.data()) + kGdOffsetAt);
  const uint64_t gt = LoadLE32(reinterpret_cast<const std::byte*>(s.data()) + gd * 512);
  const uint64_t grain = LoadLE32(reinterpret_cast<const std::byte*>(s.data()) + gt * 512);
  ASSERT_GT(grain, 0u);
  std::string bad = s;
  bad.replace(grain * 512 + 12, 64, std::string(64, '\xff'));
  WriteWholeFile(dir_.Join("bad.vmdk"), bad);
  ExpectRefused(dir_, "bad.vmdk", StatusCode::kCorrupt);
  bad = s;
  Put32(&bad, grain * 512 + 8, 1u << 30);  // absurd stored size
  WriteWholeFile(dir_.Join("size.vmdk"), bad);
  ExpectRefused(dir_, "size.vmdk", StatusCode::kCorrupt);
  bad = s;
  Put64(&bad, grain * 512, 99999);  // the marker names another grain
  WriteWholeFile(dir_.Join("lba.vmdk"), bad);
  ExpectRefused(dir_, "lba.vmdk", StatusCode::kCorrupt);
}

// Decode reads a grain in one go up to where the grain table's next entry
// lies; a table whose next entry points inside the grain (here grain 1's
// entry one sector after grain 0's marker) must not cut grain 0 short: it
// reads whole, and grain 1, which the entry damages, is refused.
TEST_F(VmdkBadInput, NextGrainInsideAGrainDoesNotCutItShort) {
  ASSERT_TRUE(Sh(dir_.path(),
                 "head -c 1048576 /dev/urandom > r.raw && "
                 "qemu-img convert -f raw -O vmdk -o subformat=streamOptimized r.raw s.vmdk"));
  std::string s = ReadWholeFile(dir_.Join("s.vmdk"));
  const uint64_t gd = LoadLE64(reinterpret_cast<const std::byte*>(s.data()) + kGdOffsetAt);
  const uint64_t gt = LoadLE32(reinterpret_cast<const std::byte*>(s.data()) + gd * 512);
  const uint32_t grain0 = LoadLE32(reinterpret_cast<const std::byte*>(s.data()) + gt * 512);
  ASSERT_GT(grain0, 0u);
  // Random data: the stored grain spans far more than one sector.
  ASSERT_GT(LoadLE32(reinterpret_cast<const std::byte*>(s.data()) + grain0 * 512 + 8), 60000u);
  Put32(&s, gt * 512 + 4, grain0 + 1);
  WriteWholeFile(dir_.Join("short.vmdk"), s);
  Cache cache(1 << 20);
  auto dev = OpenImage(dir_.Join("short.vmdk"), {}, &cache);
  ASSERT_OK(dev);
  std::string got(65536, '\0');
  ASSERT_OK((*dev)->Read(0, std::as_writable_bytes(std::span(got))));
  EXPECT_TRUE(got == ReadWholeFile(dir_.Join("r.raw")).substr(0, 65536));
  EXPECT_CODE((*dev)->Read(65536, std::as_writable_bytes(std::span(got))), kCorrupt);
}

// seSparse extents (builder-made, named by a descriptor): broken headers
// fail the open, broken table entries the reads that meet them.
TEST_F(VmdkBadInput, BrokenSeSparseExtents) {
  using vmdk::testing::Put64;
  vmdk::testing::SeSparseSpec spec;
  spec.capacity_sectors = 2 * 32768;
  spec.grains = {{0, std::string(4096, 'a')}, {4096, std::string(4096, 'b')}};
  spec.zero_grains = {1};
  vmdk::testing::SeSparseLayout l;
  const std::string good = vmdk::testing::BuildSeSparse(spec, &l);
  int n = 0;
  // Writes the extent with `edit` applied and a descriptor naming it;
  // returns the descriptor's name.
  auto make = [&](const std::function<void(std::string*)>& edit) {
    const std::string name = "se" + std::to_string(++n);
    std::string bytes = good;
    edit(&bytes);
    WriteWholeFile(dir_.Join(name + "-sesparse.vmdk"), bytes);
    WriteWholeFile(
        dir_.Join(name + ".vmdk"),
        vmdk::testing::SeSparseDescriptor(spec.capacity_sectors, name + "-sesparse.vmdk", 1));
    return name + ".vmdk";
  };
  ExpectRefused(dir_, make([](std::string* b) { b->resize(300); }), StatusCode::kCorrupt);
  ExpectRefused(dir_, make([](std::string* b) { b->resize(700); }), StatusCode::kCorrupt);
  ExpectRefused(dir_, make([](std::string* b) { Put64(b, 0, 0xcafebabf); }), StatusCode::kCorrupt);
  ExpectRefused(dir_, make([](std::string* b) { Put64(b, 8, 0x300000001); }),
                StatusCode::kUnsupported);
  ExpectRefused(dir_, make([&](std::string* b) { Put64(b, l.volatile_sector * 512, 0); }),
                StatusCode::kCorrupt);
  ExpectRefused(dir_, make([&](std::string* b) { Put64(b, l.volatile_sector * 512 + 24, 1); }),
                StatusCode::kUnsupported);  // the journal must be replayed
  ExpectRefused(dir_, make([](std::string* b) { Put64(b, 128, uint64_t{1} << 40); }),
                StatusCode::kCorrupt);  // directory past the end
  ExpectRefused(dir_, make([](std::string* b) { Put64(b, 16, uint64_t{1} << 60); }),
                StatusCode::kCorrupt);  // absurd capacity
  ExpectRefused(dir_, make([](std::string* b) { Put64(b, 16, uint64_t{1} << 53); }),
                StatusCode::kUnsupported);  // a directory over the cap
  ExpectRefused(dir_, make([](std::string* b) { Put64(b, 136, 0); }), StatusCode::kCorrupt);
  // Open, then fail the read: a table past the end, a grain past the end,
  // an entry of an invalid type.
  ExpectRefused(dir_, make([&](std::string* b) {
                  Put64(b, l.gd_sector * 512 + 8, (uint64_t{0x10000000} << 32) | 0xfffffff);
                }),
                StatusCode::kCorrupt);
  const uint64_t gt0 = (l.gts_sector + l.table_of_slot.at(0) * 64) * 512;
  const std::string past =
      make([&](std::string* b) { Put64(b, gt0, vmdk::testing::AllocatedGte(uint64_t{1} << 36)); });
  ExpectRefused(dir_, past, StatusCode::kCorrupt);
  ExpectRefused(dir_, make([&](std::string* b) { Put64(b, gt0 + 8, uint64_t{7} << 60); }),
                StatusCode::kCorrupt);
  // check names the grain past the end, with a non-zero exit.
  std::string out;
  EXPECT_NE(testing::RunIn(dir_.path(), testing::ImgfsBinary() + " check " + past + " 2>&1", &out),
            0);
  EXPECT_NE(out.find("past the end"), std::string::npos) << out;
}

}  // namespace
}  // namespace imgfs
