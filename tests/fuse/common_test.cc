// SPDX-License-Identifier: MIT
// Unit tests for the CLI plumbing: option parsing, sizes, names.
#include "fuse/cli/common.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <utility>

#include "formats/format_driver.h"
#include "fuse/cli/mount_plan.h"
#include "tests/testing/status_matchers.h"

namespace imgfs::cli {
namespace {

// Each test runs in its own process (ctest), so setting the environment here
// reaches no other test.
TEST(HostIoEnvironmentTest, KnobsBecomeOpenOptions) {
  struct Case {
    const char* host_readahead;  // null: unset
    const char* read_around;
    bool direct_read_ahead;
    ReadAroundMode mode;
  };
  for (const Case& c :
       {Case{nullptr, nullptr, true, ReadAroundMode::kAuto},
        Case{"0", "0", false, ReadAroundMode::kOff}, Case{"1", "1", true, ReadAroundMode::kAlways},
        Case{"yes", "2", true, ReadAroundMode::kAuto}}) {
    for (auto [name, value] : {std::pair{"IMGFS_HOST_READAHEAD", c.host_readahead},
                               std::pair{"IMGFS_READ_AROUND", c.read_around}}) {
      if (value != nullptr) {
        ::setenv(name, value, 1);
      } else {
        ::unsetenv(name);
      }
    }
    OpenOptions options;
    ApplyHostIoEnvironment(&options);
    EXPECT_EQ(options.direct_read_ahead, c.direct_read_ahead) << c.host_readahead;
    EXPECT_EQ(options.read_around, c.mode) << c.read_around;
  }
  ::unsetenv("IMGFS_HOST_READAHEAD");
  ::unsetenv("IMGFS_READ_AROUND");
}

TEST(ParseSizeTest, SuffixesArePowersOf1024) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("64k"), 64u << 10);
  EXPECT_EQ(*ParseSize("256M"), 256u << 20);
  EXPECT_EQ(*ParseSize("1G"), 1ULL << 30);
  EXPECT_EQ(*ParseSize("2T"), 2ULL << 40);
  EXPECT_EQ(*ParseSize("0"), 0u);
}

TEST(ParseSizeTest, RejectsJunkAndOverflow) {
  EXPECT_CODE(ParseSize(""), kInvalidArgument);
  EXPECT_CODE(ParseSize("M"), kInvalidArgument);
  EXPECT_CODE(ParseSize("12X"), kInvalidArgument);
  EXPECT_CODE(ParseSize("-1"), kInvalidArgument);
  EXPECT_CODE(ParseSize("99999999999999999999"), kInvalidArgument);
  EXPECT_CODE(ParseSize("17179869184G"), kInvalidArgument);
}

TEST(HumanSizeTest, MatchesQemuSizeToStr) {
  EXPECT_EQ(HumanSize(0), "0 B");
  EXPECT_EQ(HumanSize(999), "999 B");
  EXPECT_EQ(HumanSize(1000), "0.977 KiB");
  EXPECT_EQ(HumanSize(196608), "192 KiB");
  EXPECT_EQ(HumanSize(64ULL << 20), "64 MiB");
  EXPECT_EQ(HumanSize(3ULL << 29), "1.5 GiB");
  EXPECT_EQ(HumanSize(10485760), "10 MiB");
}

constexpr OptionSpec kSpecs[] = {
    {"json", 0, false}, {"format", 'f', true}, {"options", 'o', true}, {"help", 'h', false}};

Result<ParsedArgs> Parse(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  return ParseArgs(argv, kSpecs);  // copies what it keeps
}

TEST(ParseArgsTest, LongShortJoinedAndSeparateValues) {
  auto p = Parse({"--json", "img", "-f", "qcow2", "-oallow_other", "--format=raw", "x"});
  ASSERT_OK(p);
  EXPECT_TRUE(p->Has("json"));
  EXPECT_EQ(p->Value("format"), "raw");
  EXPECT_EQ(p->Values("format"), (std::vector<std::string>{"qcow2", "raw"}));
  EXPECT_EQ(p->Value("options"), "allow_other");
  EXPECT_EQ(p->positional, (std::vector<std::string>{"img", "x"}));
}

TEST(ParseArgsTest, DoubleDashEndsOptions) {
  auto p = Parse({"--", "-f", "--json"});
  ASSERT_OK(p);
  EXPECT_EQ(p->positional, (std::vector<std::string>{"-f", "--json"}));
}

TEST(ParseArgsTest, UnknownOrMalformedOptionsAreErrors) {
  EXPECT_CODE(Parse({"--bogus"}), kInvalidArgument);
  EXPECT_CODE(Parse({"-z"}), kInvalidArgument);
  EXPECT_CODE(Parse({"-f"}), kInvalidArgument);
  EXPECT_CODE(Parse({"--json=1"}), kInvalidArgument);
  EXPECT_CODE(Parse({"-hj"}), kInvalidArgument);
}

TEST(UniqueNamerTest, StemsBecomeUnique) {
  UniqueNamer namer;
  EXPECT_EQ(namer.Take("disk", ".raw"), "disk.raw");
  EXPECT_EQ(namer.Take("disk", ".raw"), "disk-2.raw");
  EXPECT_EQ(namer.Take("disk", ".raw"), "disk-3.raw");
  EXPECT_EQ(namer.Take("disk-2", ".raw"), "disk-2-2.raw");
  EXPECT_EQ(namer.Take("a/b", ".raw"), "a_b.raw");
  EXPECT_EQ(namer.Take("", ".raw"), "image.raw");
}

TEST(StemOfTest, DropsDirectoryAndLastExtension) {
  EXPECT_EQ(StemOf("/x/y/disk.qcow2"), "disk");
  EXPECT_EQ(StemOf("disk.tar.gz"), "disk.tar");
  EXPECT_EQ(StemOf("noext"), "noext");
}

}  // namespace
}  // namespace imgfs::cli
