// SPDX-License-Identifier: MIT
// The format registry itself: probing over the ordered list (ties, foreign
// signatures, tail magic, the raw fallback), --format by name, the optional
// hooks (opening by path, companion files, writers, virtual views) and the
// invariants every driver in the list keeps.
#include "formats/registry.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "formats/dmg/udif.h"
#include "formats/open.h"
#include "formats/vpc/header.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

ProbeInput Input(const std::string& head, const std::string& tail, uint64_t file_size) {
  return ProbeInput{std::as_bytes(std::span(head)), std::as_bytes(std::span(tail)), file_size};
}

// A whole file given as bytes: head and tail as ReadProbeBuffers takes them.
struct FileBytes {
  std::string bytes;
  std::string head() const { return bytes.substr(0, kProbeHeadBytes); }
  std::string tail() const {
    return bytes.substr(bytes.size() - std::min(bytes.size(), kProbeTailBytes));
  }
};

Result<ProbeResult> Probe(const FileBytes& f) {
  const std::string head = f.head();
  const std::string tail = f.tail();
  return ProbeFormat(Input(head, tail, f.bytes.size()), "t.img");
}

std::string KolyTrailer(const dmg::Koly& k) {
  auto bytes = dmg::EncodeKoly(k);
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

int Fifty(const ProbeInput&) { return 50; }
int Zero(const ProbeInput&) { return 0; }
int One(const ProbeInput&) { return 1; }

TEST(RegistryProbeTest, TieAsksForFormat) {
  const FormatDriver drivers[] = {{"a", "a", &Fifty}, {"b", "b", &Fifty}, {"raw", "raw", &One}};
  auto r = ProbeFormatAmong(drivers, Input("x", "x", 1), "t.img");
  EXPECT_CODE(r, kInvalidArgument);
  EXPECT_NE(r.status().message().find("choose one with --format"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(r.status().message().rfind("t.img: ", 0), 0u) << r.status().message();
}

TEST(RegistryProbeTest, HighestScoreWinsAndNullProbesAreSkipped) {
  const FormatDriver drivers[] = {
      {"bundle", "by path only"}, {"a", "a", &Fifty}, {"z", "z", &Zero}, {"raw", "raw", &One}};
  auto r = ProbeFormatAmong(drivers, Input("x", "x", 1), "t.img");
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "a");
  EXPECT_TRUE(r->note.empty());
}

TEST(RegistryProbeTest, NothingMatchesWithoutRaw) {
  const FormatDriver drivers[] = {{"z", "z", &Zero}};
  EXPECT_CODE(ProbeFormatAmong(drivers, Input("x", "x", 1), "t.img"), kInvalidArgument);
}

TEST(RegistryProbeTest, VdiSignatureAt64IsVdi) {
  // The 64-byte text before it varies by writer and is not looked at.
  FileBytes f{std::string(64, 'x') + std::string("\x7f\x10\xda\xbe\x01\x00\x01\x00", 8) +
              std::string(440, '\0')};
  auto r = Probe(f);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "vdi");
  f.bytes[64] = '\x7e';
  r = Probe(f);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "raw");
}

TEST(RegistryProbeTest, BochsAndCloopSignatures) {
  FileBytes bochs{std::string("Bochs Virtual HD Image", 22) + std::string(10, '\0') + "Redolog" +
                  std::string(4096, '\0')};
  auto r = Probe(bochs);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "bochs");
  const std::string head = "#!/bin/sh\n#V2.0 Format\n" + std::string(200, '\0');
  FileBytes cloop{head + std::string(8192, 'x')};
  r = Probe(cloop);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "cloop");
  // A V4.0 image with its header last is found by its tail.
  FileBytes last{std::string(8192, 'x') + "#!/bin/sh\n#V4.0 Format\n" + std::string(113, '\0')};
  r = Probe(last);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "cloop");
  cloop.bytes[14] = '9';  // "V2.9": no signature
  r = Probe(cloop);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "raw");
}

TEST(RegistryProbeTest, QcowVersion1AndQedMagicsProbe) {
  FileBytes f{std::string("QFI\xfb\x00\x00\x00\x01", 8) + std::string(504, '\0')};
  auto r = Probe(f);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "qcow");
  f.bytes[7] = '\x02';  // version 2 is qcow2's
  r = Probe(f);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "qcow2");
  f.bytes = std::string("QED\0", 4) + std::string(508, '\0');
  r = Probe(f);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "qed");
  f.bytes[3] = 'x';
  r = Probe(f);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "raw");
}

TEST(RegistryProbeTest, BothParallelsSignaturesAreParallels) {
  for (const char* magic : {"WithoutFreeSpace", "WithouFreSpacExt"}) {
    FileBytes f{std::string(magic) + std::string(496, '\0')};
    auto r = Probe(f);
    ASSERT_OK(r);
    EXPECT_EQ(r->driver->name, "parallels");
    f.bytes[15] = 'x';
    r = Probe(f);
    ASSERT_OK(r);
    EXPECT_EQ(r->driver->name, "raw");
  }
}

TEST(RegistryProbeTest, VhdxFileIdentifierProbesAsVhdx) {
  FileBytes f{"vhdxfile" + std::string(8184, '\0')};
  auto r = Probe(f);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "vhdx");
  f.bytes[7] = 'F';  // the signature is case sensitive
  r = Probe(f);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "raw");
}

TEST(RegistryProbeTest, VmdkSparseHeadersAndDescriptorsAreVmdk) {
  for (const std::string& head :
       {std::string("KDMV\x01\x00\x00\x00", 8), std::string("# Disk DescriptorFile\nversion=1\n"),
        std::string("# written by hand\nversion=1\ncreateType=\"monolithicFlat\"\n")}) {
    FileBytes f{head + std::string(1024, '\0')};
    auto r = Probe(f);
    ASSERT_OK(r);
    EXPECT_EQ(r->driver->name, "vmdk");
  }
  // Text without a createType is not a descriptor.
  auto r = Probe(FileBytes{"version=1\nhello\n"});
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "raw");
}

TEST(RegistryProbeTest, MagicPastTheHeadIsRaw) {
  // A 66-byte file cannot hold vdi's 4-byte magic at 64.
  FileBytes f{std::string(64, '\0') + std::string("\x7f\x10", 2)};
  auto r = Probe(f);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "raw");
  EXPECT_NE(r->note.find("probed as raw"), std::string::npos);
}

TEST(RegistryProbeTest, KolyTrailerWinsOverRaw) {
  FileBytes f{std::string(4096, 'x') + KolyTrailer(dmg::Koly{})};
  auto r = Probe(f);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "dmg");
  // A koly with a version imgfs does not know is still claimed, so that
  // opening it fails by name rather than showing the bytes as raw.
  dmg::Koly odd;
  odd.version = 5;
  f.bytes = std::string(4096, 'x') + KolyTrailer(odd);
  r = Probe(f);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "dmg");
  // "koly" somewhere else in the tail is not a trailer.
  f.bytes = std::string(4096, 'x') + KolyTrailer(dmg::Koly{}) + "tail";
  r = Probe(f);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "raw");
}

// A VHD footer: "conectix" at 0 (dynamic, differencing) or a valid footer
// in the last 512 bytes (fixed, which must never be shown as raw). A head
// magic beats a footer at the tail, which may be the last sector of a disk
// inside another container.
TEST(RegistryProbeTest, VpcFooterAtHeadOrTail) {
  vpc::Footer footer;
  footer.disk_type = static_cast<uint32_t>(vpc::DiskType::kFixed);
  const std::vector<std::byte> encoded = vpc::EncodeFooter(footer);
  const std::string tail(reinterpret_cast<const char*>(encoded.data()), encoded.size());
  FileBytes f{std::string(4096, 'x') + tail};
  auto r = Probe(f);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "vpc");
  f.bytes = tail + std::string(4096, '\0');
  r = Probe(f);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "vpc");
  // An unknown disk type at the tail is not a footer.
  footer.disk_type = 7;
  const std::vector<std::byte> odd = vpc::EncodeFooter(footer);
  f.bytes = std::string(4096, 'x') + std::string(reinterpret_cast<const char*>(odd.data()), 512);
  r = Probe(f);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "raw");
  // qcow2's head magic wins over a footer at the tail.
  f.bytes = std::string("QFI\xfb\0\0\0\3", 8) + std::string(4088, '\0') + tail;
  r = Probe(f);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "qcow2");
}

TEST(RegistryProbeTest, FileTooSmallForTheTailIsRaw) {
  FileBytes f{"koly" + std::string(100, '\0')};
  auto r = Probe(f);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "raw");
  FileBytes empty{""};
  r = Probe(empty);
  ASSERT_OK(r);
  EXPECT_EQ(r->driver->name, "raw");
}

// Opens 512 zero bytes from memory with --format `format`.
Result<std::unique_ptr<BlockDevice>> OpenZerosAs(const std::string& format, Cache* cache) {
  OpenOptions o;
  o.format = format;
  return OpenImageFile(NewMemoryFile("t.img", std::string(512, '\0')), o, cache);
}

TEST(RegistryFormatTest, UnknownFormatNameListsTheKnownOnes) {
  Cache cache(1 << 20);
  auto r = OpenZerosAs("vhd", &cache);
  EXPECT_CODE(r, kInvalidArgument);
  EXPECT_NE(r.status().message().find("unknown format 'vhd'"), std::string::npos);
  for (const FormatDriver& d : AllFormats()) {
    EXPECT_NE(r.status().message().find(d.name), std::string::npos) << d.name;
  }
  testing::TempDir dir;
  testing::WriteWholeFile(dir.Join("t.img"), "x");
  OpenOptions o;
  o.format = "vhd";
  EXPECT_CODE(OpenImage(dir.Join("t.img"), o, &cache), kInvalidArgument);
}

TEST(RegistryFormatTest, PathOnlyFormatRefusesOneFile) {
  Cache cache(1 << 20);
  auto r = OpenZerosAs("sparsebundle", &cache);
  EXPECT_CODE(r, kUnsupported);
  EXPECT_NE(r.status().message().find("opened by path"), std::string::npos) << r.status().message();
}

constexpr const char* kBundleInfo = R"(<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0">
<dict>
	<key>band-size</key>
	<integer>4096</integer>
	<key>bundle-backingstore-version</key>
	<integer>1</integer>
	<key>diskimage-bundle-type</key>
	<string>com.apple.diskimage.sparsebundle</string>
	<key>size</key>
	<integer>8192</integer>
</dict>
</plist>
)";

TEST(RegistryPathTest, BundleDirectoriesAreClaimedByPath) {
  testing::TempDir dir;
  const std::string bundle = dir.Join("x.sparsebundle");
  std::filesystem::create_directories(bundle + "/bands");
  testing::WriteWholeFile(bundle + "/Info.plist", kBundleInfo);
  const FormatDriver* d = FindPathFormat(bundle);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->name, "sparsebundle");
  EXPECT_EQ(FindPathFormat(dir.path()), nullptr);
  EXPECT_EQ(FindPathFormat(bundle + "/Info.plist"), nullptr);
  Cache cache(1 << 20);
  auto dev = OpenImage(bundle, OpenOptions{}, &cache);
  ASSERT_OK(dev);
  EXPECT_EQ((*dev)->Size(), 8192u);
  OpenOptions named;
  named.format = "sparsebundle";
  ASSERT_OK(OpenImage(bundle, named, &cache));
  // --format names the path driver even where it would not claim the path.
  EXPECT_FALSE(OpenImage(dir.path(), named, &cache).ok());
}

TEST(RegistryCompanionTest, LaterDmgSegmentsBelongToTheFirst) {
  dmg::Koly k;
  k.segment_number = 2;
  k.segment_count = 3;
  const std::string tail = KolyTrailer(k);
  const std::string head(16, '\0');
  const ProbeInput in = Input(head, tail, 1 << 20);
  EXPECT_EQ(CompanionOf("dir/x.002.dmgpart", in), "x.dmg");
  EXPECT_EQ(CompanionOf("x.003.dmgpart", in), "x.dmg");
  EXPECT_EQ(CompanionOf("renamed.bin", in), "");  // a part, of an unknown image
  k.segment_number = 1;
  const std::string first = KolyTrailer(k);
  EXPECT_EQ(CompanionOf("x.dmg", Input(head, first, 1 << 20)), std::nullopt);
  EXPECT_EQ(CompanionOf("x.002.dmgpart", Input(head, "short", 5)), std::nullopt);
}

TEST(RegistryWriterTest, LookupsFollowTheDrivers) {
  EXPECT_EQ(WriterNames(), std::vector<std::string_view>{"dmg"});
  EXPECT_EQ(VirtualViewNames(), std::vector<std::string_view>{"dmg"});
  EXPECT_NE(FindWriter("dmg"), nullptr);
  EXPECT_EQ(FindWriter("raw"), nullptr);  // raw output is core/convert's own
  EXPECT_EQ(FindWriter("qcow2"), nullptr);
  EXPECT_EQ(FindWriter("nope"), nullptr);
  EXPECT_NE(FindVirtualView("dmg"), nullptr);
  EXPECT_EQ(FindVirtualView("raw"), nullptr);
  EXPECT_EQ(FindVirtualView("nope"), nullptr);
}

TEST(RegistryWriterTest, DmgOptionsParseAndRefuse) {
  const FormatWriter* w = FindWriter("dmg");
  ASSERT_NE(w, nullptr);
  std::vector<std::string> ok = {"format=udbz,level=9", ",chunk_size=64k,"};
  EXPECT_OK(w->parse_options(ok));
  EXPECT_OK(w->parse_options({}));
  for (const char* bad : {"bogus=1", "format=UDXX", "level=10", "level=", "chunk_size=1000",
                          "chunk_size=128M", "chunk_size=1Q"}) {
    SCOPED_TRACE(bad);
    std::vector<std::string> v = {bad};
    EXPECT_CODE(w->parse_options(v), kInvalidArgument);
  }
}

// A raw device over `bytes`, opened through the registry.
std::unique_ptr<BlockDevice> RawDevice(const std::string& bytes, Cache* cache) {
  OpenOptions o;
  o.format = "raw";
  auto dev = OpenImageFile(NewMemoryFile("src.img", bytes), o, cache);
  EXPECT_OK(dev);
  return dev.ok() ? std::move(*dev) : nullptr;
}

std::string ReadAll(const BlockDevice& dev) {
  std::string out(dev.Size(), '\0');
  EXPECT_OK(dev.Read(0, std::as_writable_bytes(std::span(out))));
  return out;
}

TEST(RegistryWriterTest, DmgWriterRoundTripsAndNotesPadding) {
  Cache cache(1 << 20);
  std::string disk(1000, '\0');
  for (size_t i = 0; i < 600; ++i) {
    disk[i] = static_cast<char>('a' + i % 26);
  }
  auto src = RawDevice(disk, &cache);
  ASSERT_NE(src, nullptr);
  const FormatWriter* w = FindWriter("dmg");
  std::vector<std::string> values = {"format=UDRO,chunk_size=512"};
  auto options = w->parse_options(values);
  ASSERT_OK(options);
  auto out = NewMemoryFile("out.dmg");
  auto notes = w->write(*src, *out, *options, WriteContext{});
  ASSERT_OK(notes);
  ASSERT_FALSE(notes->empty());
  EXPECT_NE(notes->back().find("size 1000 is not a multiple of 512"), std::string::npos);
  EXPECT_NE(notes->back().find("24 zero bytes"), std::string::npos) << notes->back();
  auto back = OpenImageFile(std::move(out), OpenOptions{}, &cache);
  ASSERT_OK(back);
  EXPECT_EQ((*back)->Describe().format, "dmg");
  EXPECT_EQ(ReadAll(**back), disk + std::string(24, '\0'));
}

TEST(RegistryViewTest, DmgViewIsAProbedDmg) {
  Cache cache(1 << 20);
  std::string disk(4096, 'q');
  auto view = FindVirtualView("dmg")->make(RawDevice(disk, &cache));
  ASSERT_OK(view);
  std::string bytes = ReadAll(**view);
  auto back = OpenImageFile(NewMemoryFile("v.dmg", bytes), OpenOptions{}, &cache);
  ASSERT_OK(back);
  EXPECT_EQ((*back)->Describe().format, "dmg");
  EXPECT_EQ(ReadAll(**back), disk);
}

TEST(RegistryInvariantsTest, EveryDriverIsComplete) {
  std::set<std::string_view> names;
  for (const FormatDriver& d : AllFormats()) {
    EXPECT_TRUE(names.insert(d.name).second) << "duplicate " << d.name;
    EXPECT_FALSE(d.description.empty()) << d.name;
    EXPECT_EQ(d.probe == nullptr, d.open == nullptr) << d.name;
    EXPECT_EQ(d.claims_path == nullptr, d.open_path == nullptr) << d.name;
    EXPECT_TRUE(d.open != nullptr || d.open_path != nullptr) << d.name;
    if (d.writer != nullptr) {
      EXPECT_NE(d.writer->parse_options, nullptr) << d.name;
      EXPECT_NE(d.writer->write, nullptr) << d.name;
      EXPECT_FALSE(d.writer->help.empty()) << d.name;
    }
    if (d.view != nullptr) {
      EXPECT_NE(d.view->make, nullptr) << d.name;
      EXPECT_FALSE(d.view->help.empty()) << d.name;
    }
    EXPECT_EQ(FindFormat(d.name), &d);
  }
  // raw is the fallback: the last driver, scoring 1 on anything.
  ASSERT_FALSE(AllFormats().empty());
  EXPECT_EQ(AllFormats().back().name, "raw");
  EXPECT_EQ(FindFormat("nope"), nullptr);
}

}  // namespace
}  // namespace imgfs
