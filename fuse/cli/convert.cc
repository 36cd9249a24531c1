// SPDX-License-Identifier: MIT
// imgfs convert: any readable image to a sparse raw file (core/convert), or
// to any format that has a writer in the registry (-O dmg).
#include "core/convert/convert.h"

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <any>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/cache/cache.h"
#include "core/exec/thread_pool.h"
#include "formats/open.h"
#include "formats/registry.h"
#include "fuse/cli/commands.h"
#include "fuse/cli/common.h"

namespace imgfs::cli {
namespace {

// What -O accepts: raw (core/convert) and every format with a writer.
std::vector<std::string_view> OutputFormats() { return RawAnd(WriterNames()); }

// `convert --help`: the output formats, their -o options and their notes
// come from the registry's writers.
std::string ConvertHelp() {
  std::vector<std::string_view> formats = OutputFormats();
  std::string help = "usage: imgfs convert [-f FMT] [-O " + JoinNames(formats, "|") +
                     "] [-o OPT[,OPT...]] [-m N] [-p] SRC DST\n"
                     "\n"
                     "Writes the disk inside SRC to DST as a raw image (the default) or in\n"
                     "the format -O names. Holes, zero clusters and all-zero blocks are\n"
                     "not written: a raw DST is sparse.\n"
                     "\n"
                     "  -f, --format FMT    do not probe; open SRC as FMT\n"
                     "  -O FMT              output format: " +
                     JoinNames(formats, " or ") +
                     "\n"
                     "  -o OPT[,OPT...]     options of the output format (below)\n"
                     "  -m, --threads N     compress on N threads (default: all cores)\n"
                     "  -p, --progress      show progress on a terminal\n"
                     "  -h, --help          show this help\n";
  for (std::string_view name : WriterNames()) {
    help += "\n-O " + std::string(name) + ":\n";
    AppendIndented(FindWriter(name)->help, "  ", &help);
  }
  return help;
}

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

// -O FMT with a writer: the writer, its parsed -o options and -m.
struct WriterSettings {
  const FormatWriter* writer = nullptr;
  std::any options;
  unsigned threads = 0;
};

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

// Writes DST with a format's writer; prints its notes on stderr.
Status ConvertWithWriter(const std::string& src, const BlockDevice& dev, File& out,
                         const WriterSettings& settings, const ConvertProgressFn& progress) {
  // Writers allocate and free a chunk buffer or two per chunk on each
  // worker. With glibc's default thresholds every free above 128 KiB goes
  // back to the kernel (munmap, arena trim) and the next chunk faults it in
  // again: 0.6 to 1 s of the 1.6 s a 2-thread UDZO write of 1 GiB takes on
  // a VM (docs/BENCHMARKS.md, "ISA-L deflate (issue 23)"). This one-shot
  // process keeps freed chunks (up to 32 MiB, glibc's largest threshold;
  // DMG chunks are 1 MiB unless -o chunk_size) for the next ones; its peak
  // is the writer's in-flight window either way.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  ThreadPool compress_pool(settings.threads);  // -m N: the compression workers
  WriteContext ctx;
  ctx.pool = &compress_pool;
  ctx.progress = progress;
  IMGFS_ASSIGN_OR_RETURN(std::vector<std::string> notes,
                         settings.writer->write(dev, out, settings.options, ctx));
  for (const std::string& note : notes) {
    std::fprintf(stderr, "imgfs: note: %s: %s\n", src.c_str(), note.c_str());
  }
  return Status::Ok();
}

int Convert(const ParsedArgs& parsed, const std::optional<WriterSettings>& writer) {
  const std::string& src = parsed.positional[0];
  const std::string& dst = parsed.positional[1];
  const bool progress = parsed.Has("progress");
  ThreadPool pool(0);  // parallel decompression (dmg chunks); outlives the device
  OpenOptions options;
  options.format = parsed.Value("format").value_or("");
  options.pool = &pool;
  ApplyHostIoEnvironment(&options);
  if (Status keys = ApplyKeyOptions(parsed, &options); !keys.ok()) {
    PrintError(src, keys);
    return kExitFailure;
  }
  Cache cache(kDefaultCacheBytes);
  auto dev = OpenImageAsking(src, &options, &cache);
  if (!dev.ok()) {
    PrintError(src, dev.status());
    return OpenFailureExit(dev.status());
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
  if (writer) {
    status = ConvertWithWriter(src, **dev, **out, *writer, fn);
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
  static constexpr OptionSpec kSpecs[] = {{"format", 'f', true},     {"output-format", 'O', true},
                                          {"options", 'o', true},    {"threads", 'm', true},
                                          {"progress", 'p', false},  {"help", 'h', false},
                                          IMGFS_CLI_KEY_OPTION_SPECS};
  auto parsed = ParseArgs(args, kSpecs);
  if (!parsed.ok()) {
    return UsageError("convert", parsed.status().message());
  }
  if (parsed->Has("help")) {
    std::fputs((ConvertHelp() + std::string(kKeyOptionsHelp)).c_str(), stdout);
    return kExitOk;
  }
  std::string out_format = parsed->Value("output-format").value_or("raw");
  std::optional<WriterSettings> writer;
  if (const FormatWriter* w = FindWriter(out_format)) {
    std::vector<std::string> values = parsed->Values("options");
    auto options = w->parse_options(values);
    if (!options.ok()) {
      return UsageError("convert", options.status().message());
    }
    auto threads = ParseThreads(*parsed);
    if (!threads.ok()) {
      return UsageError("convert", threads.status().message());
    }
    writer = WriterSettings{w, std::move(*options), *threads};
  } else if (out_format != "raw") {
    PrintError("convert: -O " + out_format + ": unsupported output format (" +
               JoinNames(OutputFormats(), " or ") + ")");
    return kExitUsage;
  } else if (parsed->Has("options")) {
    return UsageError("convert", "-o: raw output takes no options");
  }
  if (parsed->positional.size() != 2) {
    return UsageError("convert", "expected SRC and DST");
  }
  return Convert(*parsed, writer);
}

}  // namespace imgfs::cli
