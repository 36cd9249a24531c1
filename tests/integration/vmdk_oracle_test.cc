// SPDX-License-Identifier: MIT
// Oracle tests for the vmdk driver: every subformat qemu-img writes
// (monolithicSparse, monolithicFlat, twoGbMaxExtentSparse,
// twoGbMaxExtentFlat, streamOptimized; compat6, zeroed grains, hwversion,
// odd sizes, delta chains), made at test time and compared byte for byte
// with `qemu-img convert -O raw`, extent by extent with `qemu-img map`, and
// field by field with `qemu-img info`. Descriptors qemu misreads (it skips
// RDONLY, NOACCESS and ZERO extent lines, shifting the extents after them)
// are checked against vmdkmount (libvmdk) and bytes built by hand.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "core/util/endian.h"
#include "formats/open.h"
#include "tests/integration/vmdk_test_util.h"
#include "tests/testing/oracles.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::EditEmbeddedDescriptor;
using testing::ExtentsMatchMap;
using testing::QemuMap;
using testing::ReadWholeFile;
using testing::ReplaceFirst;
using testing::Sh;
using testing::TempDir;
using testing::WriteWholeFile;

// Unaligned, cross-grain and sparse writes inside a 4 MiB disk.
const char* const kPatterns =
    "-c 'write -P 0x11 1536 3000' -c 'write -P 0x5a 1M 64k' "
    "-c 'write -P 0x22 3000000 100000' -c 'write -P 0x33 3670016 5000' "
    "-c 'write -P 0x44 4193792 512'";

// src.raw: `size` bytes with kPatterns written.
void MakeSource(const TempDir& dir, const std::string& size) {
  ASSERT_TRUE(Sh(dir.path(), "qemu-img create -q -f raw src.raw " + size + " && qemu-io -f raw " +
                                 kPatterns + " src.raw >/dev/null"));
}

std::string ReadAll(const BlockDevice& dev) {
  std::string out(dev.Size(), '\0');
  EXPECT_OK(dev.Read(0, std::as_writable_bytes(std::span(out))));
  return out;
}

// Opens `image` in `dir` and compares bytes with `qemu-img convert` and
// extents with `qemu-img map`.
void ExpectMatchesQemu(const TempDir& dir, const std::string& image,
                       const OpenOptions& options = {}) {
  SCOPED_TRACE(image);
  ASSERT_TRUE(Sh(dir.path(), "qemu-img convert -O raw '" + image + "' ref.raw"));
  const std::string expected = ReadWholeFile(dir.Join("ref.raw"));
  Cache cache(16 << 20);
  auto dev = OpenImage(dir.Join(image), options, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Describe().format, "vmdk");
  EXPECT_TRUE(testing::DeviceMatches(**dev, expected));
  EXPECT_TRUE(ExtentsMatchMap(**dev, QemuMap(dir.path(), image)));
}

nlohmann::json QemuInfo(const TempDir& dir, const std::string& image) {
  std::string out;
  EXPECT_TRUE(Sh(dir.path(), "qemu-img info --output=json '" + image + "'", &out));
  return nlohmann::json::parse(out, nullptr, false);
}

// Our info against qemu-img's: size, cluster size and the vmdk fields.
void ExpectInfoMatchesQemu(const TempDir& dir, const std::string& image) {
  SCOPED_TRACE(image);
  const nlohmann::json q = QemuInfo(dir, image);
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join(image), {}, &cache);
  ASSERT_OK(dev);
  const ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.virtual_size, q["virtual-size"].get<uint64_t>());
  if (q.contains("cluster-size")) {
    EXPECT_EQ(info.cluster_size, q["cluster-size"].get<uint64_t>());
  } else {
    EXPECT_FALSE(info.cluster_size.has_value());
  }
  const nlohmann::json& qd = q["format-specific"]["data"];
  const nlohmann::json& d = info.format_specific["data"];
  EXPECT_EQ(info.format_specific["type"], "vmdk");
  for (const char* key : {"cid", "parent-cid", "create-type"}) {
    EXPECT_EQ(d[key], qd[key]) << key;
  }
  ASSERT_EQ(d["extents"].size(), qd["extents"].size());
  for (size_t i = 0; i < qd["extents"].size(); ++i) {
    const nlohmann::json& qe = qd["extents"][i];
    const nlohmann::json& e = d["extents"][i];
    for (const char* key : {"virtual-size", "format", "cluster-size", "compressed"}) {
      EXPECT_EQ(e.contains(key), qe.contains(key)) << key;
      if (qe.contains(key)) {
        EXPECT_EQ(e[key], qe[key]) << key;
      }
    }
    EXPECT_TRUE(e["filename"].get<std::string>().ends_with(qe["filename"].get<std::string>()));
  }
  if (q.contains("backing-filename")) {
    EXPECT_EQ(info.backing_filename, q["backing-filename"]);
  }
}

struct SubformatCase {
  const char* subformat;
  const char* size;
};

class VmdkSubformat : public ::testing::TestWithParam<SubformatCase> {};

TEST_P(VmdkSubformat, BytesExtentsAndInfoMatchQemu) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  MakeSource(dir, GetParam().size);
  const std::string sf = GetParam().subformat;
  ASSERT_TRUE(
      Sh(dir.path(), "qemu-img convert -f raw -O vmdk -o subformat=" + sf + " src.raw conv.vmdk"));
  ExpectMatchesQemu(dir, "conv.vmdk");
  ExpectInfoMatchesQemu(dir, "conv.vmdk");
  // The same subformat created empty and written in place (streamOptimized
  // images only take appends, which qemu-io's scattered writes are not).
  if (sf == "streamOptimized") {
    return;
  }
  ASSERT_TRUE(Sh(dir.path(), "qemu-img create -q -f vmdk -o subformat=" + sf + " made.vmdk " +
                                 GetParam().size + " && qemu-io -f vmdk " + kPatterns +
                                 " made.vmdk >/dev/null"));
  ExpectMatchesQemu(dir, "made.vmdk");
  ExpectInfoMatchesQemu(dir, "made.vmdk");
}

INSTANTIATE_TEST_SUITE_P(
    QemuSubformats, VmdkSubformat,
    ::testing::Values(SubformatCase{"monolithicSparse", "4M"},
                      SubformatCase{"monolithicSparse", "4195328"},  // 4 MiB + 3 sectors
                      SubformatCase{"monolithicFlat", "4M"},
                      SubformatCase{"monolithicFlat", "4195328"},
                      SubformatCase{"twoGbMaxExtentSparse", "4M"},
                      SubformatCase{"twoGbMaxExtentSparse", "4195328"},
                      SubformatCase{"twoGbMaxExtentFlat", "4195328"},
                      SubformatCase{"streamOptimized", "4M"},
                      SubformatCase{"streamOptimized", "4195328"}),
    [](const auto& p) { return std::string(p.param.subformat) + "_" + p.param.size; });

TEST(VmdkOracle, CreateOptionsMatchQemu) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  MakeSource(dir, "4M");
  for (const char* opts :
       {"compat6=on", "hwversion=4", "hwversion=6", "adapter_type=lsilogic", "zeroed_grain=on",
        "compat6=on,subformat=streamOptimized", "zeroed_grain=on,subformat=twoGbMaxExtentSparse"}) {
    SCOPED_TRACE(opts);
    ASSERT_TRUE(Sh(dir.path(),
                   std::string("qemu-img convert -f raw -O vmdk -o ") + opts + " src.raw o.vmdk"));
    ExpectMatchesQemu(dir, "o.vmdk");
    ExpectInfoMatchesQemu(dir, "o.vmdk");
  }
  Cache cache(1 << 20);
  ASSERT_TRUE(Sh(dir.path(), "qemu-img convert -f raw -O vmdk -o compat6=on src.raw c6.vmdk"));
  auto dev = OpenImage(dir.Join("c6.vmdk"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Describe().format_specific["data"]["hwversion"], "6");
}

TEST(VmdkOracle, ZeroedGrainsReadAsZeroExtents) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f vmdk -o zeroed_grain=on z.vmdk 4M && "
                 "qemu-io -f vmdk -c 'write -P 0x66 0 4M' -c 'write -z 64k 128k' "
                 "-c 'write -z 1M 1M' z.vmdk >/dev/null"));
  ExpectMatchesQemu(dir, "z.vmdk");
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join("z.vmdk"), {}, &cache);
  ASSERT_OK(dev);
  std::vector<Extent> extents;
  ASSERT_OK(CollectExtents(**dev, 0, (*dev)->Size(), &extents));
  bool saw_zero = false;
  for (const Extent& e : extents) {
    saw_zero |= e.kind == ExtentKind::kZero && e.offset == (64u << 10) && e.length == (128u << 10);
  }
  EXPECT_TRUE(saw_zero);
}

TEST(VmdkOracle, SplitDisksCrossExtentBoundaries) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  // 2 GiB extents: 4 GiB + 1 MiB makes three, and writes straddle both joins.
  const uint64_t two_g = uint64_t{2} << 30;
  for (const char* sf : {"twoGbMaxExtentSparse", "twoGbMaxExtentFlat"}) {
    SCOPED_TRACE(sf);
    ASSERT_TRUE(Sh(dir.path(), std::string("rm -f s*.vmdk && qemu-img create -q -f vmdk -o "
                                           "subformat=") +
                                   sf +
                                   " s.vmdk 4097M && qemu-io -f vmdk "
                                   "-c 'write -P 0x71 2147479552 8192' "
                                   "-c 'write -P 0x72 4294963200 8192' "
                                   "-c 'write -P 0x73 4296011776 4096' s.vmdk >/dev/null"));
    Cache cache(4 << 20);
    auto dev = OpenImage(dir.Join("s.vmdk"), {}, &cache);
    ASSERT_OK(dev);
    ASSERT_EQ((*dev)->Size(), uint64_t{4097} << 20);
    EXPECT_EQ((*dev)->Describe().format_specific["data"]["extents"].size(), 3u);
    for (uint64_t at : {two_g - 4096, 2 * two_g - 4096, (uint64_t{4097} << 20) - 4096}) {
      const uint64_t skip = at / 4096 - (at + 8192 > (*dev)->Size() ? 1 : 0);
      // qemu-img 7.2 counts the skipped blocks in count=.
      ASSERT_TRUE(Sh(dir.path(), "qemu-img dd -f vmdk -O raw if=s.vmdk of=w.raw bs=4096 count=" +
                                     std::to_string(skip + 2) + " skip=" + std::to_string(skip)));
      const std::string ref = ReadWholeFile(dir.Join("w.raw"));
      ASSERT_EQ(ref.size(), 8192u);
      std::string got(ref.size(), '\0');
      ASSERT_OK((*dev)->Read(skip * 4096, std::as_writable_bytes(std::span(got))));
      EXPECT_TRUE(got == ref) << "at " << skip * 4096;
    }
    if (std::string(sf) == "twoGbMaxExtentSparse") {
      EXPECT_TRUE(ExtentsMatchMap(**dev, QemuMap(dir.path(), "s.vmdk")));
    }
  }
}

TEST(VmdkOracle, StreamOptimizedWithGrainDirectoryAtEnd) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  MakeSource(dir, "4195328");
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img convert -f raw -O vmdk -o subformat=streamOptimized src.raw s.vmdk"));
  // As VMware streams it: the header says "GD at end", the footer knows.
  testing::MoveGrainDirectoryToFooter(dir.Join("s.vmdk"));
  ExpectMatchesQemu(dir, "s.vmdk");
  // Without a usable footer the image is refused, not misread.
  std::string bytes = ReadWholeFile(dir.Join("s.vmdk"));
  bytes.replace(bytes.size() - 1024, 4, "XXXX");
  WriteWholeFile(dir.Join("s.vmdk"), bytes);
  Cache cache(1 << 20);
  EXPECT_CODE(OpenImage(dir.Join("s.vmdk"), {}, &cache), kCorrupt);
}

TEST(VmdkOracle, DeltaChainsMatchQemu) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  // vmdk <- vmdk delta <- qcow2: three deep, mixed formats.
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f vmdk base.vmdk 4M && "
                 "qemu-io -f vmdk -c 'write -P 0x10 0 4M' base.vmdk >/dev/null && "
                 "qemu-img create -q -f vmdk -b base.vmdk -F vmdk mid.vmdk && "
                 "qemu-io -f vmdk -c 'write -P 0x20 1M 100k' mid.vmdk >/dev/null && "
                 "qemu-img create -q -f qcow2 -b mid.vmdk -F vmdk top.qcow2 && "
                 "qemu-io -f qcow2 -c 'write -P 0x30 3M 5000' top.qcow2 >/dev/null"));
  ExpectMatchesQemu(dir, "mid.vmdk");
  ExpectInfoMatchesQemu(dir, "mid.vmdk");
  {
    SCOPED_TRACE("top.qcow2");
    ASSERT_TRUE(Sh(dir.path(), "qemu-img convert -O raw top.qcow2 ref.raw"));
    Cache cache(4 << 20);
    auto dev = OpenImage(dir.Join("top.qcow2"), {}, &cache);
    ASSERT_OK(dev);
    EXPECT_TRUE(testing::DeviceMatches(**dev, ReadWholeFile(dir.Join("ref.raw"))));
    EXPECT_TRUE(ExtentsMatchMap(**dev, QemuMap(dir.path(), "top.qcow2")));
  }
  // A split delta over a streamOptimized base.
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img convert -O vmdk -o subformat=streamOptimized base.vmdk sbase.vmdk && "
                 "qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentSparse -b sbase.vmdk "
                 "-F vmdk sdelta.vmdk && "
                 "qemu-io -f vmdk -c 'write -P 0x40 70000 70000' sdelta.vmdk >/dev/null"));
  ExpectMatchesQemu(dir, "sdelta.vmdk");
  // A vmdk delta over a qcow2 parent (qemu-img refuses to make one, but a
  // parentFileNameHint may name any image; imgfs probes it). Bytes must be
  // the qcow2's under the delta's grains.
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img convert -O qcow2 base.vmdk qbase.qcow2 && cp mid.vmdk "
                 "mq.vmdk"));
  EditEmbeddedDescriptor(dir.Join("mq.vmdk"), [](std::string t) {
    return ReplaceFirst(t, "parentFileNameHint=\"base.vmdk\"",
                        "parentFileNameHint=\"qbase.qcow2\"");
  });
  Cache cache(4 << 20);
  auto mq = OpenImage(dir.Join("mq.vmdk"), {}, &cache);
  ASSERT_OK(mq);
  auto mid = OpenImage(dir.Join("mid.vmdk"), {}, &cache);
  ASSERT_OK(mid);
  EXPECT_TRUE(ReadAll(**mq) == ReadAll(**mid));
  EXPECT_EQ((*mq)->backing()->Describe().format, "qcow2");
}

TEST(VmdkOracle, CidMismatchIsReportedByInfoAndCheck) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f vmdk base.vmdk 1M && "
                 "qemu-img create -q -f vmdk -b base.vmdk -F vmdk d.vmdk"));
  Cache cache(1 << 20);
  {
    auto dev = OpenImage(dir.Join("d.vmdk"), {}, &cache);
    ASSERT_OK(dev);
    EXPECT_TRUE((*dev)->Describe().notes.empty());
    auto report = (*dev)->Check();
    ASSERT_OK(report);
    EXPECT_TRUE(report->errors.empty());
  }
  // The parent changes after the delta was taken: its CID moves on.
  EditEmbeddedDescriptor(dir.Join("base.vmdk"), [](std::string t) {
    const size_t at = t.find("CID=") + 4;
    return t.replace(at, t.find('\n', at) - at, "0badc1d0");  // qemu drops leading zeros
  });
  auto dev = OpenImage(dir.Join("d.vmdk"), {}, &cache);
  ASSERT_OK(dev);
  const ImageInfo info = (*dev)->Describe();
  ASSERT_EQ(info.notes.size(), 1u);
  EXPECT_NE(info.notes[0].find("0badc1d0"), std::string::npos) << info.notes[0];
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  ASSERT_EQ(report->errors.size(), 1u);
  EXPECT_NE(report->errors[0].find("parentCID"), std::string::npos);
  std::string out;
  EXPECT_NE(testing::RunIn(dir.path(), testing::ImgfsBinary() + " check d.vmdk", &out), 0) << out;
  EXPECT_NE(out.find("parentCID"), std::string::npos) << out;
}

TEST(VmdkOracle, WindowsParentHintIsTriedNextToTheImage) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f vmdk base.vmdk 1M && "
                 "qemu-io -f vmdk -c 'write -P 0x5c 0 1M' base.vmdk >/dev/null && "
                 "qemu-img create -q -f vmdk -b base.vmdk -F vmdk d.vmdk"));
  EditEmbeddedDescriptor(dir.Join("d.vmdk"), [](std::string t) {
    return ReplaceFirst(t, "parentFileNameHint=\"base.vmdk\"",
                        "parentFileNameHint=\"C:\\Users\\vm\\Disks\\base.vmdk\"");
  });
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join("d.vmdk"), {}, &cache);
  ASSERT_OK(dev);
  std::string first(512, '\0');
  ASSERT_OK((*dev)->Read(0, std::as_writable_bytes(std::span(first))));
  EXPECT_TRUE(first == std::string(512, '\x5c'));
  EXPECT_EQ((*dev)->Describe().backing_filename, "C:\\Users\\vm\\Disks\\base.vmdk");
}

TEST(VmdkOracle, BackingRulesApplyToParentsAndExtents) {
  IMGFS_REQUIRE_QEMU();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "mkdir in out && qemu-img create -q -f vmdk out/base.vmdk 1M && "
                 "qemu-io -f vmdk -c 'write -P 0x61 0 1M' out/base.vmdk >/dev/null && "
                 "qemu-img create -q -f vmdk -b ../out/base.vmdk -F vmdk in/d.vmdk && "
                 "qemu-img create -q -f vmdk -o subformat=monolithicFlat out/flat.vmdk 1M && "
                 "sed 's|\"flat-flat.vmdk\"|\"../out/flat-flat.vmdk\"|' out/flat.vmdk > "
                 "in/flat.vmdk"));
  Cache cache(1 << 20);
  // Parents resolve against the image's directory.
  auto dev = OpenImage(dir.Join("in/d.vmdk"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_NE((*dev)->backing(), nullptr);
  EXPECT_OK(OpenImage(dir.Join("in/flat.vmdk"), {}, &cache));
  // --no-backing: the delta alone, zeros where it has no grains.
  OpenOptions no_backing;
  no_backing.follow_backing = false;
  auto top = OpenImage(dir.Join("in/d.vmdk"), no_backing, &cache);
  ASSERT_OK(top);
  EXPECT_EQ((*top)->backing(), nullptr);
  EXPECT_TRUE(ReadAll(**top) == std::string(1 << 20, '\0'));
  // --confine-backing refuses a parent or an extent outside the directory.
  OpenOptions confined;
  confined.confine_backing = true;
  EXPECT_CODE(OpenImage(dir.Join("in/d.vmdk"), confined, &cache), kPermission);
  EXPECT_CODE(OpenImage(dir.Join("in/flat.vmdk"), confined, &cache), kPermission);
}

// Extent lines qemu 7.2 skips (RDONLY, NOACCESS, ZERO) still take their
// place: the extents after them keep their offsets.
TEST(VmdkOracle, AccessModesAndZeroExtentsKeepOffsets) {
  TempDir dir;
  std::string f1(4096, '\0');
  std::string f2(8192, '\0');
  for (size_t i = 0; i < f1.size(); ++i) {
    f1[i] = static_cast<char>(i * 7 + 1);
  }
  for (size_t i = 0; i < f2.size(); ++i) {
    f2[i] = static_cast<char>(i * 13 + 5);
  }
  WriteWholeFile(dir.Join("x-f001.vmdk"), f1);
  WriteWholeFile(dir.Join("x-f002.vmdk"), f2);
  const std::string head =
      "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
      "createType=\"twoGbMaxExtentFlat\"\n\n# Extent description\n";
  const std::string ddb = "\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\n";
  // FLAT with an offset, RDONLY, NOACCESS (read like libvmdk does), ZERO.
  WriteWholeFile(dir.Join("x.vmdk"), head +
                                         "RW 8 FLAT \"x-f001.vmdk\" 0\n"
                                         "RDONLY 8 FLAT \"x-f002.vmdk\" 8\n"
                                         "NOACCESS 8 FLAT \"x-f001.vmdk\" 0\n"
                                         "RW 8 ZERO\n"
                                         "RW 16 FLAT \"x-f002.vmdk\" 0\n" +
                                         ddb);
  const std::string expected = f1 + f2.substr(4096) + f1 + std::string(4096, '\0') + f2;
  Cache cache(1 << 20);
  auto dev = OpenImage(dir.Join("x.vmdk"), {}, &cache);
  ASSERT_OK(dev);
  EXPECT_TRUE(testing::DeviceMatches(**dev, expected));
  std::vector<Extent> extents;
  ASSERT_OK(CollectExtents(**dev, 0, (*dev)->Size(), &extents));
  bool zero_in_place = false;
  for (const Extent& e : extents) {
    zero_in_place |= e.kind == ExtentKind::kZero && e.offset == 12288 && e.length == 4096;
  }
  EXPECT_TRUE(zero_in_place);
  const nlohmann::json ex = (*dev)->Describe().format_specific["data"]["extents"];
  ASSERT_EQ(ex.size(), 5u);
  EXPECT_EQ(ex[1]["access"], "RDONLY");
  EXPECT_EQ(ex[3]["format"], "ZERO");

  // qemu reads FLAT offsets of RW extents.
  IMGFS_REQUIRE_QEMU();
  WriteWholeFile(dir.Join("o.vmdk"), head +
                                         "RW 8 FLAT \"x-f002.vmdk\" 8\n"
                                         "RW 8 FLAT \"x-f001.vmdk\" 0\n"
                                         "RW 8 FLAT \"x-f002.vmdk\" 0\n" +
                                         ddb);
  ExpectMatchesQemu(dir, "o.vmdk");

  // libvmdk reads the same descriptor without its ZERO line (it has no
  // ZERO extents) the same way.
  IMGFS_REQUIRE_TOOL("vmdkmount");
  WriteWholeFile(dir.Join("y.vmdk"), head +
                                         "RW 8 FLAT \"x-f001.vmdk\" 0\n"
                                         "RDONLY 8 FLAT \"x-f002.vmdk\" 0\n"
                                         "NOACCESS 8 FLAT \"x-f001.vmdk\" 0\n"
                                         "RW 16 FLAT \"x-f002.vmdk\" 0\n" +
                                         ddb);
  std::string raw;
  ASSERT_TRUE(testing::VmdkmountRaw(dir.Join("y.vmdk"), &raw));
  auto y = OpenImage(dir.Join("y.vmdk"), {}, &cache);
  ASSERT_OK(y);
  EXPECT_TRUE(testing::DeviceMatches(**y, raw));
  EXPECT_TRUE(raw == f1 + f2.substr(0, 4096) + f1 + f2);
}

// vmdkmount (libvmdk) as a second reader of what qemu-img wrote.
TEST(VmdkOracle, VmdkmountAgrees) {
  IMGFS_REQUIRE_QEMU();
  IMGFS_REQUIRE_TOOL("vmdkmount");
  TempDir dir;
  MakeSource(dir, "4M");
  // libvmdk 20200926 refuses monolithicFlat ("unsupported disk type").
  for (const char* sf :
       {"monolithicSparse", "twoGbMaxExtentFlat", "twoGbMaxExtentSparse", "streamOptimized"}) {
    SCOPED_TRACE(sf);
    const std::string name = std::string(sf) + ".vmdk";
    ASSERT_TRUE(Sh(dir.path(), std::string("qemu-img convert -f raw -O vmdk -o subformat=") + sf +
                                   " src.raw " + name));
    std::string raw;
    ASSERT_TRUE(testing::VmdkmountRaw(dir.Join(name), &raw)) << name;
    Cache cache(4 << 20);
    auto dev = OpenImage(dir.Join(name), {}, &cache);
    ASSERT_OK(dev);
    EXPECT_TRUE(testing::DeviceMatches(**dev, raw));
  }
}

}  // namespace
}  // namespace imgfs
