// SPDX-License-Identifier: MIT
#include "fuse/cli/common.h"

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>

#include "core/crypto/secret.h"
#include "formats/open.h"

namespace imgfs::cli {
namespace {

const OptionSpec* FindLong(std::span<const OptionSpec> specs, std::string_view name) {
  for (const OptionSpec& s : specs) {
    if (s.long_name == name) {
      return &s;
    }
  }
  return nullptr;
}

const OptionSpec* FindShort(std::span<const OptionSpec> specs, char name) {
  for (const OptionSpec& s : specs) {
    if (s.short_name != 0 && s.short_name == name) {
      return &s;
    }
  }
  return nullptr;
}

// Handles one option at args[i]; advances i past a separate value.
Status ParseOne(std::span<char* const> args, size_t& i, std::span<const OptionSpec> specs,
                ParsedArgs* out) {
  std::string_view arg = args[i];
  const OptionSpec* spec = nullptr;
  std::optional<std::string> value;
  if (arg.starts_with("--")) {
    std::string_view name = arg.substr(2);
    if (size_t eq = name.find('='); eq != std::string_view::npos) {
      value = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
    }
    spec = FindLong(specs, name);
  } else {
    spec = FindShort(specs, arg[1]);
    if (spec != nullptr && spec->takes_value && arg.size() > 2) {
      value = std::string(arg.substr(2));
    } else if (arg.size() > 2) {
      spec = nullptr;
    }
  }
  if (spec == nullptr) {
    return InvalidArgumentError("unknown option '" + std::string(arg) + "'");
  }
  if (spec->takes_value && !value) {
    if (i + 1 >= args.size()) {
      return InvalidArgumentError("option '" + std::string(arg) + "' needs a value");
    }
    value = std::string(args[++i]);
  } else if (!spec->takes_value && value) {
    return InvalidArgumentError("option '" + std::string(arg) + "' takes no value");
  }
  out->options[std::string(spec->long_name)].push_back(value.value_or(""));
  return Status::Ok();
}

}  // namespace

std::optional<std::string> ParsedArgs::Value(std::string_view name) const {
  auto it = options.find(name);
  if (it == options.end() || it->second.empty()) {
    return std::nullopt;
  }
  return it->second.back();
}

std::vector<std::string> ParsedArgs::Values(std::string_view name) const {
  auto it = options.find(name);
  return it == options.end() ? std::vector<std::string>{} : it->second;
}

Result<ParsedArgs> ParseArgs(std::span<char* const> args, std::span<const OptionSpec> specs) {
  ParsedArgs out;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      out.positional.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    IMGFS_RETURN_IF_ERROR(ParseOne(args, i, specs, &out));
  }
  return out;
}

void PrintError(std::string_view file, const Status& status) {
  std::string msg = status.message();
  std::string prefix = std::string(file) + ": ";
  if (msg.starts_with(prefix)) {
    msg.erase(0, prefix.size());
  } else if (msg.starts_with("cannot ")) {
    // "cannot open <file>: reason" -> "cannot open: reason"
    size_t verb_end = msg.find(' ', 7);
    if (verb_end != std::string::npos && msg.compare(verb_end + 1, prefix.size(), prefix) == 0) {
      msg.erase(verb_end, prefix.size() - 1);
    }
  }
  std::fprintf(stderr, "imgfs: %.*s: %s\n", static_cast<int>(file.size()), file.data(),
               msg.c_str());
}

void PrintError(std::string_view message) {
  std::fprintf(stderr, "imgfs: %.*s\n", static_cast<int>(message.size()), message.data());
}

int UsageError(std::string_view command, std::string_view message) {
  std::fprintf(stderr, "imgfs: %.*s: %.*s (see 'imgfs %.*s --help')\n",
               static_cast<int>(command.size()), command.data(), static_cast<int>(message.size()),
               message.data(), static_cast<int>(command.size()), command.data());
  return kExitUsage;
}

std::vector<std::string_view> RawAnd(std::span<const std::string_view> names) {
  std::vector<std::string_view> out = {"raw"};
  out.insert(out.end(), names.begin(), names.end());
  return out;
}

std::string JoinNames(std::span<const std::string_view> names, std::string_view separator) {
  std::string out;
  for (std::string_view name : names) {
    if (!out.empty()) {
      out += separator;
    }
    out += name;
  }
  return out;
}

void AppendIndented(std::string_view text, std::string_view indent, std::string* out) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    *out += indent;
    *out += line;
    *out += '\n';
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
}

std::string HumanSize(uint64_t bytes) {
  static constexpr const char* kSuffixes[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  // Same rule as qemu's size_to_str: switch to the next unit once the
  // integer part would reach 1000.
  int exp = 0;
  std::frexp(static_cast<double>(bytes) / (1000.0 / 1024.0), &exp);
  int unit = std::max(0, (exp - 1) / 10);
  unit = std::min(unit, 6);
  double div = std::ldexp(1.0, unit * 10);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%0.3g %s", static_cast<double>(bytes) / div, kSuffixes[unit]);
  return buf;
}

void ApplyHostIoEnvironment(OpenOptions* options) {
  // Read once, on the main thread, before any worker starts.
  const char* host = std::getenv("IMGFS_HOST_READAHEAD");  // NOLINT(concurrency-mt-unsafe)
  if (host != nullptr && std::string_view(host) == "0") {
    options->direct_read_ahead = false;
  }
  const char* around = std::getenv("IMGFS_READ_AROUND");  // NOLINT(concurrency-mt-unsafe)
  if (around != nullptr && std::string_view(around) == "0") {
    options->read_around = ReadAroundMode::kOff;
  } else if (around != nullptr && std::string_view(around) == "1") {
    options->read_around = ReadAroundMode::kAlways;
  }
}

unsigned PoolThreads() {
  if (const char* env = std::getenv("IMGFS_POOL_THREADS")) {  // NOLINT(concurrency-mt-unsafe)
    return static_cast<unsigned>(std::max(0, std::atoi(env)));
  }
  return std::max(1U, std::thread::hardware_concurrency() - 1);
}

Status ApplyKeyOptions(const ParsedArgs& parsed, OpenOptions* options) {
  std::optional<std::string> file = parsed.Value("passphrase-file");
  if (!file) {
    file = parsed.Value("key-file");
  }
  if (file) {
    IMGFS_ASSIGN_OR_RETURN(SecretBytes secret, ReadSecretFile(*file));
    options->passphrase = std::make_shared<const SecretBytes>(std::move(secret));
  }
  options->detached_header = parsed.Value("header").value_or("");
  // What drivers warn about while opening (a weak encryption scheme).
  options->warn = [](const std::string& line) {
    std::fprintf(stderr, "imgfs: warning: %s\n", line.c_str());
  };
  return Status::Ok();
}

namespace {

// Reads one line from the terminal on stdin with echo off; the newline is
// not part of the passphrase.
Result<SecretBytes> AskPassphrase(const std::string& path) {
  constexpr size_t kMaxTyped = 4096;
  IMGFS_ASSIGN_OR_RETURN(SecretBytes secret, SecretBytes::Allocate(kMaxTyped));
  termios saved{};
  const bool have_termios = tcgetattr(STDIN_FILENO, &saved) == 0;
  if (have_termios) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::fprintf(stderr, "Passphrase for %s: ", path.c_str());
  std::fflush(stderr);
  size_t got = 0;
  bool line_end = false;
  while (got < kMaxTyped) {
    std::byte c{};
    const ssize_t n = read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0 || c == std::byte{'\n'}) {
      line_end = n > 0;
      break;
    }
    secret.bytes()[got++] = c;
  }
  if (have_termios) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  }
  std::fputc('\n', stderr);
  if (!line_end && got == kMaxTyped) {
    return InvalidArgumentError("passphrase longer than " + std::to_string(kMaxTyped) + " bytes");
  }
  secret.Truncate(got);
  return secret;
}

}  // namespace

Result<std::unique_ptr<BlockDevice>> OpenImageAsking(const std::string& path, OpenOptions* options,
                                                     Cache* cache) {
  auto dev = OpenImage(path, *options, cache);
  if (dev.ok() || dev.status().code() != StatusCode::kKeyRequired || options->passphrase) {
    return dev;
  }
  if (isatty(STDIN_FILENO) == 0) {
    return KeyRequiredError(dev.status().message() + " (give --passphrase-file FILE)");
  }
  IMGFS_ASSIGN_OR_RETURN(SecretBytes typed, AskPassphrase(path));
  options->passphrase = std::make_shared<const SecretBytes>(std::move(typed));
  return OpenImage(path, *options, cache);
}

int OpenFailureExit(const Status& status, int otherwise) {
  return status.code() == StatusCode::kKeyRejected ? kExitKeyRejected : otherwise;
}

std::unique_ptr<BlockDevice> OpenSingleImage(const ParsedArgs& parsed, Cache* cache,
                                             int* exit_status, int failure, bool metadata_only) {
  const std::string& path = parsed.positional[0];
  OpenOptions options;
  options.format = parsed.Value("format").value_or("");
  ApplyHostIoEnvironment(&options);
  Status keys = ApplyKeyOptions(parsed, &options);
  if (!keys.ok()) {
    PrintError(path, keys);
    *exit_status = failure;
    return nullptr;
  }
  options.metadata_only = metadata_only && !options.passphrase;
  auto dev = OpenImageAsking(path, &options, cache);
  if (!dev.ok()) {
    PrintError(path, dev.status());
    *exit_status = OpenFailureExit(dev.status(), failure);
    return nullptr;
  }
  return std::move(dev).value();
}

}  // namespace imgfs::cli
