// SPDX-License-Identifier: MIT
// Name mangling: 8.3 names that fit, NT case flags, numeric and hashed
// tails, long names, names FAT cannot hold, collisions.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "vvfat/names.h"

namespace imgfs::vvfat {
namespace {

std::vector<FatName> Mangle(std::vector<std::string> names) { return MangleDirectory(names); }

std::string Short(const FatName& n) { return std::string(n.short_name.data(), 11); }

TEST(NamesTest, UpperCaseEightThreeNeedsNoLongName) {
  auto n = Mangle({"README.TXT", "MAKEFILE"});
  EXPECT_EQ(Short(n[0]), "README  TXT");
  EXPECT_TRUE(n[0].long_name.empty());
  EXPECT_EQ(n[0].nt_case, 0);
  EXPECT_EQ(Short(n[1]), "MAKEFILE   ");
  EXPECT_FALSE(n[0].changed);
}

TEST(NamesTest, LowerCasePartsUseTheNtFlagsInsteadOfALongName) {
  auto n = Mangle({"readme.txt", "README.txt", "readme2.TXT"});
  EXPECT_EQ(n[0].nt_case, kNtLowerBase | kNtLowerExt);
  EXPECT_TRUE(n[0].long_name.empty());
  EXPECT_EQ(n[1].nt_case, kNtLowerExt);
  EXPECT_EQ(n[2].nt_case, kNtLowerBase);
  EXPECT_EQ(Short(n[2]), "README2 TXT");
}

TEST(NamesTest, MixedCaseKeepsTheShortNameWithoutATailButAddsALongName) {
  auto n = Mangle({"Makefile"});
  EXPECT_EQ(Short(n[0]), "MAKEFILE   ");
  EXPECT_EQ(n[0].long_name, u"Makefile");
  EXPECT_EQ(n[0].nt_case, 0);
}

TEST(NamesTest, LongNamesGetTildeOneToFourThenAHashedTail) {
  std::vector<std::string> names;
  for (int i = 0; i < 7; ++i) {
    names.push_back("long file name " + std::to_string(i) + ".text");
  }
  auto n = Mangle(names);
  EXPECT_EQ(Short(n[0]), "LONGFI~1TEX");
  EXPECT_EQ(Short(n[1]), "LONGFI~2TEX");
  EXPECT_EQ(Short(n[3]), "LONGFI~4TEX");
  // From the fifth on: two characters, four hex digits, ~1.
  const std::string fifth = Short(n[4]);
  EXPECT_EQ(fifth.substr(0, 2), "LO");
  EXPECT_EQ(fifth.substr(6, 2), "~1");
  EXPECT_EQ(fifth.substr(8), "TEX");
  EXPECT_EQ(n[4].long_name, u"long file name 4.text");
  std::set<std::string> shorts;
  for (const FatName& f : n) {
    EXPECT_TRUE(shorts.insert(Short(f)).second) << Short(f);
  }
}

TEST(NamesTest, AHostNameThatLooksLikeATailKeepsIt) {
  // "LONGFI~1.TEX" fits 8.3 and claims its name before the generated one.
  auto n = Mangle({"long file name.text", "LONGFI~1.TEX"});
  EXPECT_EQ(Short(n[1]), "LONGFI~1TEX");
  EXPECT_EQ(Short(n[0]), "LONGFI~2TEX");
}

TEST(NamesTest, DotFilesAndNonAsciiGetLossyShortNames) {
  auto n = Mangle({".bashrc", "\xc3\xa9t\xc3\xa9.txt", "a+b.c"});
  EXPECT_EQ(Short(n[0]), "BASHRC~1   ");
  EXPECT_EQ(n[0].long_name, u".bashrc");
  EXPECT_EQ(Short(n[1]), "_T_~1   TXT");
  EXPECT_EQ(n[1].long_name, u"\u00e9t\u00e9.txt");
  EXPECT_EQ(Short(n[2]), "A_B~1   C  ");
  EXPECT_FALSE(n[1].changed);
}

TEST(NamesTest, CharactersBeyondTheBmpBecomeSurrogatePairs) {
  auto n = Mangle({"\xf0\x9f\x98\x80.txt"});  // U+1F600
  ASSERT_EQ(n[0].long_name.size(), 6u);
  EXPECT_EQ(n[0].long_name[0], 0xd83d);
  EXPECT_EQ(n[0].long_name[1], 0xde00);
}

TEST(NamesTest, NamesFatCannotHoldAreChangedDeterministically) {
  auto n = Mangle({"a:b", "what?", "trailing.", "bad\xff\xfe", "ctl\x01"});
  EXPECT_EQ(n[0].shown, "a_b");
  EXPECT_EQ(n[1].shown, "what_");
  EXPECT_EQ(n[2].shown, "trailing_");
  EXPECT_EQ(n[3].shown, "bad__");
  EXPECT_EQ(n[4].shown, "ctl_");
  for (const FatName& f : n) {
    EXPECT_TRUE(f.changed);
  }
}

TEST(NamesTest, NamesEqualButForCaseGetNumberedVariants) {
  auto n = Mangle({"Makefile", "makefile", "MAKEFILE", "a.TXT", "A.txt"});
  EXPECT_EQ(n[0].shown, "Makefile");
  EXPECT_EQ(n[1].shown, "makefile~2");
  EXPECT_EQ(n[2].shown, "MAKEFILE~3");
  EXPECT_EQ(n[4].shown, "A~2.txt");
  EXPECT_TRUE(n[1].changed);
  EXPECT_FALSE(n[0].changed);
  std::set<std::string> shorts;
  for (const FatName& f : n) {
    EXPECT_TRUE(shorts.insert(Short(f)).second) << Short(f);
  }
}

TEST(NamesTest, NamesAreCutTo255Units) {
  auto n = Mangle({std::string(255, 'x'), std::string(200, 'y') + std::string(40, '\xe2')});
  EXPECT_EQ(n[0].long_name.size(), 255u);
  EXPECT_FALSE(n[0].changed);
  EXPECT_LE(n[1].long_name.size(), 255u);
}

TEST(NamesTest, ThousandsOfSimilarNamesStayUnique) {
  std::vector<std::string> names;
  for (int i = 0; i < 5000; ++i) {
    names.push_back("document number " + std::to_string(i) + ".docx");
  }
  auto n = Mangle(names);
  std::set<std::string> shorts;
  for (const FatName& f : n) {
    EXPECT_TRUE(shorts.insert(Short(f)).second) << Short(f);
  }
}

TEST(NamesTest, ChecksumMatchesTheSpecificationsExample) {
  // ChkSum() over "FOO     BAR" computed by hand with the rotate-add rule.
  std::array<char, 11> s;
  const std::string text = "FOO     BAR";
  std::copy(text.begin(), text.end(), s.begin());
  uint8_t sum = 0;
  for (char c : s) {
    sum = static_cast<uint8_t>(((sum & 1) ? 0x80 : 0) + (sum >> 1) + static_cast<uint8_t>(c));
  }
  EXPECT_EQ(ShortNameChecksum(s), sum);
  EXPECT_EQ(ShortNameText(s), "FOO.BAR");
}

}  // namespace
}  // namespace imgfs::vvfat
