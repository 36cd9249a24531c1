// SPDX-License-Identifier: MIT
// nbdkit-imgfs-plugin.so: the C ABI of nbdkit's plugin API (nbdkit-plugin(3),
// NBDKIT_API_VERSION 2) over nbd::Export. Every image format imgfs reads
// comes from the registry; nothing here knows a format. The export is
// read-only and PARALLEL: BlockDevice reads are safe from many threads, so
// every connection shares one device and one cache (multi-conn is safe).
// Each callback is noexcept glue: it catches everything, and errors reach
// nbdkit's log as imgfs's one-line message with the status's errno.
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/registry.h"
#include "fuse/cli/common.h"
#include "nbd/export.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

namespace {

using imgfs::Status;
using imgfs::nbd::Export;
using imgfs::nbd::ExportConfig;

// nbdkit loads one plugin instance per process, and its callbacks carry no
// user pointer for process-wide state: the configuration and the export
// live here, set up by config/get_ready/after_fork before any connection.
struct PluginState {
  ExportConfig config;
  std::unique_ptr<Export> exp;  // opened in after_fork, read by every connection
};

PluginState& State() {
  static PluginState state;
  return state;
}

int Fail(const Status& status) {
  nbdkit_error("%s", status.message().c_str());
  nbdkit_set_error(status.ToErrno());
  return -1;
}

// In a catch block: logs the exception and sets ENOMEM or EIO.
int FailCurrentException() {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    nbdkit_error("out of memory");
    nbdkit_set_error(ENOMEM);
  } catch (const std::exception& e) {
    nbdkit_error("internal error: %s", e.what());
    nbdkit_set_error(EIO);
  } catch (...) {
    nbdkit_error("internal error: unknown exception");
    nbdkit_set_error(EIO);
  }
  return -1;
}

void Unload() noexcept {
  try {
    State().exp.reset();
  } catch (...) {
    // Nothing to report to at unload.
  }
}

int Config(const char* key, const char* value) noexcept {
  try {
    // nbdkit changes directory to / when it forks: file= and header= become
    // absolute now (backing files resolve against the image's directory
    // anyway; passphrase-file= is read at once).
    std::string absolute = value;
    if ((std::string_view(key) == "file" || std::string_view(key) == "header") && *value != '\0') {
      std::unique_ptr<char, decltype(&std::free)> path(nbdkit_absolute_path(value), &std::free);
      if (path == nullptr) {
        return -1;  // nbdkit has logged why
      }
      absolute = path.get();
    }
    Status s = imgfs::nbd::SetParameter(&State().config, key, absolute);
    return s.ok() ? 0 : Fail(s);
  } catch (...) {
    return FailCurrentException();
  }
}

int ConfigComplete() noexcept {
  try {
    Status s = imgfs::nbd::CheckConfig(State().config);
    return s.ok() ? 0 : Fail(s);
  } catch (...) {
    return FailCurrentException();
  }
}

// Opens the image once before nbdkit forks into the background, so a file
// that cannot be opened stops nbdkit at start with the reason. The device is
// closed again: read-ahead threads started now would not survive the fork.
int GetReady() noexcept {
  try {
    auto exp = Export::Open(State().config, /*pool_threads=*/0);
    return exp.ok() ? 0 : Fail(exp.status());
  } catch (...) {
    return FailCurrentException();
  }
}

// The device that serves, with its worker pool, opened in the process (and
// after the fork) that serves.
int AfterFork() noexcept {
  try {
    auto exp = Export::Open(State().config, imgfs::cli::PoolThreads());
    if (!exp.ok()) {
      return Fail(exp.status());
    }
    State().exp = std::move(exp).value();
    return 0;
  } catch (...) {
    return FailCurrentException();
  }
}

void DumpPlugin() noexcept {
  try {
    std::printf("imgfs_version=%s\n", IMGFS_VERSION);
    std::printf(
        "imgfs_parameters=file,format,no-backing,confine-backing,snapshot,partition,cache-size\n");
    std::string formats = "raw";
    for (const imgfs::FormatDriver& d : imgfs::AllFormats()) {
      if (std::string_view(d.name) != "raw") {
        formats += ",";
        formats += d.name;
      }
    }
    std::printf("imgfs_formats=%s\n", formats.c_str());
  } catch (...) {
    FailCurrentException();
  }
}

void* Open(int /*readonly*/) noexcept { return NBDKIT_HANDLE_NOT_NEEDED; }

int64_t GetSize(void* /*handle*/) noexcept { return static_cast<int64_t>(State().exp->Size()); }

int No(void* /*handle*/) noexcept { return 0; }
int Yes(void* /*handle*/) noexcept { return 1; }

// nbdkit reads (and drops) the range for a client's NBD_CMD_CACHE: that
// fills the shared cache with the metadata and decompressed data it needs.
int CanCache(void* /*handle*/) noexcept { return NBDKIT_CACHE_EMULATE; }
// Read-only: there are no writes to force to stable storage.
int CanFua(void* /*handle*/) noexcept { return NBDKIT_FUA_NONE; }

int ThreadModel() noexcept { return NBDKIT_THREAD_MODEL_PARALLEL; }

int Pread(void* /*handle*/, void* buf, uint32_t count, uint64_t offset,
          uint32_t /*flags*/) noexcept {
  try {
    Status s = State().exp->Read(offset, std::span(static_cast<std::byte*>(buf), count));
    if (!s.ok()) {
      return Fail(s.Annotate("cannot read " + std::to_string(count) + " bytes at offset " +
                             std::to_string(offset)));
    }
    return 0;
  } catch (...) {
    return FailCurrentException();
  }
}

int Extents(void* /*handle*/, uint32_t count, uint64_t offset, uint32_t flags,
            struct nbdkit_extents* extents) noexcept {
  try {
    std::vector<Export::Run> runs;
    Status s = State().exp->Extents(offset, count, &runs);
    if (!s.ok()) {
      return Fail(s.Annotate("cannot map " + std::to_string(count) + " bytes at offset " +
                             std::to_string(offset)));
    }
    for (const Export::Run& r : runs) {
      if (nbdkit_add_extent(extents, r.offset, r.length, r.flags) == -1) {
        return -1;  // nbdkit has logged why
      }
      if ((flags & NBDKIT_FLAG_REQ_ONE) != 0) {
        break;
      }
    }
    return 0;
  } catch (...) {
    return FailCurrentException();
  }
}

struct nbdkit_plugin MakePlugin() {
  struct nbdkit_plugin p {};
  p.name = "imgfs";
  p.longname = "imgfs disk image reader";
  p.version = IMGFS_VERSION;
  p.description =
      "Serves a disk image of any format imgfs reads (qcow2 with backing chains and\n"
      "snapshots, dmg, raw, ...) as a read-only raw disk.";
  p.unload = Unload;
  p.config = Config;
  p.config_complete = ConfigComplete;
  p.config_help = imgfs::nbd::kParameterHelp;
  p.magic_config_key = "file";
  p.get_ready = GetReady;
  p.after_fork = AfterFork;
  p.dump_plugin = DumpPlugin;
  p.thread_model = ThreadModel;
  p.open = Open;
  p.get_size = GetSize;
  p.can_write = No;
  p.can_flush = No;
  p.can_trim = No;
  p.can_zero = No;
  p.is_rotational = No;
  p.can_fua = CanFua;
  p.can_cache = CanCache;
  p.can_multi_conn = Yes;
  p.can_extents = Yes;
  p.pread = Pread;
  p.extents = Extents;
  p.errno_is_preserved = 0;
  return p;
}

struct nbdkit_plugin plugin = MakePlugin();

}  // namespace

NBDKIT_REGISTER_PLUGIN(plugin)
