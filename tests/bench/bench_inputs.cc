// SPDX-License-Identifier: MIT
// Benchmark inputs: data generator, qemu-img driven image builder, openers.
#include "tests/bench/bench_inputs.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "core/io/file.h"
#include "formats/open.h"

namespace imgfs::bench {
namespace {

namespace fs = std::filesystem;

constexpr size_t kBlockBytes = 4096;
constexpr size_t kRecordBytes = 256;
constexpr uint64_t kDefaultImageMib = 256;
constexpr uint64_t kDataSeed = 0x1d15c0de;

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void FillRandom(uint64_t* state, std::span<std::byte> dst) {
  for (size_t i = 0; i < dst.size(); i += 8) {
    uint64_t v = SplitMix64(state);
    std::memcpy(dst.data() + i, &v, std::min<size_t>(8, dst.size() - i));
  }
}

void FillText(uint64_t* state, std::span<std::byte> dst) {
  static constexpr char kAlphabet[] = "etaoinshrdlucmfw";
  for (size_t i = 0; i < dst.size(); i += 16) {
    uint64_t v = SplitMix64(state);
    for (size_t j = 0; j < 16 && i + j < dst.size(); ++j) {
      dst[i + j] = static_cast<std::byte>(kAlphabet[(v >> (4 * j)) & 15]);
    }
  }
}

// Benchmarks only read the environment; nothing in them sets it.
const char* GetEnv(const char* name) {
  return ::getenv(name);  // NOLINT(concurrency-mt-unsafe): see above
}

bool InPath(const char* tool) {
  const char* path = GetEnv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) {
      end = dirs.size();
    }
    std::string candidate = dirs.substr(start, end - start) + "/" + tool;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

// Runs argv[0] from PATH with stdout/stderr silenced; returns the exit code
// (127 when it could not be started).
int Run(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const auto& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    return 127;
  }
  if (pid == 0) {
    int null_fd = ::open("/dev/null", O_WRONLY);
    if (null_fd >= 0) {
      ::dup2(null_fd, 1);
      ::dup2(null_fd, 2);
    }
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  int wstatus = 0;
  if (::waitpid(pid, &wstatus, 0) < 0 || !WIFEXITED(wstatus)) {
    return 127;
  }
  return WEXITSTATUS(wstatus);
}

uint64_t EnvU64(const char* name, uint64_t fallback) {
  const char* v = GetEnv(name);
  if (v == nullptr || *v == '\0') {
    return fallback;
  }
  return std::strtoull(v, nullptr, 10);
}

// The qemu-img format a variant is written in.
const char* FormatOf(Variant v) {
  switch (v) {
    case Variant::kRaw:
      return "raw";
    case Variant::kVmdkStream:
      return "vmdk";
    case Variant::kQcow2:
    case Variant::kQcow2Zlib:
    case Variant::kQcow2Zstd:
      break;
  }
  return "qcow2";
}

}  // namespace

void FillDiskLikeData(uint64_t seed, uint64_t offset, std::span<std::byte> dst) {
  for (size_t done = 0; done < dst.size(); done += kBlockBytes) {
    uint64_t block = (offset + done) / kBlockBytes;
    uint64_t state = seed ^ (block * 0xD1B54A32D192ED03ULL);
    auto out = dst.subspan(done, std::min(kBlockBytes, dst.size() - done));
    uint64_t kind = SplitMix64(&state) % 100;
    if (kind < 25) {
      FillRandom(&state, out);
    } else if (kind < 35) {
      std::memset(out.data(), 0, out.size());
    } else if (kind < 65) {
      FillText(&state, out);
    } else {
      FillText(&state, out.first(std::min(kRecordBytes, out.size())));
      for (size_t i = kRecordBytes; i < out.size(); i += kRecordBytes) {
        std::memcpy(out.data() + i, out.data(), std::min(kRecordBytes, out.size() - i));
      }
    }
  }
}

const char* VariantName(Variant v) {
  switch (v) {
    case Variant::kRaw:
      return "raw";
    case Variant::kQcow2:
      return "qcow2";
    case Variant::kQcow2Zlib:
      return "qcow2_zlib";
    case Variant::kQcow2Zstd:
      return "qcow2_zstd";
    case Variant::kVmdkStream:
      return "vmdk_stream";
  }
  return "?";
}

Inputs& Inputs::Get() {
  static Inputs inputs;
  return inputs;
}

Inputs::Inputs() {
  image_bytes_ = EnvU64("IMGFS_BENCH_MIB", kDefaultImageMib) << 20;
  if (const char* d = GetEnv("IMGFS_BENCH_DIR"); d != nullptr && *d != '\0') {
    dir_ = d;
    std::error_code ec;
    fs::create_directories(dir_, ec);
    return;
  }
  const char* tmp = GetEnv("TMPDIR");
  std::string templ =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/imgfs-bench-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) != nullptr) {
    dir_ = buf.data();
    remove_dir_ = true;
  }
}

Inputs::~Inputs() {
  if (remove_dir_) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string Inputs::MakeRaw() {
  std::string path = dir_ + "/disk-" + std::to_string(image_bytes_ >> 20) + "M.raw";
  std::error_code ec;
  if (fs::exists(path, ec) && fs::file_size(path, ec) == image_bytes_) {
    return path;
  }
  auto file = CreatePosixFile(path + ".tmp");
  if (!file.ok()) {
    return {};
  }
  std::vector<std::byte> chunk(1 << 20);
  for (uint64_t off = 0; off < image_bytes_; off += chunk.size()) {
    auto part = std::span(chunk).first(
        static_cast<size_t>(std::min<uint64_t>(chunk.size(), image_bytes_ - off)));
    FillDiskLikeData(kDataSeed, off, part);
    if (!(*file)->WriteAt(off, part).ok()) {
      return {};
    }
  }
  file->reset();
  fs::rename(path + ".tmp", path, ec);
  return ec ? std::string() : path;
}

std::string Inputs::MakeConverted(Variant v) {
  std::string raw = MakeRaw();
  if (raw.empty()) {
    return {};
  }
  const std::string format = FormatOf(v);
  std::string path =
      dir_ + "/disk-" + std::to_string(image_bytes_ >> 20) + "M-" + VariantName(v) + "." + format;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    return path;
  }
  std::vector<std::string> args = {"qemu-img", "convert", "-O", format};
  if (v == Variant::kVmdkStream) {
    args.insert(args.end(), {"-o", "subformat=streamOptimized"});  // 64 KiB grains
  } else if (v == Variant::kQcow2Zlib || v == Variant::kQcow2Zstd) {
    args.insert(args.end(), {"-c", "-o",
                             std::string("cluster_size=65536,compression_type=") +
                                 (v == Variant::kQcow2Zlib ? "zlib" : "zstd")});
  } else {
    args.insert(args.end(), {"-o", "cluster_size=65536"});
  }
  // A vmdk is made under its final name (its descriptor names its extent
  // by the file name) in a scratch directory, then moved.
  const std::string scratch = dir_ + "/making-" + VariantName(v);
  fs::create_directories(scratch, ec);
  const std::string made = scratch + "/" + fs::path(path).filename().string();
  args.insert(args.end(), {raw, made});
  if (Run(args) != 0) {
    return {};
  }
  fs::rename(made, path, ec);
  fs::remove_all(scratch, ec);
  return ec ? std::string() : path;
}

Inputs::PathOrError Inputs::PathFor(Variant v) {
  static std::mutex mu;
  std::lock_guard lock(mu);
  if (dir_.empty()) {
    return {{}, "cannot create a temporary directory"};
  }
  if (v == Variant::kRaw) {
    std::string p = MakeRaw();
    return p.empty() ? PathOrError{{}, "cannot write the raw input in " + dir_}
                     : PathOrError{p, {}};
  }
  if (!InPath("qemu-img")) {
    return {{}, "qemu-img not found in PATH"};
  }
  std::string p = MakeConverted(v);
  return p.empty() ? PathOrError{{}, std::string("qemu-img convert failed for ") + VariantName(v)}
                   : PathOrError{p, {}};
}

OpenedImage OpenForBench(Variant v, uint64_t cache_bytes) {
  OpenedImage out;
  auto path = Inputs::Get().PathFor(v);
  if (!path.error.empty()) {
    out.error = path.error;
    return out;
  }
  out.cache = std::make_unique<Cache>(cache_bytes);
  auto dev = OpenImage(path.path, OpenOptions{}, out.cache.get());
  if (!dev.ok()) {
    out.error = "cannot open " + path.path + ": " + dev.status().ToString();
    return out;
  }
  std::string want = FormatOf(v);
  std::string got = (*dev)->Describe().format;
  if (got != want) {
    out.error = path.path + " opened as '" + got + "', not '" + want +
                "' (driver not built into this tree?)";
    return out;
  }
  out.device = std::move(*dev);
  return out;
}

void DropPageCache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

bool DropPageCacheRequested() { return EnvU64("IMGFS_BENCH_DROP_PAGE_CACHE", 0) != 0; }

std::vector<uint64_t> RandomOffsets(uint64_t size_bytes, size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<uint64_t> pick(0, size_bytes / kBlockBytes - 1);
  std::vector<uint64_t> out(count);
  for (auto& o : out) {
    o = pick(rng) * kBlockBytes;
  }
  return out;
}

size_t CodecDataBytes() {
  const char* v = std::getenv("IMGFS_BENCH_CODEC_MIB");
  const long mib = v != nullptr ? std::strtol(v, nullptr, 10) : 32;
  return static_cast<size_t>(mib > 0 ? mib : 32) << 20;
}

}  // namespace imgfs::bench
