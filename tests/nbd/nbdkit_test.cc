// SPDX-License-Identifier: MIT
// The nbdkit plugin (nbd/) end to end: nbdkit loads the freshly built
// nbdkit-imgfs-plugin.so on a Unix socket, and independent NBD clients
// (nbdcopy, qemu-img, nbdinfo, the kernel's nbd-client) read what it serves.
// The reference bytes come from `qemu-img convert -O raw` of the same
// image, the reference map from `imgfs map`. Every format in the registry
// that qemu-img can write is served, so formats that land later are tested
// here without a line of this file changing.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "formats/registry.h"
#include "tests/nbd/nbd_wire.h"
#include "tests/testing/oracles.h"
#include "tests/testing/qemu_fixture.h"

namespace imgfs::testing {
namespace {

// nbdkit and every client the tests use; qemu-img/qemu-io make the images.
#define IMGFS_REQUIRE_NBD_TOOLS()  \
  do {                             \
    IMGFS_REQUIRE_QEMU();          \
    IMGFS_REQUIRE_TOOL("nbdkit");  \
    IMGFS_REQUIRE_TOOL("nbdcopy"); \
    IMGFS_REQUIRE_TOOL("nbdinfo"); \
  } while (false)

std::string Socket(const TempDir& dir) { return dir.Join("nbd.sock"); }
std::string Uri(const TempDir& dir) { return "nbd+unix:///?socket=" + Socket(dir); }

// Sanitizer builds preload the sanitizer runtime into nbdkit, which lacks
// it (the plugin needs it); empty otherwise.
std::string SanitizerEnv() {
  const std::string preload = IMGFS_NBDKIT_PRELOAD;
  return preload.empty() ? std::string()
                         : "LD_PRELOAD=" + ShellQuote(preload) + " ASAN_OPTIONS=detect_leaks=0 ";
}

// The same for a command nbdkit runs (--run): its clients need no runtime.
std::string Unpreloaded(const std::string& run) {
  return std::string(IMGFS_NBDKIT_PRELOAD).empty() ? run : "unset LD_PRELOAD; " + run;
}

// nbdkit serving `params` (file=... and the rest) with the build-tree plugin
// on the dir's socket while `run` runs; nbdkit exits with run's status.
std::string Served(const TempDir& dir, const std::string& params, const std::string& run) {
  // nbdkit leaves its socket behind; the next server of the test reuses the name.
  return "rm -f " + ShellQuote(Socket(dir)) + " && " + SanitizerEnv() + "nbdkit --unix " +
         ShellQuote(Socket(dir)) + " --readonly --run " + ShellQuote(Unpreloaded(run)) + " " +
         ShellQuote(IMGFS_NBDKIT_PLUGIN) + " " + params;
}

std::string File(const TempDir& dir, const std::string& name) {
  return "file=" + ShellQuote(dir.Join(name));
}

// The bytes nbdcopy and qemu-img read over NBD must both be `want`.
void ExpectClientsRead(const TempDir& dir, const std::string& params, const std::string& want) {
  const std::string uri = ShellQuote(Uri(dir));
  ASSERT_TRUE(Sh(dir.path(), Served(dir, params,
                                    "nbdcopy " + uri + " nbdcopy.raw && qemu-img convert -f raw " +
                                        uri + " -O raw qemu.raw")));
  const std::string by_nbdcopy = ReadWholeFile(dir.Join("nbdcopy.raw"));
  const std::string by_qemu = ReadWholeFile(dir.Join("qemu.raw"));
  EXPECT_EQ(by_nbdcopy.size(), want.size());
  EXPECT_TRUE(by_nbdcopy == want) << "nbdcopy read other bytes";
  EXPECT_TRUE(by_qemu == want) << "qemu-img convert over NBD read other bytes";
}

// Patterns at aligned, unaligned and cluster-crossing places, and a gap.
constexpr const char* kWrites =
    "-c 'write -P 0x5a 0 64k' -c 'write -P 0xa5 1M 300k' -c 'write -P 0x33 3147264 1536' "
    "-c 'write -P 0x11 5M 4k' -c 'write -P 0xee 16252928 524288'";

// qemu-img creates `image` (16 MiB) as `fmt` and qemu-io writes kWrites into it.
std::string Patterned(const std::string& fmt, const std::string& image,
                      const std::string& create_options = "") {
  return "qemu-img create -q -f " + fmt + " " + create_options + " " + image +
         " 16M && qemu-io -f " + fmt + " " + kWrites + " " + image + " >/dev/null";
}

TEST(NbdkitPlugin, QcowBackingChainReadsAsQemuImgDoes) {
  IMGFS_REQUIRE_NBD_TOOLS();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), Patterned("qcow2", "base.qcow2")));
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2 && "
                 "qemu-io -f qcow2 -c 'write -P 0x77 1100k 70k' -c 'write -z 0 32k' top.qcow2 "
                 ">/dev/null"));
  std::string want;
  ASSERT_TRUE(QemuImgRaw(dir.Join("top.qcow2"), "qcow2", &want));
  ExpectClientsRead(dir, File(dir, "top.qcow2"), want);

  // no-backing=true: the top layer alone, as qemu-img sees it without its base.
  std::string alone;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img convert -O raw 'json:{\"driver\":\"qcow2\",\"backing\":null,"
                 "\"file\":{\"driver\":\"file\",\"filename\":\"top.qcow2\"}}' alone.raw"));
  ExpectClientsRead(dir, File(dir, "top.qcow2") + " no-backing=true",
                    ReadWholeFile(dir.Join("alone.raw")));
}

TEST(NbdkitPlugin, DmgReadsAsQemuImgDoes) {
  IMGFS_REQUIRE_NBD_TOOLS();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), Patterned("raw", "disk.raw")));
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " convert -O dmg disk.raw disk.dmg"));
  std::string want;
  ASSERT_TRUE(QemuImgRaw(dir.Join("disk.dmg"), "dmg", &want));
  ASSERT_EQ(want, ReadWholeFile(dir.Join("disk.raw")));
  ExpectClientsRead(dir, File(dir, "disk.dmg"), want);
}

TEST(NbdkitPlugin, InternalSnapshotReadsAsQemuImgDoes) {
  IMGFS_REQUIRE_NBD_TOOLS();
  TempDir dir;
  ASSERT_TRUE(
      Sh(dir.path(), Patterned("qcow2", "disk.qcow2") +
                         " && qemu-img snapshot -c before disk.qcow2 "
                         "&& qemu-io -f qcow2 -c 'write -P 0x99 0 2M' disk.qcow2 >/dev/null"));
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img convert -f qcow2 -l snapshot.name=before -O raw disk.qcow2 "
                 "before.raw"));
  ExpectClientsRead(dir, File(dir, "disk.qcow2") + " snapshot=before",
                    ReadWholeFile(dir.Join("before.raw")));
}

TEST(NbdkitPlugin, PartitionIsTheSliceTheTableNames) {
  IMGFS_REQUIRE_NBD_TOOLS();
  IMGFS_REQUIRE_TOOL("sfdisk");
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), Patterned("raw", "disk.raw") +
                                 " && printf '2048,8192\\n12288,\\n' | "
                                 "sfdisk -q disk.raw >/dev/null && qemu-img convert -O qcow2 "
                                 "disk.raw disk.qcow2"));
  const std::string raw = ReadWholeFile(dir.Join("disk.raw"));
  ExpectClientsRead(dir, File(dir, "disk.qcow2") + " partition=2",
                    raw.substr(12288 * 512, raw.size() - 12288 * 512));
}

// Every format of the registry that qemu-img writes, made by qemu-img.
struct QemuWritable {
  const char* name;
  const char* create_options;
};
constexpr QemuWritable kQemuWritable[] = {
    {"qcow2", ""}, {"qcow", ""}, {"qed", ""},       {"vmdk", ""}, {"vpc", "-o subformat=dynamic"},
    {"vhdx", ""},  {"vdi", ""},  {"parallels", ""},
};

std::vector<std::string> LandedQemuFormats() {
  std::vector<std::string> names;
  for (const QemuWritable& f : kQemuWritable) {
    if (FindFormat(f.name) != nullptr) {
      names.emplace_back(f.name);
    }
  }
  return names;
}

class NbdkitFormat : public ::testing::TestWithParam<std::string> {};

TEST_P(NbdkitFormat, ServesTheBytesQemuImgReads) {
  IMGFS_REQUIRE_NBD_TOOLS();
  const std::string fmt = GetParam();
  std::string options;
  for (const QemuWritable& f : kQemuWritable) {
    if (fmt == f.name) {
      options = f.create_options;
    }
  }
  TempDir dir;
  const std::string image = "disk." + fmt;
  ASSERT_TRUE(Sh(dir.path(), Patterned(fmt, image, options)));
  std::string want;
  ASSERT_TRUE(QemuImgRaw(dir.Join(image), fmt, &want));
  ExpectClientsRead(dir, File(dir, image), want);
}

INSTANTIATE_TEST_SUITE_P(Registry, NbdkitFormat, ::testing::ValuesIn(LandedQemuFormats()),
                         [](const auto& param_info) { return param_info.param; });

// Runs of (offset, length, data?) with neighbours of the same kind merged.
struct MapRun {
  uint64_t offset;
  uint64_t length;
  bool data;
  bool operator==(const MapRun&) const = default;
};
void Append(std::vector<MapRun>* runs, MapRun r) {
  if (!runs->empty() && runs->back().data == r.data &&
      runs->back().offset + runs->back().length == r.offset) {
    runs->back().length += r.length;
  } else {
    runs->push_back(r);
  }
}
std::ostream& operator<<(std::ostream& os, const MapRun& r) {
  return os << "{" << r.offset << "+" << r.length << (r.data ? " data}" : " hole}");
}

TEST(NbdkitPlugin, BlockStatusMatchesImgfsMap) {
  IMGFS_REQUIRE_NBD_TOOLS();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), Patterned("qcow2", "base.qcow2") +
                                 " && qemu-img create -q -f qcow2 -b "
                                 "base.qcow2 -F qcow2 top.qcow2 && qemu-io -f qcow2 -c 'write -z 0 "
                                 "64k' -c 'write -P 1 8M 128k' top.qcow2 >/dev/null"));
  ASSERT_TRUE(
      Sh(dir.path(), Served(dir, File(dir, "top.qcow2"),
                            "nbdinfo --map --json " + ShellQuote(Uri(dir)) + " > map.json")));
  std::string imgfs_json;
  ASSERT_TRUE(Sh(dir.path(), ImgfsBinary() + " map --json top.qcow2", &imgfs_json));
  std::vector<MapRun> by_nbd;
  for (const auto& e : nlohmann::json::parse(ReadWholeFile(dir.Join("map.json")))) {
    const auto type = e.at("type").get<uint32_t>();
    Append(&by_nbd, {e.at("offset").get<uint64_t>(), e.at("length").get<uint64_t>(), type == 0});
    // Stored data is type 0; every other range must be a hole that reads as zeros.
    EXPECT_TRUE(type == 0 || type == 3) << e.dump();
  }
  std::vector<MapRun> by_imgfs;
  for (const auto& e : nlohmann::json::parse(imgfs_json)) {
    Append(&by_imgfs, {e.at("start").get<uint64_t>(), e.at("length").get<uint64_t>(),
                       e.at("data").get<bool>()});
  }
  EXPECT_EQ(by_nbd, by_imgfs);
  EXPECT_GE(by_nbd.size(), 5U) << "the image should have data, zeros and holes";
}

TEST(NbdkitPlugin, FourConcurrentClientsReadTheSameBytes) {
  IMGFS_REQUIRE_NBD_TOOLS();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 -o compression_type=zlib disk.qcow2 32M "
                 "&& qemu-io -f qcow2 " +
                     std::string(kWrites) +
                     " -c 'write -P 0x42 20M 8M' disk.qcow2 "
                     ">/dev/null && qemu-img convert -c -O qcow2 disk.qcow2 z.qcow2"));
  std::string want;
  ASSERT_TRUE(QemuImgRaw(dir.Join("z.qcow2"), "qcow2", &want));
  const std::string uri = ShellQuote(Uri(dir));
  // Four nbdcopy processes at once, each with its own four connections.
  std::string run = "nbdinfo --can multi-conn " + uri;
  for (int i = 1; i <= 4; ++i) {
    run += " && { nbdcopy --connections=4 " + uri + " out" + std::to_string(i) + ".raw & p" +
           std::to_string(i) + "=$!; }";
  }
  run += " && wait $p1 && wait $p2 && wait $p3 && wait $p4";
  ASSERT_TRUE(Sh(dir.path(), Served(dir, File(dir, "z.qcow2"), run)));
  for (int i = 1; i <= 4; ++i) {
    EXPECT_TRUE(ReadWholeFile(dir.Join("out" + std::to_string(i) + ".raw")) == want)
        << "client " << i << " read other bytes";
  }
}

TEST(NbdkitPlugin, AnImageThatCannotOpenStopsNbdkitWithTheReason) {
  IMGFS_REQUIRE_NBD_TOOLS();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), "qemu-img create -q -f qcow2 disk.qcow2 16M"));
  // The L1 table offset (header bytes 40..47) far past the end of the file.
  ASSERT_TRUE(Sh(dir.path(),
                 "printf '\\177\\377\\377\\377\\377\\377\\000\\000' | dd of=disk.qcow2 "
                 "bs=1 seek=40 conv=notrunc status=none"));
  std::string out;
  EXPECT_NE(RunIn(dir.path(), Served(dir, File(dir, "disk.qcow2"), "echo served") + " 2>&1", &out),
            0);
  EXPECT_EQ(out.find("served"), std::string::npos) << out;
  EXPECT_NE(out.find("error: cannot open"), std::string::npos) << out;
  EXPECT_NE(out.find("qcow2: "), std::string::npos) << out;

  std::vector<std::string> bad_params = {"", "file=x passphrase-file=/dev/null",
                                         "file=x partition=0", "file=x bogus=1",
                                         "file=x no-backing=maybe"};
  // TODO(nbd): under ASan (runtime preloaded into nbdkit) nbdkit hangs at
  // exit after this failure; the release build exits 1. Not run there until
  // understood.
  if (std::string(IMGFS_NBDKIT_PRELOAD).empty()) {
    bad_params.emplace_back("file=/nonexistent/disk.qcow2");
  }
  for (const std::string& bad : bad_params) {
    EXPECT_NE(RunIn(dir.path(), Served(dir, bad, "echo served") + " 2>&1", &out), 0) << bad;
    EXPECT_EQ(out.find("served"), std::string::npos) << bad << ": " << out;
    EXPECT_NE(out.find("error: "), std::string::npos) << bad << ": " << out;
  }
  RunIn(dir.path(), Served(dir, "file=x passphrase-file=/dev/null", "true") + " 2>&1", &out);
  EXPECT_NE(out.find("passphrase-file: key file /dev/null is empty"), std::string::npos) << out;
  ASSERT_TRUE(Sh(dir.path(), "qemu-img create -q -f raw small.raw 1M"));
  RunIn(dir.path(), Served(dir, File(dir, "small.raw") + " partition=1", "true") + " 2>&1", &out);
  EXPECT_NE(out.find("no partition table"), std::string::npos) << out;
}

// nbdkit in the background (it forks, so the plugin serves from after_fork),
// stopped by the destructor.
class BackgroundNbdkit {
 public:
  BackgroundNbdkit(const TempDir& dir, const std::string& params) : dir_(dir) {
    started_ = Sh(dir.path(), SanitizerEnv() + "nbdkit --unix " + ShellQuote(Socket(dir)) +
                                  " --readonly -P nbdkit.pid " + ShellQuote(IMGFS_NBDKIT_PLUGIN) +
                                  " " + params);
  }
  ~BackgroundNbdkit() {
    std::string ignored;
    RunIn(dir_.path(), "[ -s nbdkit.pid ] && kill $(cat nbdkit.pid)", &ignored);
  }
  BackgroundNbdkit(const BackgroundNbdkit&) = delete;
  BackgroundNbdkit& operator=(const BackgroundNbdkit&) = delete;
  ::testing::AssertionResult started() const { return started_; }

 private:
  const TempDir& dir_;
  ::testing::AssertionResult started_ = ::testing::AssertionFailure();
};

TEST(NbdkitPlugin, ReadsPastTheEndFailAndTheServerStaysUp) {
  IMGFS_REQUIRE_NBD_TOOLS();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(),
                 "qemu-img create -q -f qcow2 disk.qcow2 1M && qemu-io -f qcow2 -c "
                 "'write -P 0x5a 0 1M' disk.qcow2 >/dev/null"));
  BackgroundNbdkit server(dir, File(dir, "disk.qcow2"));
  ASSERT_TRUE(server.started());
  // A client of our own (nbd_wire.h): nbdcopy and qemu-img never ask past the end.
  NbdWireClient c;
  ASSERT_TRUE(c.Connect(Socket(dir)));
  const uint64_t size = c.export_size();
  ASSERT_EQ(size, 1U << 20);
  std::string bytes;
  EXPECT_EQ(c.Read(size - 512, 4096, &bytes), 22U) << "EINVAL for a read crossing the end";
  EXPECT_NE(c.Read(size, 512, &bytes), 0U);
  EXPECT_NE(c.Read(UINT64_MAX - 511, 512, &bytes), 0U);
  EXPECT_NE(c.Read(0, 64U << 20, &bytes), 0U) << "a read larger than the disk";
  ASSERT_EQ(c.Read(size - 512, 512, &bytes), 0U) << "the server stays up";
  EXPECT_EQ(bytes, std::string(512, '\x5a'));
  c.Disconnect();
  // And serves a new client after the bad requests.
  NbdWireClient again;
  ASSERT_TRUE(again.Connect(Socket(dir)));
  ASSERT_EQ(again.Read(0, 4096, &bytes), 0U);
  EXPECT_EQ(bytes, std::string(4096, '\x5a'));
}

TEST(NbdkitServe, ServeRunsNbdkitWithThePlugin) {
  IMGFS_REQUIRE_NBD_TOOLS();
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), Patterned("qcow2", "disk.qcow2")));
  std::string want;
  ASSERT_TRUE(QemuImgRaw(dir.Join("disk.qcow2"), "qcow2", &want));
  const std::string env =
      "IMGFS_NBDKIT_PLUGIN=" + ShellQuote(IMGFS_NBDKIT_PLUGIN) + " " + SanitizerEnv();
  const std::string copy = Unpreloaded("nbdcopy " + ShellQuote(Uri(dir)) + " out.raw");
  ASSERT_TRUE(Sh(dir.path(), env + ImgfsBinary() + " serve --socket " + ShellQuote(Socket(dir)) +
                                 " --run " + ShellQuote(copy) + " disk.qcow2"));
  EXPECT_TRUE(ReadWholeFile(dir.Join("out.raw")) == want);

  std::string cmd;
  ASSERT_TRUE(Sh(dir.path(),
                 ImgfsBinary() + " serve --dry-run --port 10999 --no-backing --tls require "
                                 "--snapshot s1 disk.qcow2",
                 &cmd));
  for (const char* part : {"nbdkit --readonly --foreground --ipaddr 127.0.0.1 --port 10999",
                           "--tls=require", "file=disk.qcow2", "snapshot=s1", "no-backing=true"}) {
    EXPECT_NE(cmd.find(part), std::string::npos) << part << " in " << cmd;
  }
  std::string out;
  EXPECT_EQ(RunIn(dir.path(), ImgfsBinary() + " serve --socket s --port 1 disk.qcow2 2>&1", &out),
            2);
  EXPECT_NE(out.find("does not go with"), std::string::npos) << out;
  // A damaged image: nbdkit refuses to start, with the reason on one line.
  ASSERT_TRUE(Sh(dir.path(), "printf 'QFI\\373\\000\\000\\000\\077' > bad.qcow2"));
  EXPECT_NE(RunIn(dir.path(),
                  env + ImgfsBinary() + " serve --socket " + ShellQuote(dir.Join("bad.sock")) +
                      " --run true bad.qcow2 2>&1",
                  &out),
            0);
  EXPECT_NE(out.find("error: cannot open"), std::string::npos) << out;
}

// The kernel's client: root and the nbd module (/dev/nbd0) are needed.
TEST(NbdkitKernel, NbdClientReadsTheSameBytes) {
  IMGFS_REQUIRE_NBD_TOOLS();
  if (::geteuid() != 0) {
    GTEST_SKIP() << "the kernel NBD client needs root";
  }
  std::string ignored;
  RunIn("/", "modprobe nbd 2>/dev/null", &ignored);
  if (::access("/dev/nbd0", F_OK) != 0) {
    GTEST_SKIP() << "no /dev/nbd0: this kernel has no nbd module (modprobe nbd failed)";
  }
  IMGFS_REQUIRE_TOOL("nbd-client");
  TempDir dir;
  ASSERT_TRUE(Sh(dir.path(), Patterned("qcow2", "disk.qcow2")));
  std::string want;
  ASSERT_TRUE(QemuImgRaw(dir.Join("disk.qcow2"), "qcow2", &want));
  const std::string run = "nbd-client -unix " + ShellQuote(Socket(dir)) +
                          " /dev/nbd0 -readonly >/dev/null && "
                          "{ cat /dev/nbd0 > kernel.raw; s=$?; nbd-client -d /dev/nbd0 >/dev/null; "
                          "exit $s; }";
  ASSERT_TRUE(Sh(dir.path(), Served(dir, File(dir, "disk.qcow2"), run)));
  EXPECT_TRUE(ReadWholeFile(dir.Join("kernel.raw")) == want);
}

}  // namespace
}  // namespace imgfs::testing
