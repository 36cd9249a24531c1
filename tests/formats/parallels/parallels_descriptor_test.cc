// SPDX-License-Identifier: MIT
// DiskDescriptor.xml from text: the bounded XML reader, then the
// descriptor's rules (storages, snapshot chain, images), one mutation each.
#include <gtest/gtest.h>

#include <string>

#include "formats/parallels/descriptor.h"
#include "formats/parallels/xml.h"
#include "tests/formats/parallels/test_parallels_builder.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::parallels {
namespace {

using testing::BuildDescriptor;
using testing::BundleSpec;
using testing::SeededGuid;

TEST(ParallelsXml, ParsesElementsTextEntitiesAndSkipsTheRest) {
  auto e = xml::Parse(
      "<?xml version='1.0'?>\n<!-- c --><!DOCTYPE r>\n<r a=\"1\" b='x>y'>"
      "<x>&lt;&#65;&#x42;&amp;</x><!-- inside --><y/><![CDATA[<raw>]]><?pi?></r>\n");
  ASSERT_OK(e);
  EXPECT_EQ(e->name, "r");
  ASSERT_EQ(e->children.size(), 2u);
  EXPECT_EQ(e->Child("x")->text, "<AB&");
  EXPECT_EQ(e->text, "<raw>");
}

TEST(ParallelsXml, RefusesMalformedAndHostileInput) {
  EXPECT_CODE(xml::Parse(""), kCorrupt);
  EXPECT_CODE(xml::Parse("<a><b></a>"), kCorrupt);
  EXPECT_CODE(xml::Parse("<a>"), kCorrupt);
  EXPECT_CODE(xml::Parse("<a>&bogus;</a>"), kCorrupt);
  EXPECT_CODE(xml::Parse("<a></a><b/>"), kCorrupt);
  EXPECT_CODE(xml::Parse("<a x=1/>"), kCorrupt);
  EXPECT_CODE(xml::Parse("<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>"), kUnsupported);
  EXPECT_CODE(xml::Parse("<a><!ENTITY e \"x\"></a>"), kUnsupported);
  std::string deep;
  for (int i = 0; i < 100; ++i) {
    deep += "<a>";
  }
  EXPECT_CODE(xml::Parse(deep), kCorrupt);
  EXPECT_CODE(xml::Parse(std::string(xml::kMaxInputBytes + 1, ' ')), kCorrupt);
  std::string many = "<a>";
  for (uint64_t i = 0; i <= xml::kMaxElements; ++i) {
    many += "<b/>";
  }
  EXPECT_CODE(xml::Parse(many + "</a>"), kCorrupt);
}

// Two snapshots over a disk split in two storages.
BundleSpec Split() {
  BundleSpec b;
  b.disk_sectors = 8192;
  const std::string root = SeededGuid(1);
  const std::string top = SeededGuid(2);
  b.storages.push_back({0, 4096, 2048, {{root, "Plain", "a.hds"}, {top, "Compressed", "a2.hds"}}});
  b.storages.push_back(
      {4096, 8192, 2048, {{root, "Compressed", "b.hds"}, {top, "Compressed", "b2.hds"}}});
  b.shots = {{root, "{00000000-0000-0000-0000-000000000000}"}, {top, root}};
  b.top_guid = top;
  return b;
}

TEST(ParallelsDescriptor, ParsesStoragesAndTheSnapshotChain) {
  auto d = ParseDescriptor(BuildDescriptor(Split()));
  ASSERT_OK(d);
  EXPECT_EQ(d->disk_sectors, 8192u);
  ASSERT_EQ(d->storages.size(), 2u);
  EXPECT_EQ(d->storages[1].start_sectors, 4096u);
  EXPECT_TRUE(d->storages[0].images[0].plain);
  EXPECT_EQ(d->chain, (std::vector<std::string>{SeededGuid(2), SeededGuid(1)}));
}

TEST(ParallelsDescriptor, TopFromThePredefinedGuidAndUppercaseGuids) {
  BundleSpec b = Split();
  b.top_guid.clear();
  const std::string top = "{5FBAABE3-6958-40FF-92A7-860E329AAB41}";
  b.storages[0].images[1].guid = top;
  b.storages[1].images[1].guid = top;
  b.shots[1].first = top;
  auto d = ParseDescriptor(BuildDescriptor(b));
  ASSERT_OK(d);
  EXPECT_EQ(d->chain.front(), kPredefinedTopGuid);
}

TEST(ParallelsDescriptor, RefusesEachBrokenRule) {
  auto code = [](BundleSpec b) { return ParseDescriptor(BuildDescriptor(b)).status().code(); };
  BundleSpec b = Split();
  b.storages[1].start = 4000;  // overlap
  EXPECT_EQ(code(b), StatusCode::kCorrupt);
  b = Split();
  b.storages[1].start = 4100;  // gap
  EXPECT_EQ(code(b), StatusCode::kCorrupt);
  b = Split();
  b.disk_sectors = 9000;  // storages end short of the disk
  EXPECT_EQ(code(b), StatusCode::kCorrupt);
  b = Split();
  b.storages[0].end = 0;  // ends before it starts
  EXPECT_EQ(code(b), StatusCode::kCorrupt);
  b = Split();
  b.shots[0].second = SeededGuid(2);  // root's parent is the top: a loop
  EXPECT_EQ(code(b), StatusCode::kCorrupt);
  b = Split();
  b.shots[1].second = SeededGuid(9);  // unknown parent
  EXPECT_EQ(code(b), StatusCode::kCorrupt);
  b = Split();
  b.top_guid = SeededGuid(8);  // no such snapshot
  EXPECT_EQ(code(b), StatusCode::kCorrupt);
  b = Split();
  b.storages[1].images.pop_back();  // a storage lacks the top's image
  EXPECT_EQ(code(b), StatusCode::kCorrupt);
  b = Split();
  b.storages[0].images[1].type = "Plain";  // plain overlay
  EXPECT_EQ(code(b), StatusCode::kUnsupported);
  b = Split();
  b.storages[0].images[1].type = "Weird";
  EXPECT_EQ(code(b), StatusCode::kUnsupported);
  b = Split();
  b.storages[0].images[1].file = "";
  EXPECT_EQ(code(b), StatusCode::kCorrupt);
  b = Split();
  b.storages.clear();
  EXPECT_EQ(code(b), StatusCode::kCorrupt);
  std::string text = BuildDescriptor(Split());
  EXPECT_CODE(ParseDescriptor(text.substr(0, text.size() / 2)), kCorrupt);  // malformed
  std::string padded = text;
  padded.replace(padded.find("<Padding>0"), 10, "<Padding>1");
  EXPECT_CODE(ParseDescriptor(padded), kUnsupported);
  std::string bad_size = text;
  bad_size.replace(bad_size.find("<Disk_size>8192"), 15, "<Disk_size>8x92");
  EXPECT_CODE(ParseDescriptor(bad_size), kCorrupt);
  EXPECT_CODE(ParseDescriptor("<Other/>"), kCorrupt);
}

TEST(ParallelsDescriptor, SingleImageWithoutSnapshots) {
  BundleSpec b;
  b.disk_sectors = 100;
  b.storages.push_back({0, 100, 2048, {{SeededGuid(3), "Plain", "x.hds"}}});
  auto d = ParseDescriptor(BuildDescriptor(b));
  ASSERT_OK(d);
  EXPECT_EQ(d->chain, (std::vector<std::string>{SeededGuid(3)}));
  b.storages[0].images.push_back({SeededGuid(4), "Compressed", "y.hds"});
  EXPECT_CODE(ParseDescriptor(BuildDescriptor(b)), kCorrupt);  // which is current?
}

}  // namespace
}  // namespace imgfs::parallels
