// SPDX-License-Identifier: MIT
// The bounded XML plist parser: a dmg-shaped document, every value kind,
// then one malformed or hostile input per rule (bombs included).
#include "formats/dmg/plist.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/testing/status_matchers.h"

namespace imgfs::dmg::plist {
namespace {

constexpr const char* kDmgLike = R"(<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>resource-fork</key>
	<dict>
		<key>blkx</key>
		<array>
			<dict>
				<key>Attributes</key>
				<string>0x0050</string>
				<key>CFName</key>
				<string>Protective Master Boot Record (MBR : 0)</string>
				<key>Data</key>
				<data>
				bWlzaA==
				</data>
				<key>ID</key>
				<string>-1</string>
				<key>Name</key>
				<string>Protective Master Boot Record (MBR : 0)</string>
			</dict>
		</array>
	</dict>
</dict>
</plist>
)";

TEST(PlistTest, ParsesDmgShape) {
  auto v = Parse(kDmgLike);
  ASSERT_OK(v);
  const Value* rf = v->Find("resource-fork");
  ASSERT_NE(rf, nullptr);
  const Value* blkx = rf->Find("blkx");
  ASSERT_NE(blkx, nullptr);
  ASSERT_EQ(blkx->type, Type::kArray);
  ASSERT_EQ(blkx->array.size(), 1u);
  const Value& e = blkx->array[0];
  EXPECT_EQ(e.Find("Data")->type, Type::kData);
  EXPECT_EQ(e.Find("Data")->text, "mish");
  EXPECT_EQ(e.Find("ID")->text, "-1");
  EXPECT_EQ(e.Find("Name")->text, "Protective Master Boot Record (MBR : 0)");
  EXPECT_EQ(e.Find("nope"), nullptr);
}

TEST(PlistTest, EveryKind) {
  auto v = Parse(
      "<plist><array><integer>-42</integer><integer>0x10</integer><true/><false></false>"
      "<real>1.5</real><date>2020-01-01T00:00:00Z</date><string/><data/><dict/><array/>"
      "<string>a&lt;b&gt;&amp;&quot;&apos;&#65;&#x42;&#xe9;<![CDATA[<x>]]><!-- c --></string>"
      "<integer>9223372036854775807</integer><data>QUJD</data><data>QUI=</data>"
      "</array></plist>");
  ASSERT_OK(v);
  const auto& a = v->array;
  ASSERT_EQ(a.size(), 14u);
  EXPECT_EQ(a[0].integer, -42);
  EXPECT_EQ(a[1].integer, 16);
  EXPECT_TRUE(a[2].boolean);
  EXPECT_FALSE(a[3].boolean);
  EXPECT_EQ(a[4].type, Type::kReal);
  EXPECT_EQ(a[5].type, Type::kDate);
  EXPECT_EQ(a[6].text, "");
  EXPECT_EQ(a[7].type, Type::kData);
  EXPECT_EQ(a[8].type, Type::kDict);
  EXPECT_EQ(a[9].type, Type::kArray);
  EXPECT_EQ(a[10].text, "a<b>&\"'AB\xc3\xa9<x>");
  EXPECT_EQ(a[11].integer, INT64_MAX);
  EXPECT_EQ(a[12].text, "ABC");
  EXPECT_EQ(a[13].text, "AB");
}

TEST(PlistTest, Malformed) {
  EXPECT_CODE(Parse(""), kCorrupt);
  EXPECT_CODE(Parse("<dict/>"), kCorrupt);                                         // wrong root
  EXPECT_CODE(Parse("<plist><dict></plist>"), kCorrupt);                           // unclosed
  EXPECT_CODE(Parse("<plist><dict><string>x</string></dict></plist>"), kCorrupt);  // no key
  EXPECT_CODE(Parse("<plist><string>x</plist>"), kCorrupt);
  EXPECT_CODE(Parse("<plist><string>&bogus;</string></plist>"), kCorrupt);
  EXPECT_CODE(Parse("<plist><string>&#0;</string></plist>"), kCorrupt);
  EXPECT_CODE(Parse("<plist><string>&#x110000;</string></plist>"), kCorrupt);
  EXPECT_CODE(Parse("<plist><data>QU*=</data></plist>"), kCorrupt);
  EXPECT_CODE(Parse("<plist><data>QQ=A</data></plist>"), kCorrupt);  // data after padding
  EXPECT_CODE(Parse("<plist><integer>99999999999999999999</integer></plist>"), kCorrupt);
  EXPECT_CODE(Parse("<plist><integer>12a</integer></plist>"), kCorrupt);
  EXPECT_CODE(Parse("<plist><integer></integer></plist>"), kCorrupt);
  EXPECT_CODE(Parse("<plist><bogus/></plist>"), kUnsupported);
  EXPECT_CODE(Parse("<plist><true/></plist>trailing"), kCorrupt);
  EXPECT_CODE(Parse("<plist><string><!-- x</string></plist>"), kCorrupt);
  EXPECT_CODE(Parse("<!DOCTYPE plist [ <!ELEMENT x ANY> <plist><true/></plist>"), kCorrupt);
}

TEST(PlistTest, DoctypeWithoutEntitiesIsAccepted) {
  EXPECT_OK(Parse("<!DOCTYPE plist [ <!ELEMENT plist ANY> ]><plist><true/></plist>"));
}

TEST(PlistTest, BillionLaughsIsRefused) {
  std::string bomb =
      "<?xml version=\"1.0\"?><!DOCTYPE plist [<!ENTITY lol \"lol\">"
      "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
      "<plist><string>&lol2;</string></plist>";
  EXPECT_CODE(Parse(bomb), kUnsupported);
  EXPECT_CODE(Parse("<!DOCTYPE plist SYSTEM \"x\" [<!ENTITY x SYSTEM \"/etc/passwd\">]>"
                    "<plist><string>&x;</string></plist>"),
              kUnsupported);
}

TEST(PlistTest, DeepNestingFailsFast) {
  std::string deep = "<plist>";
  for (int i = 0; i < 100000; ++i) {
    deep += "<array>";
  }
  EXPECT_CODE(Parse(deep), kCorrupt);
  std::string ok = "<plist>";
  for (int i = 0; i < 60; ++i) {
    ok += "<array>";
  }
  for (int i = 0; i < 60; ++i) {
    ok += "</array>";
  }
  ok += "</plist>";
  EXPECT_OK(Parse(ok));
}

TEST(PlistTest, CapsAreEnforced) {
  Limits small;
  small.max_elements = 10;
  std::string many = "<plist><array>";
  for (int i = 0; i < 20; ++i) {
    many += "<true/>";
  }
  many += "</array></plist>";
  EXPECT_CODE(Parse(many, small), kCorrupt);
  EXPECT_OK(Parse(many));

  Limits tiny_data;
  tiny_data.max_data_bytes = 1000;
  std::string big = "<plist><data>" + std::string(4000, 'A') + "</data></plist>";
  EXPECT_CODE(Parse(big, tiny_data), kCorrupt);
  EXPECT_OK(Parse(big));

  Limits tiny_input;
  tiny_input.max_input_bytes = 16;
  EXPECT_CODE(Parse("<plist><true/></plist>", tiny_input), kCorrupt);
}

}  // namespace
}  // namespace imgfs::dmg::plist
