// SPDX-License-Identifier: MIT
// imgfs convert: any readable image to a sparse raw file.
#include "core/convert/convert.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "formats/open.h"
#include "fuse/cli/commands.h"
#include "fuse/cli/common.h"

namespace imgfs::cli {
namespace {

constexpr const char* kConvertHelp =
    "usage: imgfs convert [-f FMT] -O raw [-p] SRC DST\n"
    "\n"
    "Writes the disk inside SRC to DST as a raw image. Holes, zero clusters\n"
    "and all-zero blocks are not written, so DST is sparse.\n"
    "\n"
    "  -f, --format FMT    do not probe; open SRC as FMT\n"
    "  -O FMT              output format (only raw is supported yet)\n"
    "  -p, --progress      show progress on a terminal\n"
    "  -h, --help          show this help\n";

// Prints "    (42.00/100%)" like qemu-img -p, only when it changes.
class ProgressBar {
 public:
  void Update(uint64_t done, uint64_t total) {
    int hundredths = total == 0 ? 10000 : static_cast<int>(done * 10000 / total);
    if (hundredths == last_) {
      return;
    }
    last_ = hundredths;
    std::fprintf(stderr, "    (%d.%02d/100%%)\r", hundredths / 100, hundredths % 100);
    std::fflush(stderr);
  }
  void Finish() const {
    if (last_ >= 0) {
      std::fprintf(stderr, "\n");
    }
  }

 private:
  int last_ = -1;
};

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa {};
  struct stat sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

int Convert(const std::string& src, const std::string& dst, const std::string& format,
            bool progress) {
  ThreadPool pool(0);  // parallel decompression (dmg chunks); outlives the device
  OpenOptions options;
  options.format = format;
  options.pool = &pool;
  Cache cache(kDefaultCliCacheBytes);
  auto dev = OpenImage(src, options, &cache);
  if (!dev.ok()) {
    PrintError(src, dev.status());
    return kExitFailure;
  }
  if (SameFile(src, dst)) {
    PrintError(dst, InvalidArgumentError("is the source image itself"));
    return kExitFailure;
  }
  auto out = CreatePosixFile(dst);
  if (!out.ok()) {
    PrintError(dst, out.status());
    return kExitFailure;
  }
  ProgressBar bar;
  ConvertProgressFn fn;
  if (progress && ::isatty(STDERR_FILENO) != 0) {
    fn = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
  }
  auto stats = ConvertToRaw(**dev, **out, fn);
  bar.Finish();
  if (!stats.ok()) {
    PrintError(src, stats.status());
    out->reset();
    ::unlink(dst.c_str());  // do not leave a half-written image behind
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

int RunConvert(std::span<char* const> args) {
  static constexpr OptionSpec kSpecs[] = {{"format", 'f', true},
                                          {"output-format", 'O', true},
                                          {"progress", 'p', false},
                                          {"help", 'h', false}};
  auto parsed = ParseArgs(args, kSpecs);
  if (!parsed.ok()) {
    return UsageError("convert", parsed.status().message());
  }
  if (parsed->Has("help")) {
    std::fputs(kConvertHelp, stdout);
    return kExitOk;
  }
  std::string out_format = parsed->Value("output-format").value_or("raw");
  if (out_format != "raw") {
    PrintError("convert: only -O raw is supported yet");
    return kExitUsage;
  }
  if (parsed->positional.size() != 2) {
    return UsageError("convert", "expected SRC and DST");
  }
  return Convert(parsed->positional[0], parsed->positional[1], parsed->Value("format").value_or(""),
                 parsed->Has("progress"));
}

}  // namespace imgfs::cli
