// SPDX-License-Identifier: MIT
// Real VMware-made disks (tests/data/vmdk-real/, see tests/data/README.md):
// vmware-vdiskmanager's monolithicSparse file and twoGbMaxExtentSparse
// descriptor with its extent, both holding the same 10 MiB MBR + NTFS
// disk. imgfs must read the SHA-256 listed there, agree with qemu-img and
// vmdkmount, and `check` them clean.
#include <gtest/gtest.h>

#include <string>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "tests/testing/oracles.h"
#include "tests/testing/qemu_fixture.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

using testing::ReadWholeFile;
using testing::Sh;
using testing::ShellQuote;
using testing::TempDir;
using testing::WriteWholeFile;

constexpr const char* kRawSha256 =
    "a3bcf05f07a1c06a3380eeca8571f0efb2b85afafa1e21662b8cad436d1f7727";
constexpr uint64_t kDiskBytes = 10485760;

std::string DataPath(const std::string& name) {
  return std::string(IMGFS_TEST_DATA_DIR) + "/vmdk-real/" + name;
}

std::string Sha256(const TempDir& dir, const std::string& bytes) {
  WriteWholeFile(dir.Join("digest.in"), bytes);
  std::string out;
  EXPECT_TRUE(Sh(dir.path(), "sha256sum digest.in", &out));
  return out.substr(0, 64);
}

class VmdkRealFixture : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    IMGFS_REQUIRE_TOOL("xz");
    IMGFS_REQUIRE_TOOL("sha256sum");
    ASSERT_TRUE(Sh(dir_.path(), "xz -dc " +
                                    ShellQuote(DataPath("vmdk-rs-monolithicSparse.vmdk.xz")) +
                                    " > monolithicSparse.vmdk && tar -xJf " +
                                    ShellQuote(DataPath("vmdk-rs-twoGbMaxExtentSparse.tar.xz"))));
  }
  TempDir dir_;
};

TEST_P(VmdkRealFixture, ReadsTheListedDisk) {
  const std::string image = GetParam() + ".vmdk";
  Cache cache(4 << 20);
  auto dev = OpenImage(dir_.Join(image), {}, &cache);
  ASSERT_OK(dev);
  ASSERT_EQ((*dev)->Size(), kDiskBytes);
  std::string raw(kDiskBytes, '\0');
  ASSERT_OK((*dev)->Read(0, std::as_writable_bytes(std::span(raw))));
  EXPECT_EQ(Sha256(dir_, raw), kRawSha256);
  const ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.format_specific["data"]["create-type"], GetParam());
  EXPECT_EQ(info.format_specific["data"]["hwversion"], "7");
  auto report = (*dev)->Check();
  ASSERT_OK(report);
  EXPECT_TRUE(report->clean());
  // Small reads at odd offsets agree with the whole.
  EXPECT_TRUE(testing::DeviceMatches(**dev, raw));
}

TEST_P(VmdkRealFixture, QemuAndVmdkmountAgree) {
  IMGFS_REQUIRE_QEMU();
  const std::string image = dir_.Join(GetParam() + ".vmdk");
  std::string qemu;
  ASSERT_TRUE(testing::QemuImgRaw(image, "vmdk", &qemu));
  EXPECT_EQ(Sha256(dir_, qemu), kRawSha256);
  IMGFS_REQUIRE_TOOL("vmdkmount");
  std::string libvmdk;
  ASSERT_TRUE(testing::VmdkmountRaw(image, &libvmdk));
  EXPECT_EQ(Sha256(dir_, libvmdk), kRawSha256);
}

INSTANTIATE_TEST_SUITE_P(VmwareMade, VmdkRealFixture,
                         ::testing::Values("monolithicSparse", "twoGbMaxExtentSparse"));

}  // namespace
}  // namespace imgfs
