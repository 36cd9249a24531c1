// SPDX-License-Identifier: MIT
#include "formats/qcow2/decompress.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace imgfs::qcow2 {
namespace {

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>((i * 131) % 251 < 64 ? 'a' + i % 7 : 0);
  }
  return s;
}

// Raw deflate as QEMU writes it (window bits -12), padded to a sector.
std::string Deflate(const std::string& in) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(in.size() * 2 + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  out.resize((out.size() + 511) / 512 * 512, '\x55');
  return out;
}

// A zstd frame without content size (streaming), padded.
std::string Zstd(const std::string& in) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  std::string out(ZSTD_compressBound(in.size()), '\0');
  ZSTD_outBuffer o{out.data(), out.size(), 0};
  ZSTD_inBuffer i{in.data(), in.size(), 0};
  EXPECT_EQ(ZSTD_compressStream2(c, &o, &i, ZSTD_e_end), 0u);
  ZSTD_freeCCtx(c);
  out.resize(o.pos);
  out.resize((out.size() + 511) / 512 * 512, '\0');
  return out;
}

std::span<const std::byte> B(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

TEST(Qcow2DecompressTest, DeflateWithPadding) {
  std::string want = Pattern(65536);
  std::vector<std::byte> out(65536);
  ASSERT_OK(DecompressCluster(CompressionType::kZlib, B(Deflate(want)), out));
  EXPECT_EQ(std::memcmp(out.data(), want.data(), want.size()), 0);
}

TEST(Qcow2DecompressTest, ZstdWithoutContentSizeAndPadding) {
  std::string want = Pattern(65536);
  std::vector<std::byte> out(65536);
  ASSERT_OK(DecompressCluster(CompressionType::kZstd, B(Zstd(want)), out));
  EXPECT_EQ(std::memcmp(out.data(), want.data(), want.size()), 0);
  // Twice on the same thread: the context is reused and reset.
  ASSERT_OK(DecompressCluster(CompressionType::kZstd, B(Zstd(want)), out));
}

TEST(Qcow2DecompressTest, GarbageIsCorrupt) {
  std::string junk(1024, '\xff');
  std::vector<std::byte> out(4096);
  EXPECT_CODE(DecompressCluster(CompressionType::kZlib, B(junk), out), kCorrupt);
  EXPECT_CODE(DecompressCluster(CompressionType::kZstd, B(junk), out), kCorrupt);
}

TEST(Qcow2DecompressTest, StreamsOfTheWrongLengthAreCorrupt) {
  std::vector<std::byte> out(4096);
  // Shorter than a cluster.
  EXPECT_CODE(DecompressCluster(CompressionType::kZlib, B(Deflate(Pattern(1000))), out), kCorrupt);
  EXPECT_CODE(DecompressCluster(CompressionType::kZstd, B(Zstd(Pattern(1000))), out), kCorrupt);
  // Longer than a cluster.
  EXPECT_CODE(DecompressCluster(CompressionType::kZlib, B(Deflate(Pattern(8192))), out), kCorrupt);
  EXPECT_CODE(DecompressCluster(CompressionType::kZstd, B(Zstd(Pattern(8192))), out), kCorrupt);
  // Truncated input.
  std::string cut = Zstd(Pattern(4096)).substr(0, 10);
  EXPECT_CODE(DecompressCluster(CompressionType::kZstd, B(cut), out), kCorrupt);
}

TEST(Qcow2DecompressTest, PrefixesOfADeflateStream) {
  std::string want = Pattern(65536);
  std::string packed = Deflate(want);
  for (size_t n :
       {size_t{1}, size_t{512}, size_t{4096}, size_t{12345}, size_t{32768}, size_t{65536}}) {
    SCOPED_TRACE(n);
    std::vector<std::byte> out(n);
    ASSERT_OK(InflatePrefix(B(packed), out));
    EXPECT_EQ(std::memcmp(out.data(), want.data(), n), 0);
  }
  // The thread's inflater is reset between calls: a second stream after a
  // stopped first one starts clean.
  std::string other = Pattern(4096);
  std::vector<std::byte> out(4096);
  ASSERT_OK(InflatePrefix(B(Deflate(other)), out));
  EXPECT_EQ(std::memcmp(out.data(), other.data(), out.size()), 0);
}

TEST(Qcow2DecompressTest, BadPrefixesAreCorrupt) {
  std::vector<std::byte> out(4096);
  // The stream ends before the prefix does.
  EXPECT_CODE(InflatePrefix(B(Deflate(Pattern(1000))), out), kCorrupt);
  // Truncated input, garbage, and an empty input.
  std::string packed = Deflate(Pattern(65536));
  EXPECT_CODE(InflatePrefix(B(packed.substr(0, 40)), out), kCorrupt);
  EXPECT_CODE(InflatePrefix(B(std::string(1024, '\xff')), out), kCorrupt);
  EXPECT_CODE(InflatePrefix(B(std::string()), out), kCorrupt);
}

}  // namespace
}  // namespace imgfs::qcow2
