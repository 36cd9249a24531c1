// SPDX-License-Identifier: MIT
// Check() against `qemu-img check`: clean images are clean for both, and
// each deliberate corruption is an error (or a leak) for both.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "core/cache/cache.h"
#include "core/util/endian.h"
#include "formats/open.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::ReadWholeFile;
using testing::RunIn;
using testing::Sh;
using testing::TempDir;
using testing::WriteWholeFile;

constexpr uint64_t kOffsetMask = 0x00fffffffffffe00ull;

uint64_t Get64(const std::string& s, uint64_t at) {
  return LoadBE64(reinterpret_cast<const std::byte*>(s.data() + at));
}
void Set64(std::string* s, uint64_t at, uint64_t v) {
  StoreBE64(reinterpret_cast<std::byte*>(s->data() + at), v);
}

Result<CheckReport> OurCheck(const TempDir& dir, const std::string& name) {
  Cache cache(1 << 20);
  IMGFS_ASSIGN_OR_RETURN(auto dev, OpenImage(dir.Join(name), {}, &cache));
  return dev->Check();
}

TEST(Qcow2Check, CleanImagesAreCleanForBoth) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 -o cluster_size=4096 a.qcow2 4M && "
                 "qemu-io -c 'write -P 1 0 1M' -c 'write -z 2M 64k' -c 'discard 512k 64k' a.qcow2 "
                 "&& qemu-img snapshot -c s1 a.qcow2 && qemu-io -c 'write -P 2 0 8k' a.qcow2 && "
                 "qemu-img convert -c -O qcow2 -o compression_type=zstd a.qcow2 c.qcow2 && "
                 "qemu-img create -q -f qcow2 -o extended_l2=on,refcount_bits=1 e.qcow2 4M && "
                 "qemu-io -c 'write -P 3 4k 4k' e.qcow2 && "
                 "qemu-img create -q -f qcow2 -o refcount_bits=64,data_file=d.data d.qcow2 4M && "
                 "qemu-io -c 'write -P 4 1M 1M' d.qcow2"));
  for (const char* name : {"a.qcow2", "c.qcow2", "e.qcow2", "d.qcow2"}) {
    SCOPED_TRACE(name);
    std::string out;
    EXPECT_EQ(RunIn(dir.path(), std::string("qemu-img check ") + name, &out), 0) << out;
    auto report = OurCheck(dir, name);
    ASSERT_OK(report);
    EXPECT_TRUE(report->clean()) << (report->errors.empty() ? report->warnings[0]
                                                            : report->errors[0]);
  }
}

struct Corruption {
  const char* name;
  // Edits the image given L1, L2 and refcount block offsets.
  std::function<void(std::string* img, uint64_t l2, uint64_t refblock)> edit;
  bool error;  // else a leak
};

TEST(Qcow2Check, CorruptionsAgreeWithQemuImgCheck) {
  IMGFS_REQUIRE_QEMU();
  const Corruption kCases[] = {
      {"refcount too low",
       [](std::string* img, uint64_t l2, uint64_t refblock) {
         uint64_t cluster = (Get64(*img, l2) & kOffsetMask) >> 16;
         StoreBE16(reinterpret_cast<std::byte*>(img->data() + refblock + cluster * 2), 0);
       },
       true},
      {"two L2 entries share a cluster",
       [](std::string* img, uint64_t l2, uint64_t) { Set64(img, l2 + 8, Get64(*img, l2)); }, true},
      {"L2 entry past end of file",
       [](std::string* img, uint64_t l2, uint64_t) {
         Set64(img, l2 + 16, (1ull << 63) | (1ull << 40));
       },
       true},
      {"L2 table overlaps the L1 table",
       [](std::string* img, uint64_t, uint64_t) {
         uint64_t l1 = Get64(*img, 40);
         Set64(img, l1 + 8, l1 | (1ull << 63));
       },
       true},
      {"copied flag clear on a data cluster with refcount 1",
       [](std::string* img, uint64_t l2, uint64_t) {
         Set64(img, l2, Get64(*img, l2) & ~(1ull << 63));
       },
       true},
      {"leaked data cluster",
       [](std::string* img, uint64_t l2, uint64_t) { Set64(img, l2 + 8, 0); }, false},
  };
  for (const Corruption& c : kCases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    ASSERT_TRUE(Sh(dir.path(),
                   "qemu-img create -q -f qcow2 a.qcow2 1G && "
                   "qemu-io -c 'write -P 0x5a 0 256k' a.qcow2"));
    std::string img = ReadWholeFile(dir.Join("a.qcow2"));
    uint64_t l2 = Get64(img, Get64(img, 40)) & kOffsetMask;
    uint64_t refblock = Get64(img, Get64(img, 48)) & kOffsetMask;
    c.edit(&img, l2, refblock);
    WriteWholeFile(dir.Join("a.qcow2"), img);
    std::string out;
    int rc = RunIn(dir.path(), "qemu-img check a.qcow2", &out);
    EXPECT_EQ(rc, c.error ? 2 : 3) << out;
    auto report = OurCheck(dir, "a.qcow2");
    ASSERT_OK(report);
    EXPECT_EQ(!report->errors.empty(), c.error) << out;
    EXPECT_FALSE(report->clean());
    if (!c.error) {
      EXPECT_EQ(report->warnings.size(), 1u);
    }
  }
}

}  // namespace
}  // namespace imgfs
