// SPDX-License-Identifier: MIT
#include "nbd/export.h"

#include <string>

#include "core/crypto/secret.h"
#include "core/partition/partition_table.h"
#include "core/util/size.h"
#include "formats/open.h"

namespace imgfs::nbd {
namespace {

// nbdkit_parse_bool's spellings, without needing nbdkit to parse them.
Result<bool> ParseBool(std::string_view key, std::string_view value) {
  for (std::string_view yes : {"1", "true", "yes", "on"}) {
    if (value == yes) {
      return true;
    }
  }
  for (std::string_view no : {"0", "false", "no", "off"}) {
    if (value == no) {
      return false;
    }
  }
  return InvalidArgumentError(std::string(key) + "=" + std::string(value) +
                              ": expected 1/0, true/false, yes/no or on/off");
}

Result<uint32_t> ParsePartitionNumber(std::string_view value) {
  uint64_t n = 0;
  bool digits = !value.empty() && value.size() <= 4;
  for (char c : value) {
    digits = digits && c >= '0' && c <= '9';
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (!digits || n == 0 || n > kMaxPartitions) {
    return InvalidArgumentError("partition=" + std::string(value) +
                                ": expected a partition number from 1 to " +
                                std::to_string(kMaxPartitions));
  }
  return static_cast<uint32_t>(n);
}

// The partition numbered `number` of `disk` as a window of it.
Result<std::unique_ptr<BlockDevice>> OpenPartition(const BlockDevice* disk, uint32_t number) {
  IMGFS_ASSIGN_OR_RETURN(PartitionTable table, ReadPartitionTable(*disk));
  std::string numbers;
  for (const Partition& p : table.partitions) {
    if (p.number == number) {
      return NewSliceDevice(disk, p.start_bytes, p.length_bytes);
    }
    numbers += (numbers.empty() ? "" : ", ") + std::to_string(p.number);
  }
  if (table.scheme == PartitionScheme::kNone) {
    return NotFoundError("partition " + std::to_string(number) +
                         ": the disk has no partition table");
  }
  return NotFoundError("partition " + std::to_string(number) + ": no such partition in the " +
                       std::string(SchemeName(table.scheme)) + " table (it has " +
                       (numbers.empty() ? std::string("none") : numbers) + ")");
}

}  // namespace

const char* const kParameterHelp =
    "file=IMAGE            (required) the disk image to serve: any format imgfs\n"
    "                      reads, probed by its magic\n"
    "format=FMT            do not probe; open IMAGE as FMT (qcow2, dmg, raw, ...)\n"
    "no-backing=true       serve only the top layer of a backing chain\n"
    "confine-backing=true  refuse backing files outside the image's directory\n"
    "snapshot=NAME         serve the internal snapshot NAME (or id) of a qcow2\n"
    "partition=N           serve partition N (MBR, GPT or Apple map; numbered as\n"
    "                      Linux numbers them) instead of the whole disk\n"
    "cache-size=SIZE       cache of metadata and decompressed data (K/M/G\n"
    "                      suffixes; default 64M)\n"
    "passphrase-file=FILE  passphrase or key of an encrypted image: the file's\n"
    "                      bytes exactly (key-file= is the same)\n"
    "header=FILE           a detached LUKS header for IMAGE\n"
    "The export is read-only; block status shows holes and zeros.";

Status SetParameter(ExportConfig* config, std::string_view key, std::string_view value) {
  if (key == "file") {
    if (value.empty()) {
      return InvalidArgumentError("file=: empty file name");
    }
    config->file = value;
  } else if (key == "format") {
    config->options.format = value;
  } else if (key == "no-backing") {
    IMGFS_ASSIGN_OR_RETURN(bool on, ParseBool(key, value));
    config->options.follow_backing = !on;
  } else if (key == "confine-backing") {
    IMGFS_ASSIGN_OR_RETURN(config->options.confine_backing, ParseBool(key, value));
  } else if (key == "snapshot") {
    if (value.empty()) {
      return InvalidArgumentError("snapshot=: empty snapshot name");
    }
    config->snapshot = value;
  } else if (key == "partition") {
    IMGFS_ASSIGN_OR_RETURN(config->partition, ParsePartitionNumber(value));
  } else if (key == "cache-size") {
    auto bytes = ParseSize(value);
    if (!bytes.ok()) {
      return bytes.status().Annotate("cache-size");
    }
    config->cache_bytes = *bytes;
  } else if (key == "passphrase-file" || key == "key-file") {
    auto secret = ReadSecretFile(std::string(value));
    if (!secret.ok()) {
      return secret.status().Annotate(key);
    }
    config->options.passphrase = std::make_shared<const SecretBytes>(std::move(secret).value());
  } else if (key == "header") {
    config->options.detached_header = value;
  } else {
    return InvalidArgumentError("unknown parameter '" + std::string(key) +
                                "' (see nbdkit imgfs --help)");
  }
  return Status::Ok();
}

Status CheckConfig(const ExportConfig& config) {
  if (config.file.empty()) {
    return InvalidArgumentError("file= is required (see nbdkit imgfs --help)");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Export>> Export::Open(const ExportConfig& config, unsigned pool_threads) {
  std::unique_ptr<Export> e(new Export());
  OpenOptions options = config.options;
  if (pool_threads > 0) {
    options.pool = &e->pool_.emplace(pool_threads);
  }
  e->cache_ = std::make_unique<Cache>(config.cache_bytes);
  auto image = OpenImage(config.file, options, e->cache_.get());
  if (!image.ok()) {
    // One line naming the file: "cannot open /x/disk.qcow2: qcow2: ...".
    const std::string& why = image.status().message();
    return why.find(config.file) == std::string::npos
               ? image.status().Annotate("cannot open " + config.file)
               : image.status();
  }
  e->image_ = std::move(image).value();
  e->shown_ = e->image_.get();
  if (!config.snapshot.empty()) {
    auto snap = e->image_->OpenSnapshot(config.snapshot);
    if (!snap.ok()) {
      return snap.status().Annotate("cannot open " + config.file + ": snapshot " + config.snapshot);
    }
    e->snapshot_ = std::move(snap).value();
    e->shown_ = e->snapshot_.get();
  }
  if (config.partition) {
    auto part = OpenPartition(e->shown_, *config.partition);
    if (!part.ok()) {
      return part.status().Annotate("cannot open " + config.file);
    }
    e->partition_ = std::move(part).value();
    e->shown_ = e->partition_.get();
  }
  return e;
}

Status Export::Read(uint64_t offset, std::span<std::byte> dst) const {
  return shown_->Read(offset, dst);
}

Status Export::Extents(uint64_t offset, uint64_t length, std::vector<Run>* out) const {
  std::vector<Extent> extents;
  IMGFS_RETURN_IF_ERROR(shown_->Extents(offset, length, &extents));
  for (const Extent& e : extents) {
    const uint32_t flags = NbdExtentFlags(e.kind);
    if (!out->empty() && out->back().flags == flags &&
        out->back().offset + out->back().length == e.offset) {
      out->back().length += e.length;
    } else {
      out->push_back({e.offset, e.length, flags});
    }
  }
  if (out->empty()) {
    return InternalError("no extents reported at offset " + std::to_string(offset));
  }
  return Status::Ok();
}

uint32_t NbdExtentFlags(ExtentKind kind) {
  return kind == ExtentKind::kData ? 0 : kNbdStateHole | kNbdStateZero;
}

}  // namespace imgfs::nbd
