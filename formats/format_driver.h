// SPDX-License-Identifier: MIT
// FormatDriver: what a format contributes. Drivers are plain values listed in
// formats/registry.cc, never self-registered. Besides probing and opening one
// file, a driver may open images by path (directory bundles), recognise files
// that belong to another image, write images (`convert -O`) and serve a
// computed view (`mount --as`); the CLI finds all of these through the
// registry, so adding a format touches its own folder and the registry list.
#pragma once

#include <any>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/block_device.h"
#include "core/cache/cache.h"
#include "core/convert/convert.h"
#include "core/crypto/secret.h"
#include "core/exec/thread_pool.h"
#include "core/io/file.h"
#include "core/io/read_around.h"
#include "core/result.h"

namespace imgfs {

// How images are opened; one value per command line.
struct OpenOptions {
  std::string format;            // empty: probe by magic
  bool follow_backing = true;    // false: show only the top layer (--no-backing)
  bool confine_backing = false;  // refuse backing paths outside the image's dir
  int max_chain_depth = 64;      // qemu-img's own limit is in this range
  bool writable = false;
  // Workers for parallel decompression and read-ahead; null = do it on the
  // calling thread. Not owned; outlives every device opened with it.
  ThreadPool* pool = nullptr;
  // Host I/O: O_DIRECT read-ahead of image files (PosixFileOptions) and
  // read-around of small reads (ReadAroundMode). Measurements change them;
  // the CLI reads IMGFS_HOST_READAHEAD and IMGFS_READ_AROUND into them.
  bool direct_read_ahead = true;
  ReadAroundMode read_around = ReadAroundMode::kAuto;
  // Key material for encrypted images (--passphrase-file, or typed at the
  // prompt): the same bytes are offered to every encrypted layer of a chain.
  // Null: none given; a driver that needs one returns KeyRequiredError, one
  // that no key slot accepts returns KeyRejectedError ("no key slot accepts
  // this passphrase"). Drivers must not copy it out of SecretBytes.
  std::shared_ptr<const SecretBytes> passphrase;
  // --header FILE: a detached LUKS header, for the top image only.
  std::string detached_header;
  // `info` without a passphrase: an encrypted image opens from its header
  // alone (Describe works, reads return KeyRequiredError), as qemu-img info
  // does.
  bool metadata_only = false;
  // Warnings a driver has while opening (a weak encryption scheme), one
  // line each; null: dropped. The CLI prints them on stderr.
  std::function<void(const std::string& line)> warn;
};

// What a driver's Open gets besides the file. Backing images and external
// data files are opened through these callbacks, so that chain limits, loop
// detection and --confine-backing live in one place (formats/open.cc) and
// fuzzers can refuse them.
struct OpenContext {
  const OpenOptions* options = nullptr;
  Cache* cache = nullptr;  // never null
  std::string path;        // the image path as given (for messages and names)
  int depth = 0;           // 0 = top image of the chain

  // Opens `ref` (as written in the image) as a backing image of this one,
  // with format `fmt` (empty: probe). Returns kNotFound / kPermission /
  // kCorrupt / kInvalidArgument (loop, depth, confinement) with a message.
  std::function<Result<std::unique_ptr<BlockDevice>>(const std::string& ref,
                                                     const std::string& fmt)>
      open_backing;
  // Opens an auxiliary file (e.g. a qcow2 external data file) named `ref`
  // relative to this image.
  std::function<Result<std::unique_ptr<File>>(const std::string& ref)> open_aux_file;
  // Resolves `ref` against the image's directory (for info's full names).
  std::function<std::string(const std::string& ref)> resolve;
  // Names of the regular files beside this image (in its directory, the
  // image itself left out), at most `max_names` of them, sorted; for formats
  // that name a parent only by an id stored in it (a differencing VDI's
  // parent UUID). Open a candidate with open_aux_file or open_backing, which
  // apply --confine-backing and the chain rules. kUnsupported for in-memory
  // images; kIOError when the directory cannot be read.
  std::function<Result<std::vector<std::string>>(size_t max_names)> list_siblings;
};

// The passphrase for an encrypted image: non-null when one was given; null
// when none was and the image may open from its metadata alone
// (OpenOptions::metadata_only, for `info`); otherwise kKeyRequired saying
// "<what> is encrypted; give its passphrase" (`what`: "luks: disk.img").
inline Result<const SecretBytes*> PassphraseFor(const OpenContext& ctx, const std::string& what) {
  const OpenOptions* opt = ctx.options;
  if (opt != nullptr && opt->passphrase != nullptr) {
    return opt->passphrase.get();
  }
  if (opt != nullptr && opt->metadata_only) {
    return static_cast<const SecretBytes*>(nullptr);
  }
  return KeyRequiredError(what + " is encrypted; give its passphrase");
}

// What probing looks at: the first bytes, the last bytes (tail-magic
// formats) and the file size.
struct ProbeInput {
  std::span<const std::byte> head;  // up to kProbeHeadBytes
  std::span<const std::byte> tail;  // up to kProbeTailBytes
  uint64_t file_size = 0;
};
inline constexpr size_t kProbeHeadBytes = 4096;
inline constexpr size_t kProbeTailBytes = 512;

// What a writer gets besides the source and the output file.
struct WriteContext {
  // Compression workers; null: compress on the calling thread. Not owned.
  ThreadPool* pool = nullptr;
  // Called on the calling thread with source bytes done so far; may be empty.
  ConvertProgressFn progress;
};

// `convert -O <name>`: writes any device as an image of this format.
struct FormatWriter {
  // Shown by `convert --help` under "-O <name>": one paragraph on what is
  // written, then the -o options, one "key=VALUE  meaning" per line. Lines
  // hold at most 66 characters; the CLI indents them.
  std::string_view help;
  // Parses the -o values (each a comma-separated list of key=value items, in
  // command-line order; later items win) into the options `write` takes.
  // Returns kInvalidArgument with a one-line message naming the option.
  Result<std::any> (*parse_options)(std::span<const std::string> values) = nullptr;
  // Writes `src` to `out`, which is freshly created and empty. Returns notes
  // for the user (padding, layout choices), one line each. On error the
  // output is incomplete and the caller removes it; errors name the source
  // or output offset that failed.
  // REQUIRES: `options` came from this writer's parse_options.
  Result<std::vector<std::string>> (*write)(const BlockDevice& src, File& out,
                                            const std::any& options,
                                            const WriteContext& ctx) = nullptr;
};

// `mount --as <name>`: a read-only device whose bytes are an image of this
// format, computed on the fly from a source device. Shown as <stem>.<name>.
struct VirtualView {
  // Shown by `mount --help` under --as: what the view holds and omits.
  // Lines hold at most 50 characters; the CLI indents them.
  std::string_view help;
  // Builds the view over `source` (owned by the result). Errors come from
  // reading the source's allocation map or partition table.
  Result<std::unique_ptr<BlockDevice>> (*make)(std::unique_ptr<BlockDevice> source) = nullptr;
};

// One format. Every hook but `name` and `description` may be null: a driver
// opened only by path has no probe/open, and writers and views are optional.
struct FormatDriver {
  std::string_view name;  // qemu-img spelling
  std::string_view description;
  // 0 = not this format, 100 = certain. raw answers 1.
  int (*probe)(const ProbeInput& in) = nullptr;
  Result<std::unique_ptr<BlockDevice>> (*open)(std::unique_ptr<File> file,
                                               const OpenContext& ctx) = nullptr;

  // True when `path` is an image of this format that is opened by its path
  // rather than as one file (a directory bundle, say). Cheap, since mount
  // planning asks it of every directory entry; it need not validate.
  bool (*claims_path)(const std::string& path) = nullptr;
  // Opens such an image: when claims_path says so, or when the user names
  // this format with --format and it has no `open`. Backing images and
  // other files go through ctx, so that chain rules stay in formats/open.cc.
  // The image is opened writable only if ctx.depth == 0 and
  // ctx.options->writable.
  Result<std::unique_ptr<BlockDevice>> (*open_path)(const std::string& path,
                                                    const OpenContext& ctx) = nullptr;
  // A file that is part of another image (a later segment, an extent):
  // returns the name of the image to open instead, relative to the file's
  // directory ("" when unknown), or nullopt when `path` is not such a part.
  // `in` holds the file's probe bytes. Directory mounts skip such files.
  std::optional<std::string> (*companion_of)(const std::string& path,
                                             const ProbeInput& in) = nullptr;

  const FormatWriter* writer = nullptr;  // `convert -O name`, if any
  const VirtualView* view = nullptr;     // `mount --as name`, if any
};

}  // namespace imgfs
