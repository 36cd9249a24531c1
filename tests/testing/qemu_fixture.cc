// SPDX-License-Identifier: MIT
#include "tests/testing/qemu_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace imgfs::testing {

bool HaveQemuTools() {
  static const bool have = RunIn(".", "command -v qemu-img && command -v qemu-io") == 0;
  return have;
}

TempDir::TempDir() {
  std::string base = std::filesystem::temp_directory_path().string() + "/imgfs-test-XXXXXX";
  std::vector<char> buf(base.begin(), base.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int RunIn(const std::string& dir, const std::string& command, std::string* output) {
  std::string full = "cd '" + dir + "' && { " + command + " ; } 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) {
    return -1;
  }
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
    out.append(buf, n);
  }
  int status = ::pclose(p);
  if (output != nullptr) {
    *output = out;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

::testing::AssertionResult Sh(const std::string& dir, const std::string& command,
                              std::string* output) {
  std::string out;
  int rc = RunIn(dir, command, &out);
  if (output != nullptr) {
    *output = out;
  }
  if (rc != 0) {
    return ::testing::AssertionFailure() << "`" << command << "` exited " << rc << ": " << out;
  }
  return ::testing::AssertionSuccess();
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteWholeFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

namespace {

::testing::AssertionResult CompareChunks(const BlockDevice& dev, const std::string& expected,
                                         uint64_t start, uint64_t chunk) {
  std::vector<std::byte> buf;
  for (uint64_t off = start; off < expected.size(); off += chunk) {
    uint64_t n = std::min<uint64_t>(chunk, expected.size() - off);
    buf.assign(n, std::byte{0xee});
    Status s = dev.Read(off, buf);
    if (!s.ok()) {
      return ::testing::AssertionFailure() << "read at " << off << "+" << n << ": " << s.ToString();
    }
    if (std::memcmp(buf.data(), expected.data() + off, n) != 0) {
      size_t i = 0;
      while (buf[i] == static_cast<std::byte>(expected[off + i])) {
        ++i;
      }
      return ::testing::AssertionFailure()
             << "mismatch at byte " << off + i << " (chunk " << chunk << "): got "
             << static_cast<int>(buf[i]) << " want "
             << static_cast<int>(static_cast<unsigned char>(expected[off + i]));
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace

::testing::AssertionResult DeviceMatches(const BlockDevice& dev, const std::string& expected) {
  if (dev.Size() != expected.size()) {
    return ::testing::AssertionFailure()
           << "size " << dev.Size() << " != expected " << expected.size();
  }
  // Whole-device reads in big chunks, then odd sizes at odd starts.
  const uint64_t kChunks[][2] = {{0, 1 << 20}, {1, 4093}, {511, 70001}, {3, 513}};
  for (const auto& c : kChunks) {
    if (c[1] == 513 && expected.size() > (8u << 20)) {
      continue;  // keep the small-chunk pass cheap on bigger images
    }
    auto r = CompareChunks(dev, expected, c[0], c[1]);
    if (!r) {
      return r;
    }
  }
  if (!expected.empty()) {
    std::vector<std::byte> one(1);
    Status s = dev.Read(expected.size() - 1, one);
    if (!s.ok() || one[0] != static_cast<std::byte>(expected.back())) {
      return ::testing::AssertionFailure() << "last byte differs";
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<MapEntry> QemuMap(const std::string& dir, const std::string& image,
                              const std::string& extra_args) {
  std::string out;
  EXPECT_TRUE(Sh(dir, "qemu-img map --output=json " + extra_args + " '" + image + "'", &out));
  std::vector<MapEntry> map;
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (!j.is_array()) {
    ADD_FAILURE() << "bad qemu-img map output: " << out;
    return map;
  }
  for (const auto& e : j) {
    map.push_back(MapEntry{e["start"].get<uint64_t>(), e["length"].get<uint64_t>(),
                           e["data"].get<bool>(), e["zero"].get<bool>(), e["present"].get<bool>(),
                           e["depth"].get<uint32_t>()});
  }
  return map;
}

::testing::AssertionResult ExtentsMatchMap(const BlockDevice& dev,
                                           const std::vector<MapEntry>& map) {
  std::vector<Extent> extents;
  if (dev.Size() == 0) {
    return ::testing::AssertionSuccess();
  }
  Status s = CollectExtents(dev, 0, dev.Size(), &extents);
  if (!s.ok()) {
    return ::testing::AssertionFailure() << "extents: " << s.ToString();
  }
  // Walk both lists over the common byte range.
  size_t i = 0;
  size_t j = 0;
  uint64_t pos = 0;
  while (i < extents.size() && j < map.size()) {
    const Extent& e = extents[i];
    const MapEntry& m = map[j];
    // qemu-img map: data -> kData; present but no data -> kZero; not
    // present anywhere in the chain -> kUnallocated.
    ExtentKind theirs = m.data      ? ExtentKind::kData
                        : m.present ? ExtentKind::kZero
                                    : ExtentKind::kUnallocated;
    if (e.kind != theirs || e.depth != m.depth) {
      return ::testing::AssertionFailure()
             << "at " << pos << ": imgfs says kind " << static_cast<int>(e.kind)
             << ", qemu-img map says data=" << m.data << " present=" << m.present
             << " zero=" << m.zero << " (0 data, 1 zero, 2 unallocated); depth " << e.depth
             << " vs " << m.depth;
    }
    uint64_t end = std::min(e.offset + e.length, m.start + m.length);
    pos = end;
    if (end == e.offset + e.length) {
      ++i;
    }
    if (end == m.start + m.length) {
      ++j;
    }
  }
  if (pos != dev.Size()) {
    return ::testing::AssertionFailure() << "maps end at " << pos << " not " << dev.Size();
  }
  return ::testing::AssertionSuccess();
}

}  // namespace imgfs::testing
