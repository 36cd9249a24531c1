// SPDX-License-Identifier: MIT
// imgfs convert: any readable image to a sparse raw file or to a DMG.
#include "core/convert/convert.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "formats/dmg/writer.h"
#include "formats/open.h"
#include "fuse/cli/commands.h"
#include "fuse/cli/common.h"

namespace imgfs::cli {
namespace {

constexpr const char* kConvertHelp =
    "usage: imgfs convert [-f FMT] [-O raw|dmg] [-o OPT[,OPT...]] [-m N] [-p] SRC DST\n"
    "\n"
    "Writes the disk inside SRC to DST as a raw image (the default) or as an\n"
    "Apple disk image (-O dmg). Holes, zero clusters and all-zero blocks are\n"
    "not written: a raw DST is sparse, a DMG stores them as zero-fill chunks.\n"
    "\n"
    "  -f, --format FMT    do not probe; open SRC as FMT\n"
    "  -O FMT              output format: raw or dmg\n"
    "  -o OPT[,OPT...]     dmg options:\n"
    "                        format=UDZO|UDBZ|ULMO|ULFO|UDCO|UDRO|UDRW\n"
    "                          (default UDZO: zlib; UDBZ bzip2; ULMO lzma;\n"
    "                          ULFO lzfse; UDCO adc; UDRO raw chunks; UDRW\n"
    "                          raw, flat like hdiutil's read/write images)\n"
    "                        level=N       compression level (UDZO default 1,\n"
    "                                      as hdiutil)\n"
    "                        chunk_size=S  uncompressed bytes per chunk, a\n"
    "                                      multiple of 512 up to 64M (default\n"
    "                                      1M, as hdiutil)\n"
    "  -m, --threads N     compress on N threads (default: all cores)\n"
    "  -p, --progress      show progress on a terminal\n"
    "  -h, --help          show this help\n"
    "\n"
    "A DMG gets one blkx per partition-map structure, partition and gap when\n"
    "SRC has an MBR, GPT or Apple partition map, named as hdiutil names them,\n"
    "else one whole-disk blkx. A SRC whose size is not a multiple of 512 is\n"
    "padded with zeros to whole sectors (a note says so).\n";

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

struct DmgSettings {
  dmg::DmgWriteOptions write;
  unsigned threads = 0;  // 0: all cores
};

// Parses "-o format=UDZO,level=9,chunk_size=1M" (several -o may be given).
Result<dmg::DmgWriteOptions> ParseDmgOptions(const std::vector<std::string>& values) {
  dmg::DmgWriteOptions o;
  for (const std::string& value : values) {
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      std::string item = value.substr(start, comma == std::string::npos ? comma : comma - start);
      start = comma == std::string::npos ? value.size() + 1 : comma + 1;
      if (item.empty()) {
        continue;
      }
      size_t eq = item.find('=');
      std::string key = item.substr(0, eq);
      std::string val = eq == std::string::npos ? "" : item.substr(eq + 1);
      if (key == "format") {
        IMGFS_ASSIGN_OR_RETURN(o.format, dmg::ParseDmgFormat(val));
      } else if (key == "level") {
        char* end = nullptr;
        long level = std::strtol(val.c_str(), &end, 10);  // NOLINT(google-runtime-int)
        if (val.empty() || *end != '\0' || level < 0 || level > 9) {
          return InvalidArgumentError("-o level: '" + val + "' is not a level from 0 to 9");
        }
        o.level = static_cast<int>(level);
      } else if (key == "chunk_size") {
        IMGFS_ASSIGN_OR_RETURN(uint64_t bytes, ParseSize(val));
        if (bytes == 0 || bytes % dmg::kSectorBytes != 0 ||
            bytes / dmg::kSectorBytes > dmg::kMaxChunkSectors) {
          return InvalidArgumentError("-o chunk_size: '" + val +
                                      "' is not a multiple of 512 from 512 to 64M");
        }
        o.chunk_sectors = bytes / dmg::kSectorBytes;
      } else {
        return InvalidArgumentError("-o: unknown dmg option '" + key +
                                    "' (format, level, chunk_size)");
      }
    }
  }
  return o;
}

Result<unsigned> ParseThreads(const ParsedArgs& parsed) {
  auto text = parsed.Value("threads");
  if (!text) {
    return std::max(1U, std::thread::hardware_concurrency());
  }
  char* end = nullptr;
  long n = std::strtol(text->c_str(), &end, 10);  // NOLINT(google-runtime-int)
  if (text->empty() || *end != '\0' || n < 1 || n > 1024) {
    return InvalidArgumentError("-m: '" + *text + "' is not a thread count from 1 to 1024");
  }
  return static_cast<unsigned>(n);
}

// Writes the DMG; prints notes (padding, partition map) on stderr.
Status ConvertToDmg(const std::string& src, const BlockDevice& dev, File& out, DmgSettings settings,
                    const ConvertProgressFn& progress) {
  ThreadPool compress_pool(settings.threads);  // -m N: the compression workers
  settings.write.pool = &compress_pool;
  settings.write.progress = progress;
  IMGFS_ASSIGN_OR_RETURN(dmg::DmgWriteStats stats, dmg::WriteDmg(dev, out, settings.write));
  for (const std::string& note : stats.notes) {
    std::fprintf(stderr, "imgfs: note: %s: %s\n", src.c_str(), note.c_str());
  }
  if (stats.padding_bytes != 0) {
    std::fprintf(stderr,
                 "imgfs: note: %s: size %llu is not a multiple of 512; the DMG pads the last "
                 "sector with %llu zero bytes\n",
                 src.c_str(), static_cast<unsigned long long>(dev.Size()),  // NOLINT
                 static_cast<unsigned long long>(stats.padding_bytes));     // NOLINT
  }
  return Status::Ok();
}

int Convert(const std::string& src, const std::string& dst, const std::string& format,
            const std::optional<DmgSettings>& dmg_settings, bool progress) {
  ThreadPool pool(0);  // parallel decompression (dmg chunks); outlives the device
  OpenOptions options;
  options.format = format;
  options.pool = &pool;
  ApplyHostIoEnvironment(&options);
  Cache cache(kDefaultCacheBytes);
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
  Status status;
  if (dmg_settings) {
    status = ConvertToDmg(src, **dev, **out, *dmg_settings, fn);
  } else {
    status = ConvertToRaw(**dev, **out, fn).status();
  }
  bar.Finish();
  if (!status.ok()) {
    PrintError(src, status);
    out->reset();
    ::unlink(dst.c_str());  // do not leave a half-written image behind
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

int RunConvert(std::span<char* const> args) {
  static constexpr OptionSpec kSpecs[] = {{"format", 'f', true},    {"output-format", 'O', true},
                                          {"options", 'o', true},   {"threads", 'm', true},
                                          {"progress", 'p', false}, {"help", 'h', false}};
  auto parsed = ParseArgs(args, kSpecs);
  if (!parsed.ok()) {
    return UsageError("convert", parsed.status().message());
  }
  if (parsed->Has("help")) {
    std::fputs(kConvertHelp, stdout);
    return kExitOk;
  }
  std::string out_format = parsed->Value("output-format").value_or("raw");
  std::optional<DmgSettings> dmg_settings;
  if (out_format == "dmg") {
    auto write = ParseDmgOptions(parsed->Values("options"));
    if (!write.ok()) {
      return UsageError("convert", write.status().message());
    }
    auto threads = ParseThreads(*parsed);
    if (!threads.ok()) {
      return UsageError("convert", threads.status().message());
    }
    dmg_settings = DmgSettings{*write, *threads};
  } else if (out_format != "raw") {
    PrintError("convert: -O " + out_format + ": unsupported output format (raw or dmg)");
    return kExitUsage;
  } else if (parsed->Has("options")) {
    return UsageError("convert", "-o: raw output takes no options");
  }
  if (parsed->positional.size() != 2) {
    return UsageError("convert", "expected SRC and DST");
  }
  return Convert(parsed->positional[0], parsed->positional[1], parsed->Value("format").value_or(""),
                 dmg_settings, parsed->Has("progress"));
}

}  // namespace imgfs::cli
