// SPDX-License-Identifier: MIT
// A tiny cloop writer for tests, from compressed_loop.h's layout with its
// own byte stores (it shares no code with formats/cloop; blocks are
// compressed with imgfs's codec library, whose output qemu-img and
// extract_compressed_fs read back in the oracle tests): V2.0 and V4.0, the
// header first or last, per-block compressor flags (zlib, none, xz, lz4,
// lzo, and any flag value with arbitrary bytes). It checks nothing.
//
// lz4 and lzo blocks are compressed by an implementation independent of
// imgfs, since no Debian tool writes such images: python3-lz4 (raw blocks,
// store_size=False: what the cloop module's LZ4_decompress_safe reads) and
// python3-lzo (LZO1X-1, without the 5-byte header python-lzo puts before
// the stream: 0xf0 and the length, big-endian). Tests check
// HaveLzPython() first (IMGFS_REQUIRE_LZ_PYTHON).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/codec/codec.h"
#include "tests/testing/test_env.h"

namespace imgfs::cloop::testing {

// The builder runs python itself (popen), so that it does not depend on
// either test helper library: tests/fuse/test_util.h and
// tests/testing/qemu_fixture.h each define a TempDir, and cloop tests use both.
namespace detail {

// Exit status 0 of `command` (run by /bin/sh), its stdout in *out.
inline bool Run(const std::string& command, std::string* out) {
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) {
    return false;
  }
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
    if (out != nullptr) {
      out->append(buf, n);
    }
  }
  return ::pclose(p) == 0;
}

// A new file under TMPDIR (or /tmp) holding `data`; empty on failure.
inline std::string TempFileWith(std::string_view data) {
  const char* tmp = std::getenv("TMPDIR");
  std::string path =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/imgfs-cloop-XXXXXX";
  const int fd = ::mkstemp(path.data());
  if (fd < 0) {
    return {};
  }
  const bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ::close(fd);
  return ok ? path : std::string();
}

}  // namespace detail

struct CloopSpec {
  int version = 2;  // 2 or 4
  bool header_last = false;
  uint32_t block_bytes = 65536;
  std::string disk;  // padded with zeros to whole blocks
  // Per-block V4.0 flags (0 zlib, 1 none, 2 xz, 3 lz4, 4 lzo; others: the
  // block's raw bytes stored under that flag); missing entries are zlib.
  std::vector<uint8_t> flags;
};

// The python3 with python3-lz4 and python3-lzo: the first of PATH's python3
// and /usr/bin/python3 that imports both (a pyenv python may shadow
// Debian's). Empty when there is none.
inline const std::string& LzPython() {
  static const std::string found = [] {
    for (const char* py : {"python3", "/usr/bin/python3"}) {
      if (detail::Run(std::string(py) + " -c 'import lz4.block, lzo' 2>/dev/null", nullptr)) {
        return std::string(py);
      }
    }
    return std::string();
  }();
  return found;
}
inline bool HaveLzPython() { return !LzPython().empty(); }

#define IMGFS_REQUIRE_LZ_PYTHON()                                  \
  do {                                                             \
    if (!::imgfs::cloop::testing::HaveLzPython()) {                \
      if (::imgfs::testing::InCi()) {                              \
        FAIL() << "python3-lz4 / python3-lzo missing but CI=true"; \
      }                                                            \
      GTEST_SKIP() << "python3-lz4 / python3-lzo not installed";   \
    }                                                              \
  } while (false)

// Blocks compressed by python3-lz4 (flag 3) or python3-lzo (flag 4), in
// one python run: each output block is a 4-byte big-endian length and the
// bytes. Empty strings when python fails.
inline std::vector<std::string> PyCompress(const std::vector<uint8_t>& flags,
                                           const std::vector<std::string_view>& blocks) {
  std::string all;
  std::string flag_text;
  for (size_t i = 0; i < blocks.size(); ++i) {
    all += blocks[i];
    flag_text += std::to_string(flags[i]);
  }
  const char* script =
      "import sys, lz4.block, lzo\n"
      "data = open(sys.argv[1], 'rb').read(); flags = sys.argv[2]; n = len(data) // len(flags)\n"
      "for i, f in enumerate(flags):\n"
      "    d = data[i * n:(i + 1) * n]\n"
      "    if f == '3':\n"
      "        c = lz4.block.compress(d, store_size=False)\n"
      "    else:\n"
      "        c = lzo.compress(d, 1)\n"
      "        assert c[0] == 0xf0 and int.from_bytes(c[1:5], 'big') == len(d)\n"
      "        c = c[5:]\n"
      "    sys.stdout.buffer.write(len(c).to_bytes(4, 'big') + c)\n";
  std::vector<std::string> out(blocks.size());
  if (blocks.empty()) {
    return out;
  }
  const std::string in = detail::TempFileWith(all);
  const std::string code = detail::TempFileWith(script);
  std::string got;
  // flag_text is digits only; the paths come from mkstemp.
  const bool ok = !in.empty() && !code.empty() &&
                  detail::Run(LzPython() + " " + code + " " + in + " " + flag_text, &got);
  ::unlink(in.c_str());
  ::unlink(code.c_str());
  size_t at = 0;
  for (size_t i = 0; ok && i < blocks.size() && at + 4 <= got.size(); ++i) {
    const size_t n = static_cast<size_t>(static_cast<uint8_t>(got[at])) << 24 |
                     static_cast<size_t>(static_cast<uint8_t>(got[at + 1])) << 16 |
                     static_cast<size_t>(static_cast<uint8_t>(got[at + 2])) << 8 |
                     static_cast<size_t>(static_cast<uint8_t>(got[at + 3]));
    out[i] = got.substr(at + 4, n);
    at += 4 + n;
  }
  return out;
}

inline void PutBE32(std::string* s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    (*s)[at + static_cast<size_t>(i)] = static_cast<char>(v >> (24 - 8 * i));
  }
}
inline void PutBE64(std::string* s, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    (*s)[at + static_cast<size_t>(i)] = static_cast<char>(v >> (56 - 8 * i));
  }
}

inline std::string CloopHead(int version, uint32_t block_bytes, uint32_t blocks) {
  std::string head(136, '\0');
  const std::string script = std::string("#!/bin/sh\n#V") + (version == 4 ? "4.0" : "2.0") +
                             " Format\nmodprobe cloop file=$0 && mount -r -t iso9660 "
                             "/dev/cloop $1\nexit $?\n";
  std::memcpy(head.data(), script.data(), script.size());
  PutBE32(&head, 128, block_bytes);
  PutBE32(&head, 132, blocks);
  return head;
}

inline std::string PaddedDisk(const CloopSpec& spec) {
  std::string disk = spec.disk;
  disk.resize((disk.size() + spec.block_bytes - 1) / spec.block_bytes * spec.block_bytes, '\0');
  return disk;
}

inline std::string BuildCloop(const CloopSpec& spec) {
  const std::string disk = PaddedDisk(spec);
  const size_t n = disk.size() / spec.block_bytes;
  std::vector<std::string> stored(n);
  std::vector<size_t> py_index;
  std::vector<uint8_t> py_flags;
  std::vector<std::string_view> py_blocks;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t flag = i < spec.flags.size() ? spec.flags[i] : 0;
    std::span<const std::byte> in(
        reinterpret_cast<const std::byte*>(disk.data()) + i * spec.block_bytes, spec.block_bytes);
    if (flag == 0 || flag == 2) {
      auto c = codec::Compress(flag == 0 ? codec::Codec::kZlib : codec::Codec::kXz, 6, in);
      stored[i].assign(reinterpret_cast<const char*>(c->data()), c->size());
    } else if (flag == 3 || flag == 4) {
      py_index.push_back(i);
      py_flags.push_back(flag);
      py_blocks.emplace_back(disk.data() + i * spec.block_bytes, spec.block_bytes);
    } else {
      stored[i].assign(reinterpret_cast<const char*>(in.data()), in.size());
    }
  }
  std::vector<std::string> py = PyCompress(py_flags, py_blocks);
  for (size_t k = 0; k < py_index.size(); ++k) {
    stored[py_index[k]] = std::move(py[k]);
  }
  const std::string head = CloopHead(spec.version, spec.block_bytes, static_cast<uint32_t>(n));
  std::string index((n + 1) * 8, '\0');
  uint64_t pos = spec.header_last ? 0 : head.size() + index.size();
  std::string blocks;
  for (size_t i = 0; i <= n; ++i) {
    const uint64_t flag = i < n && i < spec.flags.size() ? spec.flags[i] : 0;
    PutBE64(&index, i * 8, pos | (spec.version == 4 ? flag << 60 : 0));
    if (i < n) {
      blocks += stored[i];
      pos += stored[i].size();
    }
  }
  return spec.header_last ? blocks + index + head : head + index + blocks;
}

}  // namespace imgfs::cloop::testing
