// SPDX-License-Identifier: MIT
// bzip2 through libbz2; compiled only when libbz2 was found. libbz2 keeps
// no reusable state across streams, so there is nothing to keep per thread.
#include <bzlib.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/codec/codec_internal.h"

namespace imgfs::codec::internal {
namespace {

constexpr int kDefaultLevel = 9;

// A bz_stream that always ends.
class BzDecoder {
 public:
  BzDecoder() { ok_ = BZ2_bzDecompressInit(&s_, 0, 0) == BZ_OK; }
  ~BzDecoder() {
    if (ok_) {
      BZ2_bzDecompressEnd(&s_);
    }
  }
  BzDecoder(const BzDecoder&) = delete;
  BzDecoder& operator=(const BzDecoder&) = delete;
  bool ok() const { return ok_; }
  bz_stream* get() { return &s_; }

 private:
  bz_stream s_{};
  bool ok_ = false;
};

std::string Bytes(size_t n) { return std::to_string(n) + " bytes"; }

}  // namespace

Status Bunzip2(std::span<const std::byte> in, std::span<std::byte> out, Fill fill) {
  // libbz2 takes unsigned int sizes; say so rather than wrap.
  if (in.size() > UINT32_MAX || out.size() > UINT32_MAX) {
    return CorruptError("bzip2: stream is larger than 4 GiB");
  }
  if (fill == Fill::kPrefix && out.empty()) {
    return Status::Ok();
  }
  BzDecoder dec;
  if (!dec.ok()) {
    return InternalError("bzip2: cannot allocate a decompressor");
  }
  bz_stream* s = dec.get();
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): libbz2 never writes input
  s->next_in = const_cast<char*>(reinterpret_cast<const char*>(in.data()));
  s->avail_in = static_cast<unsigned>(in.size());
  s->next_out = reinterpret_cast<char*>(out.data());
  s->avail_out = static_cast<unsigned>(out.size());
  for (;;) {
    const unsigned in_before = s->avail_in;
    const unsigned out_before = s->avail_out;
    const int r = BZ2_bzDecompress(s);
    if (r == BZ_STREAM_END) {
      break;
    }
    if (r != BZ_OK) {
      return CorruptError("bzip2: stream is invalid (libbz2 error " + std::to_string(r) + ")");
    }
    if (fill == Fill::kPrefix && s->avail_out == 0) {
      return Status::Ok();
    }
    if (s->avail_in == in_before && s->avail_out == out_before) {
      if (s->avail_out == 0) {
        return CorruptError("bzip2: stream holds more than " + Bytes(out.size()));
      }
      return CorruptError("bzip2: stream ends after " + std::to_string(out.size() - s->avail_out) +
                          " of " + Bytes(out.size()));
    }
  }
  if (s->avail_out != 0) {
    return CorruptError("bzip2: stream holds " + Bytes(out.size() - s->avail_out) + ", not " +
                        std::to_string(out.size()));
  }
  return Status::Ok();
}

Result<std::vector<std::byte>> Bzip2(int level, std::span<const std::byte> in) {
  level = level < 0 ? kDefaultLevel : std::clamp(level, 1, 9);
  if (in.size() > UINT32_MAX / 2) {
    return InvalidArgumentError("bzip2: input to compress is larger than 2 GiB");
  }
  // libbz2's documented worst case: 1% larger plus 600 bytes.
  std::vector<std::byte> out(in.size() + in.size() / 100 + 601);
  auto out_bytes = static_cast<unsigned>(out.size());
  // libbz2 refuses a null source even for 0 bytes; an empty span may have one.
  char empty = 0;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): libbz2 never writes input
  char* source = in.empty() ? &empty : const_cast<char*>(reinterpret_cast<const char*>(in.data()));
  const int r = BZ2_bzBuffToBuffCompress(reinterpret_cast<char*>(out.data()), &out_bytes, source,
                                         static_cast<unsigned>(in.size()), level, 0, 0);
  if (r != BZ_OK) {
    return InternalError("bzip2: compression failed (libbz2 error " + std::to_string(r) + ")");
  }
  out.resize(out_bytes);
  return out;
}

}  // namespace imgfs::codec::internal
