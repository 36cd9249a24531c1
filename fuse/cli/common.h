// SPDX-License-Identifier: MIT
// Shared CLI plumbing: option parsing, the one-line error format
// ("imgfs: <file>: <what went wrong>"), sizes and exit codes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/block_device.h"
#include "core/cache/cache.h"
#include "core/result.h"
#include "core/status.h"
#include "core/util/size.h"

namespace imgfs {
struct OpenOptions;
}  // namespace imgfs

namespace imgfs::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
// No key slot of an encrypted image accepts the passphrase (docs/imgfs.1).
inline constexpr int kExitKeyRejected = 3;

struct OptionSpec {
  std::string_view long_name;  // "format"; also the key in ParsedArgs
  char short_name = 0;         // 'f', or 0 for none
  bool takes_value = false;
};

struct ParsedArgs {
  std::map<std::string, std::vector<std::string>, std::less<>> options;
  std::vector<std::string> positional;

  bool Has(std::string_view name) const { return options.find(name) != options.end(); }
  // The last value given for `name`, if any.
  std::optional<std::string> Value(std::string_view name) const;
  std::vector<std::string> Values(std::string_view name) const;
};

// Parses `args` (without the program and subcommand names). Accepts
// --name, --name=value, --name value, -x, -x value, -xvalue and "--".
// Options may follow positional arguments. Unknown options are errors.
Result<ParsedArgs> ParseArgs(std::span<char* const> args, std::span<const OptionSpec> specs);

// Prints "imgfs: <file>: <message>" to stderr, dropping a repeated "<file>"
// from the status message.
void PrintError(std::string_view file, const Status& status);
// Prints "imgfs: <message>" to stderr.
void PrintError(std::string_view message);
// Prints a usage error and returns kExitUsage.
int UsageError(std::string_view command, std::string_view message);

// Sets the host I/O fields of `options` from the environment variables kept
// as knobs for measurements (README "Threads and memory"):
// IMGFS_HOST_READAHEAD=0 turns O_DIRECT read-ahead off, IMGFS_READ_AROUND=0
// turns read-around off and =1 on regardless of memory. Unset or other
// values leave the defaults. The core itself reads no environment.
void ApplyHostIoEnvironment(OpenOptions* options);

// Workers for the shared ThreadPool of parallel reads: one fewer than the
// cores, as the thread that asks takes part (fuse/LOOP.md).
// IMGFS_POOL_THREADS=N overrides it for measurements; 0 means no pool. Used
// by mount, by fat (for its scan) and by the nbdkit plugin.
unsigned PoolThreads();

// The options of every command that opens encrypted images, for its
// OptionSpec list: --passphrase-file FILE (--key-file FILE is the same) and
// --header FILE (a detached LUKS header).
#define IMGFS_CLI_KEY_OPTION_SPECS \
  {"passphrase-file", 0, true}, {"key-file", 0, true}, { "header", 0, true }
// The help section for them, printed after a command's own help.
inline constexpr std::string_view kKeyOptionsHelp =
    "\n"
    "Encrypted images:\n"
    "  --passphrase-file FILE  the passphrase or key: the file's bytes exactly\n"
    "                          (--key-file FILE is the same); without it,\n"
    "                          imgfs asks on a terminal. Never give it on the\n"
    "                          command line.\n"
    "  --header FILE           a detached LUKS header for IMAGE\n";

// Reads the key options of `parsed` into `options`: the key file's bytes
// into locked memory, the header path as given.
Status ApplyKeyOptions(const ParsedArgs& parsed, OpenOptions* options);

// OpenImage, and when the image needs a passphrase that was not given: on a
// terminal, asks for one without echo and tries again (the passphrase then
// stays in `options` for the rest of the command); elsewhere fails with a
// message naming --passphrase-file.
Result<std::unique_ptr<BlockDevice>> OpenImageAsking(const std::string& path, OpenOptions* options,
                                                     Cache* cache);

// The exit status for a failure to open: kExitKeyRejected when no key slot
// accepted the passphrase, else `otherwise`.
int OpenFailureExit(const Status& status, int otherwise = kExitFailure);

// Opens the one positional IMAGE of `parsed` with its -f/--format and key
// options. On failure prints the one-line error, sets *exit_status
// (OpenFailureExit with `failure`) and returns nullptr. `metadata_only`
// (info): without a key option, encrypted images open from their headers
// and nobody is asked for a passphrase.
// REQUIRES: parsed.positional.size() == 1; cache outlives the device.
std::unique_ptr<BlockDevice> OpenSingleImage(const ParsedArgs& parsed, Cache* cache,
                                             int* exit_status, int failure = kExitFailure,
                                             bool metadata_only = false);

// ParseSize ("256M" -> bytes) is imgfs::ParseSize from core/util/size.h.

// {"raw", names...}: raw output and views are the CLI's own, the other
// formats' come from the registry.
std::vector<std::string_view> RawAnd(std::span<const std::string_view> names);

// "raw|dmg" for ({"raw", "dmg"}, "|"): format lists for help and errors.
std::string JoinNames(std::span<const std::string_view> names, std::string_view separator);

// Appends `text` to `out` with `indent` before every line (help text that
// the registry's drivers provide). A missing final newline is added.
void AppendIndented(std::string_view text, std::string_view indent, std::string* out);

// qemu's size_to_str: "64 MiB", "196 KiB", "1.5 GiB", "0 B".
std::string HumanSize(uint64_t bytes);

}  // namespace imgfs::cli
