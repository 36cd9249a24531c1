// SPDX-License-Identifier: MIT
// qcow2 metadata check, in the spirit of `qemu-img check`: every table
// entry must lie inside the file and be aligned; the references counted by
// walking the header, L1/L2 tables (active and snapshots), refcount
// structures, the snapshot table and the persistent bitmaps must match the
// stored refcounts. Stored < counted is an error (a cluster used twice,
// e.g. overlapping metadata); stored > counted is a leak (a warning).
//
// Counting takes one 32-bit counter per host cluster. Files with more
// clusters than a window holds are counted window by window: the metadata
// is walked once per window and only references into the window are
// counted, so memory stays bounded whatever the file size.
#include <algorithm>
#include <map>
#include <set>

#include "core/util/checked.h"
#include "core/util/endian.h"
#include "core/util/hex.h"
#include "formats/qcow2/bitmaps.h"
#include "formats/qcow2/device.h"

namespace imgfs::qcow2 {
namespace {

// Errors listed one by one before they are summarised.
constexpr size_t kMaxListedFindings = 100;
// Distinct snapshot L1 tables read per check: a hostile table could list
// 65536 snapshots with L1 tables of different sizes over one region, so stop
// beyond 64 MiB of them (a 1 TiB disk with 64 KiB clusters has a 16 KiB L1).
constexpr uint64_t kMaxSnapshotL1Bytes = uint64_t{64} << 20;
// Bitmap tables are read in pieces of this many entries (64 KiB).
constexpr uint64_t kBitmapTableChunkEntries = 8192;

class Checker {
 public:
  Checker(const Image& image, uint64_t file_size, const CheckOptions& options)
      : image_(image),
        h_(image.header),
        g_(image.geometry),
        file_size_(file_size),
        window_clusters_(std::max<uint64_t>(options.window_clusters, 1)) {}

  Result<CheckReport> Run(const std::vector<uint64_t>& l1);

 private:
  // Findings are counted; messages are built only while they are listed,
  // since hostile images can produce millions. Findings of the metadata
  // walk are reported on the first window only (`reporting_`).
  template <typename MakeMessage>
  void Error(const MakeMessage& make) {
    if (reporting_) {
      Add(&report_.errors, &errors_, make);
    }
  }
  template <typename MakeMessage>
  void Warn(const MakeMessage& make) {
    if (reporting_) {
      Add(&report_.warnings, &warnings_, make);
    }
  }
  template <typename MakeMessage>
  static void Add(std::vector<std::string>* list, uint64_t* count, const MakeMessage& make) {
    if (++*count <= kMaxListedFindings) {
      list->push_back(make());
    }
  }
  void Checked(std::string what) {
    if (reporting_) {
      report_.checked.push_back(std::move(what));
    }
  }
  void Mark(uint64_t offset, uint64_t bytes, const char* what, uint32_t weight = 1);
  Status Walk(const std::vector<uint64_t>& l1);
  void WalkL1(const std::vector<uint64_t>& l1, const std::string& what, uint32_t weight = 1);
  Status WalkL2(uint64_t l2_offset, uint32_t weight);
  void CheckEntry(uint64_t l2_offset, uint64_t index, uint64_t word, uint64_t bitmap,
                  uint32_t weight);
  Status MarkSnapshots();
  Status MarkBitmaps();
  Status MarkBitmapTable(const BitmapEntry& e);
  void MarkRefcountBlocks(const std::vector<uint64_t>& reftable);
  Status CompareWindow(RefcountReader* reader);
  Status CheckCopiedFlags(const std::vector<uint64_t>& l1, RefcountReader* reader);
  Status CheckCopied(RefcountReader* reader, uint64_t host, uint64_t word, const std::string& what);

  const Image& image_;
  const Header& h_;
  const Geometry& g_;
  uint64_t file_size_;
  uint64_t window_clusters_;
  uint64_t window_first_ = 0;   // host cluster counted by refs_[0]
  std::vector<uint32_t> refs_;  // references of the window's clusters
  // L2 table offset -> references from L1 tables. Each table is walked once
  // and its clusters counted once per reference, so the work is bounded by
  // the file size however often tables are shared.
  std::map<uint64_t, uint32_t> l2_refs_;
  bool reporting_ = true;
  bool refcounts_readable_ = true;  // every refcount block aligned, in the file
  bool bitmaps_counted_ = true;     // false when the bitmap walk stopped early
  CheckReport report_;
  uint64_t errors_ = 0;
  uint64_t warnings_ = 0;
};

void Checker::Mark(uint64_t offset, uint64_t bytes, const char* what, uint32_t weight) {
  if (bytes == 0) {
    return;
  }
  if (!RangeWithin(offset, bytes, file_size_)) {
    // The last cluster of a file may be partial; only its start must exist.
    if (offset >= file_size_ || bytes > g_.cluster_size() ||
        (offset >> g_.cluster_bits) != ((file_size_ - 1) >> g_.cluster_bits)) {
      Error([&] {
        return std::string("qcow2: ") + what + " at " + Hex(offset) +
               " extends past end of file (size " + Hex(file_size_) + ")";
      });
      return;
    }
  }
  uint64_t first = std::max(offset >> g_.cluster_bits, window_first_);
  uint64_t last =
      std::min((offset + bytes - 1) >> g_.cluster_bits, window_first_ + refs_.size() - 1);
  for (uint64_t c = first; c <= last; ++c) {
    uint32_t& r = refs_[c - window_first_];
    r = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{r} + weight, UINT32_MAX));
  }
}

void Checker::CheckEntry(uint64_t l2_offset, uint64_t index, uint64_t word, uint64_t bitmap,
                         uint32_t weight) {
  auto where = [&] { return "L2 table at " + Hex(l2_offset) + " entry " + std::to_string(index); };
  if (word & kL2Compressed) {
    if (g_.external_data) {
      Error([&] {
        return std::string("qcow2: " + where() + " is compressed in an image with a data file");
      });
      return;
    }
    // The copied flag means "refcount exactly 1, write in place", which a
    // compressed cluster never is; qemu-img check flags it in every table.
    if (word & kCopied) {
      Error([&] {
        return std::string("qcow2: " + where() + " (" + Hex(word) +
                           ") is compressed but has the copied flag set");
      });
    }
    L2Table one{{word & ~kCopied, 0}};
    Geometry plain = g_;
    plain.extended_l2 = false;
    auto unit = DecodeUnit(plain, one, l2_offset, 0);
    if (unit.ok()) {
      Mark(unit->host_offset, unit->compressed_bytes, "compressed cluster", weight);
    }
    return;
  }
  uint64_t host = word & kL2OffsetMask;
  if (host % g_.cluster_size() != 0) {
    Error([&] {
      return std::string("qcow2: " + where() + " points at unaligned host offset " + Hex(host));
    });
    return;
  }
  if (g_.extended_l2 && (bitmap & (bitmap >> kSubclusters) & 0xffffffffu) != 0) {
    Error([&] {
      return std::string("qcow2: " + where() + " has subclusters both allocated and zero");
    });
  }
  if (g_.extended_l2 && host == 0 && (bitmap & 0xffffffffu) != 0 && !g_.external_data) {
    Error([&] {
      return std::string("qcow2: " + where() + " has allocated subclusters but no host cluster");
    });
  }
  if (host != 0 && !g_.external_data) {
    Mark(host, g_.cluster_size(), "data cluster", weight);
  }
}

Status Checker::WalkL2(uint64_t l2_offset, uint32_t weight) {
  Cache no_cache(0);
  IMGFS_ASSIGN_OR_RETURN(std::shared_ptr<const L2Table> l2,
                         LoadL2(*image_.file, g_, &no_cache, 0, l2_offset));
  uint64_t step = g_.extended_l2 ? 2 : 1;
  for (uint64_t i = 0; i < g_.l2_entries(); ++i) {
    uint64_t word = l2->words[i * step];
    uint64_t bitmap = g_.extended_l2 ? l2->words[i * step + 1] : 0;
    if (word != 0 || bitmap != 0) {
      CheckEntry(l2_offset, i, word, bitmap, weight);
    }
  }
  return Status::Ok();
}

void Checker::WalkL1(const std::vector<uint64_t>& l1, const std::string& what, uint32_t weight) {
  for (size_t i = 0; i < l1.size(); ++i) {
    uint64_t l2_offset = l1[i] & kL1OffsetMask;
    if (l1[i] & kL1ReservedMask) {
      Error([&] {
        return std::string("qcow2: " + what + " entry " + std::to_string(i) + " (" + Hex(l1[i]) +
                           ") has reserved bits set");
      });
    }
    if (l2_offset == 0) {
      continue;
    }
    if (l2_offset % g_.cluster_size() != 0) {
      Error([&] {
        return std::string("qcow2: L2 table at " + Hex(l2_offset) + " (" + what + " entry " +
                           std::to_string(i) + ") is not cluster aligned");
      });
      continue;
    }
    if (!RangeWithin(l2_offset, g_.cluster_size(), file_size_)) {
      Error([&] {
        return std::string("qcow2: L2 table at " + Hex(l2_offset) + " (" + what + " entry " +
                           std::to_string(i) + ") extends past end of file (size " +
                           Hex(file_size_) + ")");
      });
      continue;
    }
    Mark(l2_offset, g_.cluster_size(), "L2 table", weight);
    uint32_t& refs = l2_refs_[l2_offset];
    refs = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{refs} + weight, UINT32_MAX));
  }
}

Status Checker::MarkSnapshots() {
  uint64_t table_bytes = 0;
  IMGFS_ASSIGN_OR_RETURN(std::vector<Snapshot> snaps,
                         ReadSnapshotTable(*image_.file, h_, &table_bytes));
  Mark(h_.snapshots_offset, table_bytes, "snapshot table");
  if (g_.external_data && !snaps.empty()) {
    // Snapshots would need refcounted data clusters (spec, incompatible bit 2).
    Error([&] {
      return "qcow2: image with an external data file has " + std::to_string(snaps.size()) +
             " internal snapshot(s)";
    });
  }
  // Snapshots sharing one L1 table are walked once, counted once each.
  std::map<std::pair<uint64_t, uint32_t>, std::pair<uint32_t, const Snapshot*>> tables;
  for (const Snapshot& s : snaps) {
    auto& entry = tables[{s.l1_table_offset, s.l1_size}];
    entry.first += 1;
    entry.second = entry.second == nullptr ? &s : entry.second;
  }
  uint64_t l1_budget = kMaxSnapshotL1Bytes;
  for (const auto& [key, value] : tables) {
    // A plain pointer, not the structured binding: lambdas below capture it
    // and clang 14 refuses to capture structured bindings.
    const uint32_t weight = value.first;
    const Snapshot* s = value.second;
    std::string what = "L1 table of snapshot " + s->id;
    if (s->l1_table_offset % g_.cluster_size() != 0) {
      Error([&] {
        return std::string("qcow2: " + what + " at " + Hex(s->l1_table_offset) +
                           " is not cluster aligned");
      });
      continue;
    }
    uint64_t l1_bytes = uint64_t{s->l1_size} * 8;
    if (l1_bytes > l1_budget) {
      Error([&] {
        return std::string(
            "qcow2: snapshot L1 tables exceed the check budget of 64 MiB; stopped at snapshot " +
            s->id);
      });
      break;
    }
    l1_budget -= l1_bytes;
    auto l1 = LoadL1(*image_.file, g_, s->l1_table_offset, s->l1_size, "snapshot L1 table");
    if (!l1.ok()) {
      Error([&] { return std::string(l1.status().message()); });
      continue;
    }
    Mark(s->l1_table_offset, l1_bytes, "snapshot L1 table", weight);
    // Bit 63 of inactive L1 and L2 entries is not meaningful (spec "Cluster
    // mapping"; qemu leaves it set in snapshot L1 copies), so only the
    // active tables have their copied flags checked.
    WalkL1(*l1, what, weight);
  }
  Checked("qcow2: " + std::to_string(snaps.size()) + " snapshot(s)");
  return Status::Ok();
}

// One bitmap table, read in pieces: each entry's data cluster is counted.
Status Checker::MarkBitmapTable(const BitmapEntry& e) {
  uint64_t table_bytes = uint64_t{e.table_entries} * 8;  // at most 1 GiB
  if (!RangeWithin(e.table_offset, table_bytes, file_size_)) {
    Error([&] {
      return "qcow2: bitmap table of bitmap '" + e.name + "' at " + Hex(e.table_offset) +
             " extends past end of file (size " + Hex(file_size_) + ")";
    });
    return Status::Ok();
  }
  Mark(e.table_offset, table_bytes, "bitmap table");
  std::vector<std::byte> chunk;
  for (uint64_t first = 0; first < e.table_entries; first += kBitmapTableChunkEntries) {
    uint64_t count = std::min<uint64_t>(kBitmapTableChunkEntries, e.table_entries - first);
    chunk.resize(static_cast<size_t>(count * 8));
    IMGFS_RETURN_IF_ERROR(
        image_.file->ReadExactAt(e.table_offset + first * 8, chunk, "qcow2: bitmap table"));
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t entry = LoadBE64(chunk.data() + i * 8);
      uint64_t host = entry & kBitmapEntryOffsetMask;
      auto where = [&] {
        return "qcow2: bitmap table of bitmap '" + e.name + "' at " + Hex(e.table_offset) +
               " entry " + std::to_string(first + i) + " (" + Hex(entry) + ")";
      };
      if ((entry & kBitmapEntryReservedMask) != 0 ||
          (host != 0 && (entry & kBitmapEntryAllOnes) != 0)) {
        Error([&] { return where() + " has reserved bits set"; });
      } else if (host % g_.cluster_size() != 0) {
        Error([&] { return where() + " is not cluster aligned"; });
      } else if (host != 0) {
        Mark(host, g_.cluster_size(), "bitmap data cluster");
      }
    }
  }
  return Status::Ok();
}

Status Checker::MarkBitmaps() {
  if (!h_.bitmaps) {
    return Status::Ok();
  }
  if (!h_.bitmaps_consistent()) {
    // Like qemu: stale bitmaps are ignored, so their clusters show as leaks.
    Checked("qcow2: bitmaps extension marked inconsistent (autoclear bit 0 clear); not counted");
    return Status::Ok();
  }
  auto dir = ReadBitmapDirectory(*image_.file, h_);
  if (!dir.ok()) {
    if (dir.status().code() != StatusCode::kCorrupt) {
      return dir.status();
    }
    Error([&] { return std::string(dir.status().message()); });
    bitmaps_counted_ = false;
    return Status::Ok();
  }
  Mark(h_.bitmaps->directory_offset, h_.bitmaps->directory_bytes, "bitmap directory");
  std::set<std::string> names;
  // Distinct tables cannot add up to more than the file; past that they
  // overlap, which is an error already, and reading on could take
  // 65535 times the file size.
  uint64_t table_budget = file_size_;
  for (const BitmapEntry& e : *dir) {
    std::string problem = BitmapEntryProblem(h_, e);
    if (problem.empty() && !names.insert(e.name).second) {
      problem = "qcow2: bitmap name '" + e.name + "' is used twice";
    }
    if (!problem.empty()) {
      Error([&] { return problem; });
      bitmaps_counted_ = false;
      continue;
    }
    uint64_t table_bytes = uint64_t{e.table_entries} * 8;
    if (table_bytes > table_budget) {
      Error([&] {
        return "qcow2: bitmap tables add up to more than the file size; stopped at bitmap '" +
               e.name + "'";
      });
      bitmaps_counted_ = false;
      break;
    }
    table_budget -= table_bytes;
    IMGFS_RETURN_IF_ERROR(MarkBitmapTable(e));
  }
  Checked("qcow2: " + std::to_string(dir->size()) + " persistent bitmap(s)");
  return Status::Ok();
}

void Checker::MarkRefcountBlocks(const std::vector<uint64_t>& reftable) {
  for (size_t i = 0; i < reftable.size(); ++i) {
    uint64_t block = reftable[i] & ~uint64_t{0x1ff};
    if (block == 0) {
      continue;
    }
    if (block % g_.cluster_size() != 0 || !RangeWithin(block, g_.cluster_size(), file_size_)) {
      Error([&] {
        return std::string("qcow2: refcount block at " + Hex(block) + " (refcount table entry " +
                           std::to_string(i) + ") is unaligned or past end of file");
      });
      refcounts_readable_ = false;
      return;
    }
    Mark(block, g_.cluster_size(), "refcount block");
  }
}

// Marks every reference into the current window.
Status Checker::Walk(const std::vector<uint64_t>& l1) {
  l2_refs_.clear();
  Mark(0, g_.cluster_size(), "header");
  Mark(h_.l1_table_offset, uint64_t{h_.l1_size} * 8, "L1 table");
  Mark(h_.refcount_table_offset, uint64_t{h_.refcount_table_clusters} << h_.cluster_bits,
       "refcount table");
  if (h_.crypto_header) {
    Mark(h_.crypto_header->offset, h_.crypto_header->length_bytes, "encryption header");
  }
  WalkL1(l1, "L1 table");
  IMGFS_RETURN_IF_ERROR(MarkSnapshots());
  IMGFS_RETURN_IF_ERROR(MarkBitmaps());
  for (const auto& [l2_offset, weight] : l2_refs_) {
    IMGFS_RETURN_IF_ERROR(WalkL2(l2_offset, weight));
  }
  Checked("qcow2: L1 table (" + std::to_string(l1.size()) + " entries) and " +
          std::to_string(l2_refs_.size()) + " L2 tables");
  return Status::Ok();
}

Status Checker::CompareWindow(RefcountReader* reader) {
  for (uint64_t i = 0; i < refs_.size(); ++i) {
    uint64_t c = window_first_ + i;
    IMGFS_ASSIGN_OR_RETURN(uint64_t stored, reader->Get(c));
    if (stored < refs_[i]) {
      Error([&] {
        return std::string("qcow2: cluster " + std::to_string(c) + " at " +
                           Hex(c << g_.cluster_bits) + " refcount=" + std::to_string(stored) +
                           " reference=" + std::to_string(refs_[i]));
      });
    } else if (stored > refs_[i] && bitmaps_counted_) {
      Warn([&] {
        return std::string("qcow2: leaked cluster " + std::to_string(c) + " at " +
                           Hex(c << g_.cluster_bits) + " refcount=" + std::to_string(stored) +
                           " reference=" + std::to_string(refs_[i]));
      });
    }
  }
  return Status::Ok();
}

// The "copied" flag (bit 63) of active L1 and L2 entries must be set
// exactly when the cluster's refcount is 1 (spec "Cluster mapping").
Status Checker::CheckCopied(RefcountReader* reader, uint64_t host, uint64_t word,
                            const std::string& what) {
  if (host % g_.cluster_size() != 0 || host >= file_size_) {
    return Status::Ok();  // reported by the walk
  }
  IMGFS_ASSIGN_OR_RETURN(uint64_t refcount, reader->Get(host >> g_.cluster_bits));
  if ((refcount == 1) != ((word & kCopied) != 0)) {
    Error([&] {
      return std::string("qcow2: OFLAG_COPIED " + what + ": entry=" + Hex(word) +
                         " refcount=" + std::to_string(refcount));
    });
  }
  return Status::Ok();
}

Status Checker::CheckCopiedFlags(const std::vector<uint64_t>& l1, RefcountReader* reader) {
  Cache no_cache(0);
  uint64_t step = g_.extended_l2 ? 2 : 1;
  std::set<uint64_t> seen;  // a table listed twice is already an error
  for (uint64_t entry : l1) {
    uint64_t l2_offset = entry & kL1OffsetMask;
    if (l2_offset == 0 || l2_offset % g_.cluster_size() != 0 ||
        !RangeWithin(l2_offset, g_.cluster_size(), file_size_) || !seen.insert(l2_offset).second) {
      continue;
    }
    IMGFS_RETURN_IF_ERROR(CheckCopied(reader, l2_offset, entry, "L2 cluster"));
    if (g_.external_data) {
      continue;  // data clusters are not refcounted in the image file
    }
    IMGFS_ASSIGN_OR_RETURN(std::shared_ptr<const L2Table> l2,
                           LoadL2(*image_.file, g_, &no_cache, 0, l2_offset));
    for (uint64_t i = 0; i < g_.l2_entries(); ++i) {
      uint64_t word = l2->words[i * step];
      uint64_t host = word & kL2OffsetMask;
      if ((word & kL2Compressed) == 0 && host != 0) {
        IMGFS_RETURN_IF_ERROR(CheckCopied(reader, host, word, "data cluster"));
      }
    }
  }
  return Status::Ok();
}

Result<CheckReport> Checker::Run(const std::vector<uint64_t>& l1) {
  IMGFS_ASSIGN_OR_RETURN(RefcountReader reader, RefcountReader::Load(*image_.file, h_));
  uint64_t clusters = DivRoundUp(file_size_, g_.cluster_size());
  uint64_t windows = 0;
  for (window_first_ = 0; window_first_ < clusters; window_first_ += window_clusters_) {
    reporting_ = windows == 0;
    refs_.assign(static_cast<size_t>(std::min(window_clusters_, clusters - window_first_)), 0);
    IMGFS_RETURN_IF_ERROR(Walk(l1));
    MarkRefcountBlocks(reader.reftable());
    reporting_ = true;
    if (!refcounts_readable_) {
      break;
    }
    IMGFS_RETURN_IF_ERROR(CompareWindow(&reader));
    ++windows;
  }
  refs_ = {};
  if (refcounts_readable_) {
    report_.checked.push_back("qcow2: refcounts of " + std::to_string(clusters) + " clusters" +
                              (windows > 1 ? " in " + std::to_string(windows) + " windows" : ""));
    IMGFS_RETURN_IF_ERROR(CheckCopiedFlags(l1, &reader));
  }
  if (!bitmaps_counted_) {
    report_.checked.push_back("qcow2: bitmaps not fully counted; leaks not reported");
  }
  if (errors_ > kMaxListedFindings) {
    report_.errors.push_back("qcow2: " + std::to_string(errors_ - kMaxListedFindings) +
                             " more errors");
  }
  if (warnings_ > kMaxListedFindings) {
    report_.warnings.push_back("qcow2: " + std::to_string(warnings_ - kMaxListedFindings) +
                               " more leaked clusters");
  }
  return report_;
}

}  // namespace

Result<CheckReport> CheckImage(const Image& image, const std::vector<uint64_t>& l1,
                               const CheckOptions& options) {
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, image.file->Size());
  Checker checker(image, file_size, options);
  return checker.Run(l1);
}

Result<CheckReport> CheckImageFile(std::shared_ptr<const File> file, const CheckOptions& options) {
  IMGFS_ASSIGN_OR_RETURN(uint64_t file_size, file->Size());
  IMGFS_ASSIGN_OR_RETURN(std::vector<std::byte> head, ReadHeaderCluster(*file, file_size));
  Image image;
  IMGFS_ASSIGN_OR_RETURN(image.header, DecodeHeader(head, file_size));
  image.geometry = GeometryOf(image.header);
  image.file = std::move(file);
  image.data_file = image.file;
  const Header& h = image.header;
  IMGFS_ASSIGN_OR_RETURN(
      std::vector<uint64_t> l1,
      LoadL1(*image.file, image.geometry, h.l1_table_offset, h.l1_size, "L1 table"));
  Checker checker(image, file_size, options);
  return checker.Run(l1);
}

}  // namespace imgfs::qcow2
