// SPDX-License-Identifier: MIT
// The DMGs made by Apple's hdiutil that tests/data/dmg-real/ holds (taken
// from node-udif's and Keramics's test data; provenance and licences in
// tests/data/README.md, "dmg-real/"), with what they must read as. Shared by
// the oracle test (tests/integration/dmg_real_fixture_test.cc) and the FUSE
// test (tests/fuse/dmg_real_mount_test.cc). The values here are the README's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace imgfs::testing {

struct RealDmg {
  const char* stem;        // tests/data/dmg-real/<stem>.dmg.xz
  const char* dmg_sha256;  // of the unpacked .dmg file
  uint64_t virtual_bytes;
  const char* raw_sha256;  // of the whole virtual disk
  const char* variant;     // what `info` must name: UDZO, UDCO, UDBZ, ULFO, ULMO, UDRO
  size_t blkx_count;       // blkx tables; 7zz extracts one file per table
  const char* scheme;      // partition table: "mbr", "gpt" or "none"
  size_t partition_count;  // used entries of that table
  // Which oracles read the image right. qemu-img (Debian 12) has zlib and
  // raw chunks only.
  // dmg2img 1.6.7 misreads every Keramics image: on the zlib and bzip2 ones
  // it writes 31 sectors too few and repeats the MBR where the primary GPT
  // table belongs (that table's chunk is stored at data-fork offset 0); on
  // the ADC one it stops at blkx 2 with "ERROR: reading file"; LZFSE and
  // LZMA chunks it skips ("Unsupported or corrupted block found"), exit 0.
  bool dmg2img_reads;
  bool qemu_reads;
  bool data_fork_crc;  // the koly has a data-fork CRC-32 (Keramics's say "none")
  // The MD5 of the whole disk that the image's own project expects
  // (Keramics's keramics-formats/tests/udif.rs), or nullptr if none does.
  const char* upstream_md5;
};

// The raw SHA-256 shared by the four node-udif compression-* images (one
// disk written with four codecs).
inline constexpr const char* kNodeUdifDiskSha256 =
    "0786ad1fdcba31a3f03ee80eb1d6e8c7ee2f4647a2b4b6f1855c9fe0719784de";

inline constexpr RealDmg kRealDmgs[] = {
    {"nodeudif-compression-adc", "eda4d109ca08bd8f17e5b53f1a0ab908df77583f6dfe9d84390e1b8cd1dc2ca5",
     5242880, kNodeUdifDiskSha256, "UDCO", 5, "mbr", 2, true, false, true, nullptr},
    {"nodeudif-compression-bz2", "8671b36d7e31072f628dd55abd4272375c60e28b9ae35d73a57ad5f550d63b74",
     5242880, kNodeUdifDiskSha256, "UDBZ", 5, "mbr", 2, true, false, true, nullptr},
    {"nodeudif-compression-raw", "49ca88d074f91d543a81ab6cecd4966358641ea42debadfc913a29963fa602a7",
     5242880, kNodeUdifDiskSha256, "UDRO", 5, "mbr", 2, true, true, true, nullptr},
    {"nodeudif-compression-zlib",
     "1955b25df934d08c541ca18bcbbe8a9715f3a51815522285727cb465a5234807", 5242880,
     kNodeUdifDiskSha256, "UDZO", 5, "mbr", 2, true, true, true, nullptr},
    {"nodeudif-raw", "558530643eeb4e9b809c4e2a7bb36926e47a94f318ca775d513af3fc79b12d59", 2342912,
     "2deccfded5012b341726df88ea00d71e4ac6b8fbf93bf157885269b42d61b910", "UDRO", 1, "none", 0, true,
     true, true, nullptr},
    {"keramics-hfsplus_zlib", "7062bf17e85027eff1056939e2ade0be3a81b57b09c750ebfc7730a09e88eb18",
     1964032, "d3fc84894c6a387275cd71087096268873031221db7fd29647de4ddad88316ad", "UDZO", 8, "gpt",
     1, false, true, false, "399bfcc39637bde7e43eb86fcc8565ae"},
    {"keramics-hfsplus_adc", "0a3a2cbfdc3a21f3c12971f5167c3a30bbbc8aae85db84f2e8968c45f59cc4ce",
     1964032, "d27324bc2d352649e8ca2733c48e2730fa09cb0970086c1bc71e534e215a3e99", "UDCO", 8, "gpt",
     1, false, false, false, "08c32fd5d0fc1c2274d1c2d34185312a"},
    {"keramics-hfsplus_bzip2", "44ada7de1faacacca3aedb65221c5230d70fb081102114606d5cba3f0a04ee8b",
     1964032, "b918c2606696b5067dcc4297ba5b08b2573dfeaf737a44f1110f27a10a3d4a0c", "UDBZ", 8, "gpt",
     1, false, false, false, "7ec785450bbc17de417be373fd5d2159"},
    {"keramics-hfsplus_lzfse", "92f11283e25a341e1708e5bdd59bf72cc780ca7ed280f8a4b0f5dbdf0559f501",
     1964032, "5f3091e9c5698a1de3006f3dba629b60c0c88585d0202f1b65cfdca876848aa9", "ULFO", 8, "gpt",
     1, false, false, false, "c2c160c788676641725fd1a4b8da733b"},
    {"keramics-hfsplus_lzma", "2481d512400ca20caeafb70ee88abcc48e2e84bcb368a742a3ad8d7f7a11a85c",
     1964032, "b144d0fedfa63d6c4dfa65904bca85fda67aa40b166f1d147ef5de28b7db8bc8", "ULMO", 8, "gpt",
     1, false, false, false, nullptr},
};

inline std::string RealDmgXzPath(const RealDmg& d) {
  return std::string(IMGFS_TEST_DATA_DIR) + "/dmg-real/" + d.stem + ".dmg.xz";
}

}  // namespace imgfs::testing
