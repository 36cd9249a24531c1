// SPDX-License-Identifier: MIT
// The shared XML lexer: what the plist and DiskDescriptor.xml readers rely
// on, tested once here (their own tests cover their grammars).
#include "core/util/xml_cursor.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

TEST(XmlCursor, WalksMixedContentWithReferencesCdataAndComments) {
  XmlCursor x(
      "\xef\xbb\xbf<?xml version='1.0'?><!-- c --><!DOCTYPE r [<!ELEMENT r ANY>]>\n"
      "<r a='x>y' b=\"1\">t&amp;&#x41;&#66;<![CDATA[<raw>]]><!--skip--><?pi?>"
      "<c/>u</r >",
      "test: ");
  ASSERT_OK(x.SkipProlog());
  auto root = x.OpenTag();
  ASSERT_OK(root);
  EXPECT_EQ(root->name, "r");
  EXPECT_FALSE(root->empty);
  std::string text;
  ASSERT_OK(x.AppendText("r", &text));
  EXPECT_EQ(text, "t&AB<raw>");
  auto child = x.OpenTag();
  ASSERT_OK(child);
  EXPECT_EQ(child->name, "c");
  EXPECT_TRUE(child->empty);
  ASSERT_OK(x.AppendText("r", &text));
  EXPECT_EQ(text, "t&AB<raw>u");
  ASSERT_TRUE(x.AtCloseTag());
  ASSERT_OK(x.CloseTag("r"));
  ASSERT_OK(x.SkipMisc());
  EXPECT_TRUE(x.AtEnd());
}

TEST(XmlCursor, RefusesEntityDeclarationsAndMalformedInput) {
  auto text = [](std::string_view s) {
    XmlCursor x(s, "test: ");
    return x.Text("a");
  };
  EXPECT_CODE(XmlCursor("<!DOCTYPE a [<!ENTITY e 'x'>]><a/>", "t: ").SkipProlog(), kUnsupported);
  EXPECT_CODE(XmlCursor("<!DOCTYPE a [", "t: ").SkipProlog(), kCorrupt);
  EXPECT_CODE(text("x<!ENTITY e 'x'></a>"), kUnsupported);
  EXPECT_CODE(text("&e;</a>"), kCorrupt);
  EXPECT_CODE(text("&#0;</a>"), kCorrupt);
  EXPECT_CODE(text("&#xd800;</a>"), kCorrupt);
  EXPECT_CODE(text("&#x110000;</a>"), kCorrupt);
  EXPECT_CODE(text("no end"), kCorrupt);
  EXPECT_CODE(text("x</ab>"), kCorrupt);
  EXPECT_CODE(text("<![CDATA[x"), kCorrupt);
  auto ok = text("x&lt;&#x1F600;</a>");
  ASSERT_OK(ok);
  EXPECT_EQ(*ok, "x<\xf0\x9f\x98\x80");
  XmlCursor bad("<a b='1", "test: ");
  const Status s = bad.OpenTag().status();
  EXPECT_CODE(s, kCorrupt);
  EXPECT_NE(s.message().find("test: unterminated <a> tag at byte"), std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace imgfs
