// SPDX-License-Identifier: MIT
// The library codecs on streams made by the libraries' own streaming
// encoders, as QEMU writes them (so not by codec::Compress): raw deflate
// with a 4 KiB window, zstd frames without a content size, zlib-wrapped
// deflate; each padded to a sector. Whole streams and prefixes.
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/codec/codec.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/zlib_stream.h"

namespace imgfs::codec {
namespace {

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>((i * 131) % 251 < 64 ? 'a' + i % 7 : 0);
  }
  return s;
}

// Raw deflate as QEMU writes it (window bits -12), or zlib-wrapped (12),
// padded to a sector.
std::string Deflate(const std::string& in, int window_bits = -12) {
  std::string out = imgfs::testing::ZlibDeflate(in, window_bits);
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

TEST(LibraryStreamsTest, DeflateWithPadding) {
  std::string want = Pattern(65536);
  std::vector<std::byte> out(65536);
  ASSERT_OK(Decompress(Codec::kDeflateRaw, B(Deflate(want)), out));
  EXPECT_EQ(std::memcmp(out.data(), want.data(), want.size()), 0);
}

TEST(LibraryStreamsTest, ZstdWithoutContentSizeAndPadding) {
  std::string want = Pattern(65536);
  std::vector<std::byte> out(65536);
  ASSERT_OK(Decompress(Codec::kZstd, B(Zstd(want)), out));
  EXPECT_EQ(std::memcmp(out.data(), want.data(), want.size()), 0);
  // Twice on the same thread: the context is reused and reset.
  ASSERT_OK(Decompress(Codec::kZstd, B(Zstd(want)), out));
}

TEST(LibraryStreamsTest, GarbageIsCorrupt) {
  std::string junk(1024, '\xff');
  std::vector<std::byte> out(4096);
  EXPECT_CODE(Decompress(Codec::kDeflateRaw, B(junk), out), kCorrupt);
  EXPECT_CODE(Decompress(Codec::kZstd, B(junk), out), kCorrupt);
}

TEST(LibraryStreamsTest, StreamsOfTheWrongLengthAreCorrupt) {
  std::vector<std::byte> out(4096);
  // Shorter than a cluster.
  EXPECT_CODE(Decompress(Codec::kDeflateRaw, B(Deflate(Pattern(1000))), out), kCorrupt);
  EXPECT_CODE(Decompress(Codec::kZstd, B(Zstd(Pattern(1000))), out), kCorrupt);
  // Longer than a cluster.
  EXPECT_CODE(Decompress(Codec::kDeflateRaw, B(Deflate(Pattern(8192))), out), kCorrupt);
  EXPECT_CODE(Decompress(Codec::kZstd, B(Zstd(Pattern(8192))), out), kCorrupt);
  // Truncated input.
  std::string cut = Zstd(Pattern(4096)).substr(0, 10);
  EXPECT_CODE(Decompress(Codec::kZstd, B(cut), out), kCorrupt);
}

TEST(LibraryStreamsTest, PrefixesOfADeflateStream) {
  std::string want = Pattern(65536);
  std::string packed = Deflate(want);
  for (size_t n :
       {size_t{1}, size_t{512}, size_t{4096}, size_t{12345}, size_t{32768}, size_t{65536}}) {
    SCOPED_TRACE(n);
    std::vector<std::byte> out(n);
    ASSERT_OK(DecompressPrefix(Codec::kDeflateRaw, B(packed), out));
    EXPECT_EQ(std::memcmp(out.data(), want.data(), n), 0);
  }
  // The thread's inflater is reset between calls: a second stream after a
  // stopped first one starts clean.
  std::string other = Pattern(4096);
  std::vector<std::byte> out(4096);
  ASSERT_OK(DecompressPrefix(Codec::kDeflateRaw, B(Deflate(other)), out));
  EXPECT_EQ(std::memcmp(out.data(), other.data(), out.size()), 0);
}

TEST(LibraryStreamsTest, ZlibWrappedStreamsAndPrefixes) {
  std::string want = Pattern(65536);
  std::string packed = Deflate(want, 12);
  std::vector<std::byte> out(65536);
  ASSERT_OK(Decompress(Codec::kZlib, B(packed), out));
  EXPECT_EQ(std::memcmp(out.data(), want.data(), want.size()), 0);
  // The same thread's inflater switches between raw and wrapped streams.
  for (Codec c : {Codec::kZlib, Codec::kDeflateRaw, Codec::kZlib}) {
    const std::string& stream = c == Codec::kZlib ? packed : Deflate(want);
    std::vector<std::byte> prefix(5000);
    ASSERT_OK(DecompressPrefix(c, B(stream), prefix));
    EXPECT_EQ(std::memcmp(prefix.data(), want.data(), prefix.size()), 0);
  }
  // A raw stream is not a zlib one, and the other way round.
  EXPECT_CODE(Decompress(Codec::kZlib, B(Deflate(want)), out), kCorrupt);
  EXPECT_CODE(Decompress(Codec::kDeflateRaw, B(packed), out), kCorrupt);
}

TEST(LibraryStreamsTest, ZstdPrefixesNeedNotReachTheFrameEnd) {
  std::string want = Pattern(65536);
  std::string packed = Zstd(want);
  for (size_t n : {size_t{1}, size_t{4096}, size_t{40000}, size_t{65536}}) {
    SCOPED_TRACE(n);
    std::vector<std::byte> out(n);
    ASSERT_OK(DecompressPrefix(Codec::kZstd, B(packed), out));
    EXPECT_EQ(std::memcmp(out.data(), want.data(), n), 0);
  }
  std::vector<std::byte> longer(65537);
  EXPECT_CODE(DecompressPrefix(Codec::kZstd, B(packed), longer), kCorrupt);
}

TEST(LibraryStreamsTest, BadPrefixesAreCorrupt) {
  std::vector<std::byte> out(4096);
  // The stream ends before the prefix does.
  EXPECT_CODE(DecompressPrefix(Codec::kDeflateRaw, B(Deflate(Pattern(1000))), out), kCorrupt);
  // Truncated input, garbage, and an empty input.
  std::string packed = Deflate(Pattern(65536));
  EXPECT_CODE(DecompressPrefix(Codec::kDeflateRaw, B(packed.substr(0, 40)), out), kCorrupt);
  EXPECT_CODE(DecompressPrefix(Codec::kDeflateRaw, B(std::string(1024, '\xff')), out), kCorrupt);
  EXPECT_CODE(DecompressPrefix(Codec::kDeflateRaw, B(std::string()), out), kCorrupt);
}

}  // namespace
}  // namespace imgfs::codec
