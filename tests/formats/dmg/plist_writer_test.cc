// SPDX-License-Identifier: MIT
// The plist writer against text hdiutil wrote: the "Protective Master Boot
// Record (MBR : 0)" blkx and the `plst` entry of an hdiutil-made image as
// quoted in the libyal/libmodi UDIF documentation ("Mac OS disk image
// types", section "UDIF XML plist"). Decoding that base64 and encoding it
// again must give the same lines, tabs included.
#include "formats/dmg/plist_writer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/formats/dmg/udif_readback.h"

namespace imgfs::dmg {
namespace {

// Four tabs, 44 characters a line: hdiutil's layout of a mish.
constexpr const char* kHdiutilMbrMish =
    "\t\t\t\tbWlzaAAAAAEAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAA\n"
    "\t\t\t\tAAgIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
    "\t\t\t\tAAIAAAAgQfL6MwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
    "\t\t\t\tAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
    "\t\t\t\tAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
    "\t\t\t\tAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
    "\t\t\t\tAAAAAAACgAAABQAAAAMAAAAAAAAAAAAAAAAAAAABAAAA\n"
    "\t\t\t\tAAAAIA0AAAAAAAAAH/////8AAAAAAAAAAAAAAAEAAAAA\n"
    "\t\t\t\tAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

using testing::DecodeBase64;

TEST(PlistWriterTest, Base64LinesReproduceHdiutilText) {
  std::vector<std::byte> mish = DecodeBase64(kHdiutilMbrMish);
  ASSERT_EQ(mish.size(), 204u + 2 * 40u);  // header, one zlib chunk, terminator
  EXPECT_EQ(Base64Lines(mish, 4), kHdiutilMbrMish);
}

TEST(PlistWriterTest, LineLengthFollowsIndent) {
  std::vector<std::byte> data(100, std::byte{0xff});
  std::string lines = Base64Lines(data, 0);
  EXPECT_EQ(lines.find('\n'), 76u);
  lines = Base64Lines(data, 8);
  EXPECT_EQ(lines.substr(0, 8), std::string(8, '\t'));
  EXPECT_EQ(lines.find('\n'), 8u + 12u);
  EXPECT_EQ(Base64Lines({}, 4), "");
  std::vector<std::byte> two = {std::byte{'h'}, std::byte{'i'}};
  EXPECT_EQ(Base64Lines(two, 1), "\taGk=\n");
}

TEST(PlistWriterTest, DocumentHasHdiutilShape) {
  std::vector<std::byte> mish = DecodeBase64(kHdiutilMbrMish);
  const PlistBlkx blkx[] = {{"Protective Master Boot Record (MBR : 0)", -1, 0x0050, mish}};
  std::string doc = EmitUdifPlist(blkx);
  const std::string expected_head =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
      "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
      "<plist version=\"1.0\">\n"
      "<dict>\n"
      "\t<key>resource-fork</key>\n"
      "\t<dict>\n"
      "\t\t<key>blkx</key>\n"
      "\t\t<array>\n"
      "\t\t\t<dict>\n"
      "\t\t\t\t<key>Attributes</key>\n"
      "\t\t\t\t<string>0x0050</string>\n"
      "\t\t\t\t<key>CFName</key>\n"
      "\t\t\t\t<string>Protective Master Boot Record (MBR : 0)</string>\n"
      "\t\t\t\t<key>Data</key>\n"
      "\t\t\t\t<data>\n" +
      std::string(kHdiutilMbrMish) +
      "\t\t\t\t</data>\n"
      "\t\t\t\t<key>ID</key>\n"
      "\t\t\t\t<string>-1</string>\n"
      "\t\t\t\t<key>Name</key>\n"
      "\t\t\t\t<string>Protective Master Boot Record (MBR : 0)</string>\n"
      "\t\t\t</dict>\n"
      "\t\t</array>\n"
      "\t\t<key>plst</key>\n"
      "\t\t<array>\n"
      "\t\t\t<dict>\n"
      "\t\t\t\t<key>Attributes</key>\n"
      "\t\t\t\t<string>0x0050</string>\n"
      "\t\t\t\t<key>Data</key>\n"
      "\t\t\t\t<data>\n";
  ASSERT_EQ(doc.substr(0, expected_head.size()), expected_head);
  // The plst data as hdiutil writes it: 15 lines of zeros, the one line
  // with 00 01 00 01, 15 more, then a 12-character tail.
  std::string zeros = "\t\t\t\t" + std::string(44, 'A') + "\n";
  std::string plst;
  for (int i = 0; i < 15; ++i) {
    plst += zeros;
  }
  plst += "\t\t\t\tAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAAQAAAAAAAAAA\n";
  for (int i = 0; i < 15; ++i) {
    plst += zeros;
  }
  plst += "\t\t\t\tAAAAAAAAAAAA\n";
  const std::string expected_tail = plst +
                                    "\t\t\t\t</data>\n"
                                    "\t\t\t\t<key>ID</key>\n"
                                    "\t\t\t\t<string>0</string>\n"
                                    "\t\t\t\t<key>Name</key>\n"
                                    "\t\t\t\t<string></string>\n"
                                    "\t\t\t</dict>\n"
                                    "\t\t</array>\n"
                                    "\t</dict>\n"
                                    "</dict>\n"
                                    "</plist>\n";
  EXPECT_EQ(doc.substr(expected_head.size()), expected_tail);
}

TEST(PlistWriterTest, NamesAreEscaped) {
  EXPECT_EQ(XmlEscape("a<b>&c"), "a&lt;b&gt;&amp;c");
  EXPECT_EQ(XmlEscape(std::string("x\x01y", 3)), "x?y");
  EXPECT_EQ(XmlEscape("Ünïcode (Apple_HFS : 2)"), "Ünïcode (Apple_HFS : 2)");
  std::vector<std::byte> mish(4);
  const PlistBlkx blkx[] = {{"R&D <disk>", 3, 0x0050, mish}};
  std::string doc = EmitUdifPlist(blkx);
  EXPECT_NE(doc.find("<string>R&amp;D &lt;disk&gt;</string>"), std::string::npos);
  EXPECT_NE(doc.find("<string>3</string>"), std::string::npos);
}

}  // namespace
}  // namespace imgfs::dmg
