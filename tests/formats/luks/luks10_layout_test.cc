// SPDX-License-Identifier: MIT
// LUKS1 images in the LUKS 1.0 layout, which cryptsetup 1.0.0 wrote and
// later versions no longer do: key material right after the header (sector
// 2), each key slot's area right after the previous one (ceil(key bytes *
// 4000 / 512) sectors, not rounded to 4096 bytes), and the payload right
// after the last area, unaligned. No Debian tool writes these any more, so
// tests/formats/luks/make_luks1_old.py (python3-cryptography) builds them.
// Oracles: the known plaintext; cryptsetup, which reads the header
// (luksDump) and unlocks a key slot (open --test-passphrase needs no
// dm-crypt); and qemu-img for the one shape it reads (aligned key slots,
// payload unaligned after them): it refuses unaligned key slot areas.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/cache/cache.h"
#include "formats/open.h"
#include "tests/testing/oracles.h"
#include "tests/testing/passphrase.h"
#include "tests/testing/qemu_fixture.h"

namespace imgfs::testing {
namespace {

const std::string kScript = std::string(IMGFS_TEST_DATA_DIR) + "/../formats/luks/make_luks1_old.py";
constexpr char kPass[] = "old pass\n with a newline";

struct OldCase {
  const char* name;
  uint32_t key_bytes;
  const char* mode;
  const char* hash;
  const char* slots;
  uint32_t first_slot_sector;
  bool align_slots;  // the later layout's key slots, for qemu-img
  uint32_t payload_gap;
};

// Where the builder puts key slot `slot`'s area and the payload, in sectors
// (the LUKS 1.0 writer's arithmetic: eight areas one after the other, then
// the payload).
uint64_t AreaSectors(const OldCase& c) { return (uint64_t{c.key_bytes} * 4000 + 511) / 512; }
uint64_t SlotSector(const OldCase& c, int slot) {
  const uint64_t step = c.align_slots ? (AreaSectors(c) + 7) / 8 * 8 : AreaSectors(c);
  return c.first_slot_sector + static_cast<uint64_t>(slot) * step;
}
uint64_t PayloadSector(const OldCase& c) {
  return SlotSector(c, 7) + AreaSectors(c) + c.payload_gap;
}

class Luks10Layout : public ::testing::TestWithParam<OldCase> {};

TEST_P(Luks10Layout, DecryptsToThePlaintext) {
  const OldCase& c = GetParam();
  IMGFS_REQUIRE_TOOL("python3");
  IMGFS_REQUIRE_TOOL("cryptsetup");
  TempDir dir;
  std::string plain(64 * 1024 + 3 * 512, '\0');
  for (size_t i = 0; i < plain.size(); ++i) {
    plain[i] = static_cast<char>((i * 7919 + i / 512) & 0xff);
  }
  WriteWholeFile(dir.Join("plain"), plain);
  WriteWholeFile(dir.Join("pw"), kPass);
  std::string cmd =
      "python3 " + ShellQuote(kScript) + " plain img --passphrase-file pw --key-bytes " +
      std::to_string(c.key_bytes) + " --mode " + c.mode + " --hash " + c.hash + " --slots " +
      c.slots + " --first-slot-sector " + std::to_string(c.first_slot_sector) + " --payload-gap " +
      std::to_string(c.payload_gap) + (c.align_slots ? " --align-slots" : "");
  ASSERT_TRUE(Sh(dir.path(), cmd));
  const uint64_t payload = PayloadSector(c);
  EXPECT_NE(payload % 8, 0u) << "the payload must be unaligned";

  // cryptsetup reads the header as this layout and unlocks with the key file.
  std::string dump;
  ASSERT_EQ(RunIn(dir.path(), "cryptsetup luksDump img", &dump), 0) << dump;
  EXPECT_NE(dump.find("Payload offset:\t" + std::to_string(payload)), std::string::npos) << dump;
  for (const char* p = c.slots; *p != 0; ++p) {
    if (*p != ',') {
      EXPECT_NE(
          dump.find("Key material offset:\t" + std::to_string(SlotSector(c, *p - '0')) + "\n"),
          std::string::npos)
          << dump;
    }
  }
  EXPECT_TRUE(Sh(dir.path(), "cryptsetup open --test-passphrase --key-file pw img"));
  EXPECT_FALSE(Sh(dir.path(),
                  "printf wrong > bad && "
                  "cryptsetup open --test-passphrase --key-file bad img 2>/dev/null"));
  if (c.align_slots) {
    ASSERT_TRUE(HaveQemuTools() || !InCi()) << "qemu-img missing but CI=true";
    if (HaveQemuTools()) {
      ASSERT_TRUE(Sh(dir.path(),
                     "qemu-img convert --object secret,id=s0,file=pw --image-opts"
                     " driver=luks,key-secret=s0,file.filename=img -O raw ref.raw"));
      EXPECT_TRUE(ReadWholeFile(dir.Join("ref.raw")) == plain);
    }
  }

  static Cache cache(8 << 20);
  OpenOptions options = OptionsWithPassphrase(kPass);
  auto dev = OpenImage(dir.Join("img"), options, &cache);
  ASSERT_TRUE(dev.ok()) << dev.status().ToString();
  EXPECT_EQ((*dev)->Size(), plain.size());
  EXPECT_TRUE(DeviceMatches(**dev, plain));
  const ImageInfo info = (*dev)->Describe();
  EXPECT_EQ(info.format, "luks");
  EXPECT_EQ(info.format_specific["data"]["payload-offset"], payload * 512);

  // A wrong passphrase is the usual one-line refusal.
  OpenOptions wrong = OptionsWithPassphrase("old pass");  // kPass up to its newline
  auto refused = OpenImage(dir.Join("img"), wrong, &cache);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("no key slot accepts this passphrase"),
            std::string::npos)
      << refused.status().ToString();
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, Luks10Layout,
    ::testing::Values(
        // cryptsetup 1.0.0's defaults: aes-cbc-essiv:sha256, sha1, 128-bit key.
        OldCase{"v100_essiv_sha1_128", 16, "cbc-essiv:sha256", "sha1", "0,3", 2, false, 0},
        OldCase{"v100_plain_sha256_256_last_slot", 32, "cbc-plain", "sha256", "7", 2, false, 5},
        // The first area aligned, the others not.
        OldCase{"first8_essiv_sha512_256", 32, "cbc-essiv:sha256", "sha512", "1,6", 8, false, 3},
        // Aligned key slots, unaligned payload: qemu-img reads these too.
        OldCase{"aligned_plain_sha1_256", 32, "cbc-plain", "sha1", "2", 8, true, 9},
        OldCase{"aligned_essiv_sha256_128", 16, "cbc-essiv:sha256", "sha256", "0,5", 8, true, 5}),
    [](const ::testing::TestParamInfo<OldCase>& param_info) {
      return std::string(param_info.param.name);
    });

}  // namespace
}  // namespace imgfs::testing
