// SPDX-License-Identifier: MIT
// The test VHDX writer (see test_vhdx_builder.h), from [MS-VHDX] sections
// 2.1-2.6.
#include "tests/formats/vhdx/test_vhdx_builder.h"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdio>
#include <cstring>

namespace imgfs::testing {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = VhdxBuilder::kMiB;

void Put16(std::string* s, size_t at, uint16_t v) {
  for (int i = 0; i < 2; ++i) {
    (*s)[at + i] = static_cast<char>(v >> (8 * i));
  }
}
void Put32(std::string* s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    (*s)[at + i] = static_cast<char>(v >> (8 * i));
  }
}
void Put64(std::string* s, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    (*s)[at + i] = static_cast<char>(v >> (8 * i));
  }
}
void PutBytes(std::string* s, size_t at, const std::string& b) { s->replace(at, b.size(), b); }

// The 16 stored bytes of a GUID written "01234567-89AB-CDEF-0123-456789ABCDEF".
std::string GuidBytes(const std::string& text) {
  auto hex = [&](size_t i) { return static_cast<char>(std::stoi(text.substr(i, 2), nullptr, 16)); };
  std::string b(16, '\0');
  const size_t le[] = {6, 4, 2, 0, 11, 9, 16, 14};
  for (size_t i = 0; i < 8; ++i) {
    b[i] = hex(le[i]);
  }
  const size_t be[] = {19, 21, 24, 26, 28, 30, 32, 34};
  for (size_t i = 0; i < 8; ++i) {
    b[8 + i] = hex(be[i]);
  }
  return b;
}

std::string Utf16(const std::string& ascii) {
  std::string out;
  for (char c : ascii) {
    out.push_back(c);
    out.push_back('\0');
  }
  return out;
}

std::string GuidFromSeed(uint8_t seed, uint8_t kind) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%02X%02X1111-2222-4333-8444-5555666677%02X", seed, kind, seed);
  return buf;
}

}  // namespace

uint32_t TestCrc32c(const std::string& bytes) {
  uint32_t c = 0xffffffffU;
  for (char ch : bytes) {
    c ^= static_cast<uint8_t>(ch);
    for (int k = 0; k < 8; ++k) {
      c = (c >> 1) ^ (0x82F63B78U & (0U - (c & 1)));
    }
  }
  return ~c;
}

void FixVhdxChecksums(std::string* file) {
  for (uint64_t at : {64 * kKiB, 128 * kKiB}) {
    Put32(file, at + 4, 0);
    Put32(file, at + 4, TestCrc32c(file->substr(at, 4096)));
  }
  for (uint64_t at : {192 * kKiB, 256 * kKiB}) {
    Put32(file, at + 4, 0);
    Put32(file, at + 4, TestCrc32c(file->substr(at, 64 * kKiB)));
  }
}

VhdxBuilder::VhdxBuilder(uint64_t virtual_bytes, uint32_t block_bytes,
                         uint32_t logical_sector_bytes)
    : virtual_bytes_(virtual_bytes), block_bytes_(block_bytes), logical_(logical_sector_bytes) {}

void VhdxBuilder::SetState(uint64_t block, uint8_t state) { blocks_[block] = Block{state, {}, {}}; }

void VhdxBuilder::WriteBlock(uint64_t block, const std::string& data) {
  blocks_[block] = Block{6, data, {}};
}

void VhdxBuilder::WritePartial(uint64_t block, const std::string& data,
                               const std::vector<bool>& present) {
  blocks_[block] = Block{7, data, present};
}

void VhdxBuilder::SetParent(std::vector<std::pair<std::string, std::string>> locator) {
  has_parent_ = true;
  locator_ = std::move(locator);
}

std::string VhdxBuilder::DataWriteGuidText() const {
  // Lower case, as Windows writes it (libvhdi takes nothing else).
  std::string text = GuidFromSeed(guid_seed_, 0xd0);
  for (char& ch : text) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return "{" + text + "}";
}

uint64_t VhdxBuilder::bat_entries() const {
  const uint64_t chunk_ratio = (uint64_t{1} << 23) * logical_ / block_bytes_;
  const uint64_t data_blocks = (virtual_bytes_ + block_bytes_ - 1) / block_bytes_;
  const uint64_t bitmaps = (data_blocks + chunk_ratio - 1) / chunk_ratio;
  if (has_parent_) {
    return bitmaps * (chunk_ratio + 1);
  }
  return data_blocks == 0 ? 0 : data_blocks + (data_blocks - 1) / chunk_ratio;
}

uint64_t VhdxBuilder::BlockOffset(uint64_t block) const {
  const uint64_t bat_bytes = (bat_entries() * 8 + kMiB - 1) / kMiB * kMiB;
  uint64_t at = bat_offset() + std::max(bat_bytes, kMiB);
  for (const auto& [b, blk] : blocks_) {
    if (blk.state != 6 && blk.state != 7) {
      continue;
    }
    if (b == block) {
      return at;
    }
    at += block_bytes_;
  }
  return 0;
}

std::string VhdxBuilder::Build() const {
  const uint64_t chunk_ratio = (uint64_t{1} << 23) * logical_ / block_bytes_;
  const uint64_t bat_bytes = std::max((bat_entries() * 8 + kMiB - 1) / kMiB * kMiB, kMiB);
  const uint64_t data_start = bat_offset() + bat_bytes;
  uint64_t stored = 0;
  std::map<uint64_t, std::string> bitmaps;  // chunk -> 1 MiB bitmap
  for (const auto& [b, blk] : blocks_) {
    stored += (blk.state == 6 || blk.state == 7) ? 1 : 0;
    if (blk.state == 7) {
      std::string& bm = bitmaps[b / chunk_ratio];
      bm.resize(kMiB);
      const uint64_t first = (b % chunk_ratio) * (block_bytes_ / logical_);
      for (size_t i = 0; i < blk.present.size(); ++i) {
        if (blk.present[i]) {
          bm[(first + i) / 8] = static_cast<char>(bm[(first + i) / 8] | (1 << ((first + i) % 8)));
        }
      }
    }
  }
  const uint64_t bitmap_start = data_start + stored * block_bytes_;
  std::string f(bitmap_start + bitmaps.size() * kMiB, '\0');
  // 2.2.1 file type identifier.
  PutBytes(&f, 0, "vhdxfile");
  PutBytes(&f, 8, Utf16("imgfs test builder"));
  // 2.2.2 headers; the second one is current (higher sequence number).
  for (int i = 0; i < 2; ++i) {
    const uint64_t h = (64 + 64 * i) * kKiB;
    PutBytes(&f, h, "head");
    Put64(&f, h + 8, 10 + i);
    PutBytes(&f, h + 16, GuidBytes(GuidFromSeed(guid_seed_, 0xf0)));
    PutBytes(&f, h + 32, GuidBytes(GuidFromSeed(guid_seed_, 0xd0)));
    Put16(&f, h + 64, 0);
    Put16(&f, h + 66, 1);
    Put32(&f, h + 68, static_cast<uint32_t>(log_bytes_));
    Put64(&f, h + 72, log_offset());
  }
  // 2.2.3 region tables.
  for (uint64_t rt : {192 * kKiB, 256 * kKiB}) {
    PutBytes(&f, rt, "regi");
    Put32(&f, rt + 8, 2);
    PutBytes(&f, rt + 16, GuidBytes("2DC27766-F623-4200-9D64-115E9BFD4A08"));
    Put64(&f, rt + 32, bat_offset());
    Put32(&f, rt + 40, static_cast<uint32_t>(bat_bytes));
    Put32(&f, rt + 44, 1);
    PutBytes(&f, rt + 48, GuidBytes("8B7CA206-4790-4B9A-B8FE-575F050F886E"));
    Put64(&f, rt + 64, metadata_offset());
    Put32(&f, rt + 72, static_cast<uint32_t>(kMiB));
    Put32(&f, rt + 76, 1);
  }
  // 2.6 metadata: table, then items from 64 KiB on.
  const uint64_t m = metadata_offset();
  PutBytes(&f, m, "metadata");
  struct Item {
    const char* guid;
    std::string bytes;
    uint32_t flags;  // IsVirtualDisk 2, IsRequired 4
  };
  std::string params(8, '\0');
  Put32(&params, 0, block_bytes_);
  Put32(&params, 4, has_parent_ ? 2 : 0);
  std::string size(8, '\0');
  Put64(&size, 0, virtual_bytes_);
  std::string logical(4, '\0');
  Put32(&logical, 0, logical_);
  std::string physical(4, '\0');
  Put32(&physical, 0, 4096);
  std::vector<Item> items = {
      {"CAA16737-FA36-4D43-B3B6-33F0AA44E76B", params, 4},
      {"2FA54224-CD1B-4876-B211-5DBED83BF4B8", size, 6},
      {"BECA12AB-B2E6-4523-93EF-C309E000C746", GuidBytes(GuidFromSeed(guid_seed_, 0x83)), 6},
      {"8141BF1D-A96F-4709-BA47-F233A8FAAB5F", logical, 6},
      {"CDA348C7-445D-4471-9CC9-E9885251C556", physical, 6},
  };
  if (has_parent_) {
    std::string loc(20 + 12 * locator_.size(), '\0');
    PutBytes(&loc, 0, GuidBytes("B04AEFB7-D19E-4A81-B789-25B8E9445913"));
    Put16(&loc, 18, static_cast<uint16_t>(locator_.size()));
    for (size_t i = 0; i < locator_.size(); ++i) {
      const std::string k = Utf16(locator_[i].first);
      const std::string v = Utf16(locator_[i].second);
      Put32(&loc, 20 + 12 * i, static_cast<uint32_t>(loc.size()));
      Put16(&loc, 20 + 12 * i + 8, static_cast<uint16_t>(k.size()));
      loc += k;
      Put32(&loc, 20 + 12 * i + 4, static_cast<uint32_t>(loc.size()));
      Put16(&loc, 20 + 12 * i + 10, static_cast<uint16_t>(v.size()));
      loc += v;
    }
    items.push_back({"A8D35F2D-B30B-454D-ABF7-D3D84834AB0C", loc, 6});
  }
  Put16(&f, m + 10, static_cast<uint16_t>(items.size()));
  uint32_t item_at = 64 * kKiB;
  for (size_t i = 0; i < items.size(); ++i) {
    const size_t e = m + 32 + 32 * i;
    PutBytes(&f, e, GuidBytes(items[i].guid));
    Put32(&f, e + 16, item_at);
    Put32(&f, e + 20, static_cast<uint32_t>(items[i].bytes.size()));
    Put32(&f, e + 24, items[i].flags);
    PutBytes(&f, m + item_at, items[i].bytes);
    item_at += static_cast<uint32_t>((items[i].bytes.size() + 7) / 8 * 8);
  }
  // 2.5 BAT, payload blocks and sector bitmaps.
  uint64_t at = data_start;
  for (const auto& [b, blk] : blocks_) {
    uint64_t entry = blk.state;
    if (blk.state == 6 || blk.state == 7) {
      entry |= (at / kMiB) << 20;
      PutBytes(&f, at, blk.data.substr(0, block_bytes_));
      at += block_bytes_;
    }
    Put64(&f, bat_offset() + 8 * (b + b / chunk_ratio), entry);
  }
  for (const auto& [chunk, bm] : bitmaps) {
    Put64(&f, bat_offset() + 8 * (chunk * (chunk_ratio + 1) + chunk_ratio),
          6 | ((at / kMiB) << 20));
    PutBytes(&f, at, bm);
    at += kMiB;
  }
  FixVhdxChecksums(&f);
  return f;
}

std::string VhdxBuilder::LogEntry(const std::vector<VhdxLogUpdate>& updates, uint64_t sequence,
                                  uint32_t tail_bytes, const std::string& log_guid,
                                  uint64_t file_bytes) {
  const size_t data_count = static_cast<size_t>(
      std::count_if(updates.begin(), updates.end(), [](const auto& u) { return !u.zero; }));
  const size_t desc_sectors = (64 + 32 * updates.size() + 4095) / 4096;
  std::string e((desc_sectors + data_count) * 4096, '\0');
  PutBytes(&e, 0, "loge");
  Put32(&e, 8, static_cast<uint32_t>(e.size()));
  Put32(&e, 12, tail_bytes);
  Put64(&e, 16, sequence);
  Put32(&e, 24, static_cast<uint32_t>(updates.size()));
  PutBytes(&e, 32, log_guid);
  Put64(&e, 48, file_bytes);
  Put64(&e, 56, file_bytes);
  size_t data = desc_sectors;
  for (size_t i = 0; i < updates.size(); ++i) {
    const size_t d = 64 + 32 * i;
    const VhdxLogUpdate& u = updates[i];
    if (u.zero) {
      PutBytes(&e, d, "zero");
      Put64(&e, d + 8, u.zero_bytes);
    } else {
      PutBytes(&e, d, "desc");
      e.replace(d + 4, 4, u.sector.substr(4092, 4));
      e.replace(d + 8, 8, u.sector.substr(0, 8));
      const size_t s = data * 4096;
      PutBytes(&e, s, "data");
      Put32(&e, s + 4, static_cast<uint32_t>(sequence >> 32));
      e.replace(s + 8, 4084, u.sector.substr(8, 4084));
      Put32(&e, s + 4092, static_cast<uint32_t>(sequence));
      ++data;
    }
    Put64(&e, d + 16, u.file_offset);
    Put64(&e, d + 24, sequence);
  }
  Put32(&e, 4, TestCrc32c(e));
  return e;
}

std::string VhdxBuilder::BuildDirty(const std::vector<uint64_t>& sectors_to_log, char stale,
                                    size_t per_entry, uint64_t first_sector, bool old_sequence,
                                    std::vector<VhdxLogUpdate> zeros) const {
  std::string f = Build();
  const std::string log_guid = GuidBytes(GuidFromSeed(guid_seed_, 0x10));
  std::vector<VhdxLogUpdate> updates;
  for (uint64_t off : sectors_to_log) {
    updates.push_back({off, false, 0, f.substr(off, 4096)});
  }
  for (const VhdxLogUpdate& z : zeros) {
    updates.push_back(z);
  }
  for (const VhdxLogUpdate& u : updates) {
    if (u.file_offset < f.size()) {  // hostile tests write past the end
      const uint64_t n = std::min<uint64_t>(u.zero ? u.zero_bytes : 4096, f.size() - u.file_offset);
      f.replace(u.file_offset, n, std::string(n, stale));
    }
  }
  const uint64_t log_sectors = log_bytes_ / 4096;
  auto write_wrapped = [&](uint64_t sector, const std::string& bytes) {
    for (size_t i = 0; i < bytes.size(); i += 4096) {
      const uint64_t s = (sector + i / 4096) % log_sectors;
      f.replace(log_offset() + s * 4096, 4096, bytes.substr(i, 4096));
    }
    return (sector + bytes.size() / 4096) % log_sectors;
  };
  uint64_t sequence = 1000;
  if (old_sequence) {
    // An older, complete sequence elsewhere whose stale writes would be
    // wrong now: a replay must pick the newer one.
    std::vector<VhdxLogUpdate> old;
    for (const VhdxLogUpdate& u : updates) {
      if (!u.zero) {
        old.push_back({u.file_offset, false, 0, std::string(4096, 'O')});
      }
    }
    const uint64_t at = (first_sector + log_sectors / 2) % log_sectors;
    write_wrapped(at, LogEntry(old, 500, static_cast<uint32_t>(at * 4096), log_guid, f.size()));
  }
  uint64_t at = first_sector;
  for (size_t i = 0; i < updates.size(); i += per_entry) {
    std::vector<VhdxLogUpdate> part(
        updates.begin() + static_cast<ptrdiff_t>(i),
        updates.begin() + static_cast<ptrdiff_t>(std::min(updates.size(), i + per_entry)));
    at = write_wrapped(at, LogEntry(part, sequence++, static_cast<uint32_t>(first_sector * 4096),
                                    log_guid, f.size()));
  }
  for (uint64_t h : {64 * kKiB, 128 * kKiB}) {
    PutBytes(&f, h + 48, log_guid);
  }
  FixVhdxChecksums(&f);
  return f;
}

}  // namespace imgfs::testing
