// SPDX-License-Identifier: MIT
// The dmg driver's writer hook (FormatDriver::writer, formats/format_driver.h):
// the `convert -O dmg -o KEY=VALUE,...` option parser, its help text, and
// the write call that turns WriteDmg's padding into a note for the CLI.
#include <cstdlib>
#include <string>

#include "core/util/size.h"
#include "formats/dmg/driver.h"
#include "formats/dmg/writer.h"

namespace imgfs::dmg {

namespace {

// Applies one "key=value" item of -o to `o`.
Status ApplyWriteOption(std::string_view item, DmgWriteOptions* o) {
  const size_t eq = item.find('=');
  const std::string key(item.substr(0, eq));
  const std::string val(eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1));
  if (key == "format") {
    IMGFS_ASSIGN_OR_RETURN(o->format, ParseDmgFormat(val));
  } else if (key == "level") {
    char* end = nullptr;
    long level = std::strtol(val.c_str(), &end, 10);  // NOLINT(google-runtime-int)
    if (val.empty() || *end != '\0' || level < 0 || level > 9) {
      return InvalidArgumentError("-o level: '" + val + "' is not a level from 0 to 9");
    }
    o->level = static_cast<int>(level);
  } else if (key == "chunk_size") {
    IMGFS_ASSIGN_OR_RETURN(uint64_t bytes, ParseSize(val));
    if (bytes == 0 || bytes % kSectorBytes != 0 || bytes / kSectorBytes > kMaxChunkSectors) {
      return InvalidArgumentError("-o chunk_size: '" + val +
                                  "' is not a multiple of 512 from 512 to 64M");
    }
    o->chunk_sectors = bytes / kSectorBytes;
  } else {
    return InvalidArgumentError("-o: unknown dmg option '" + key + "' (format, level, chunk_size)");
  }
  return Status::Ok();
}

Result<std::any> ParseWriteOptions(std::span<const std::string> values) {
  IMGFS_ASSIGN_OR_RETURN(DmgWriteOptions options, ParseDmgWriteOptions(values));
  return std::any(options);
}

// The FormatWriter's write: WriteDmg, with the padding told as a note.
Result<std::vector<std::string>> WriteHook(const BlockDevice& src, File& out,
                                           const std::any& options, const WriteContext& ctx) {
  DmgWriteOptions o = std::any_cast<const DmgWriteOptions&>(options);
  o.pool = ctx.pool;
  o.progress = ctx.progress;
  IMGFS_ASSIGN_OR_RETURN(DmgWriteStats stats, WriteDmg(src, out, o));
  std::vector<std::string> notes = std::move(stats.notes);
  if (stats.padding_bytes != 0) {
    notes.push_back("size " + std::to_string(src.Size()) +
                    " is not a multiple of 512; the DMG pads the last sector with " +
                    std::to_string(stats.padding_bytes) + " zero bytes");
  }
  return notes;
}

constexpr FormatWriter kWriter = {
    "Apple disk image (UDIF). Holes and all-zero blocks become zero-fill\n"
    "chunks. The DMG gets one blkx per partition-map structure,\n"
    "partition and gap when SRC has an MBR, GPT or Apple partition map,\n"
    "named as hdiutil names them, else one whole-disk blkx. A SRC whose\n"
    "size is not a multiple of 512 is padded with zeros to whole sectors\n"
    "(a note says so). Options:\n"
    "  format=UDZO|UDBZ|ULMO|ULFO|UDCO|UDRO|UDRW\n"
    "                default UDZO: zlib; UDBZ bzip2; ULMO lzma; ULFO\n"
    "                lzfse; UDCO adc; UDRO raw chunks; UDRW raw, flat\n"
    "                like hdiutil's read/write images\n"
    "  level=N       compression level 0-9; UDZO default 1, as hdiutil.\n"
    "                UDZO level 1 uses Intel ISA-L (its level 3: zlib\n"
    "                level 1's size, about 2x as fast); levels 0 (stored)\n"
    "                and 2-9 use libdeflate, as does 1 in a build\n"
    "                without ISA-L. UDBZ, ULMO: bzip2's and xz's levels\n"
    "  chunk_size=S  uncompressed bytes per chunk, a multiple of 512\n"
    "                up to 64M (default 1M, as hdiutil)\n",
    &ParseWriteOptions,
    &WriteHook,
};

}  // namespace

const FormatWriter& Writer() { return kWriter; }

Result<DmgWriteOptions> ParseDmgWriteOptions(std::span<const std::string> values) {
  DmgWriteOptions o;
  for (std::string_view value : values) {
    for (;;) {
      const size_t comma = value.find(',');
      std::string_view item = value.substr(0, comma);
      if (!item.empty()) {
        IMGFS_RETURN_IF_ERROR(ApplyWriteOption(item, &o));
      }
      if (comma == std::string_view::npos) {
        break;
      }
      value.remove_prefix(comma + 1);
    }
  }
  return o;
}

}  // namespace imgfs::dmg
