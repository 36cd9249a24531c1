// SPDX-License-Identifier: MIT
// Edits of qemu-made vmdk files for the vmdk tests: the embedded descriptor
// of a monolithic sparse file, and a VMware-style footer for a
// streamOptimized one (qemu 7.2 writes none).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "core/util/endian.h"
#include "tests/testing/qemu_fixture.h"

namespace imgfs::testing {

// SparseExtentHeader fields (VMware "Virtual Disk Format 1.1").
inline constexpr size_t kVmdkDescriptorOffsetAt = 28;
inline constexpr size_t kVmdkDescriptorSizeAt = 36;
inline constexpr size_t kVmdkGdOffsetAt = 56;

// Rewrites the embedded descriptor of the monolithic sparse file at `path`
// with `edit` (the text must still fit in its sectors).
inline void EditEmbeddedDescriptor(const std::string& path,
                                   const std::function<std::string(std::string)>& edit) {
  std::string bytes = ReadWholeFile(path);
  const auto* p = reinterpret_cast<const std::byte*>(bytes.data());
  const uint64_t at = LoadLE64(p + kVmdkDescriptorOffsetAt) * 512;
  const uint64_t len = LoadLE64(p + kVmdkDescriptorSizeAt) * 512;
  std::string text = bytes.substr(at, len);
  text = edit(text.substr(0, text.find('\0')));
  ASSERT_LE(text.size(), len);
  text.resize(len, '\0');
  bytes.replace(at, len, text);
  WriteWholeFile(path, bytes);
}

// `s` with its first `from` replaced by `to` (a failure when there is none).
inline std::string ReplaceFirst(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? s : s.replace(at, from.size(), to);
}

// Makes the streamOptimized file at `path` look streamed by VMware: the
// header says the grain directory is at the end, and a footer marker, a
// footer (the header with the real directory offset) and an end-of-stream
// marker end the file.
inline void MoveGrainDirectoryToFooter(const std::string& path) {
  std::string bytes = ReadWholeFile(path);
  bytes.resize((bytes.size() + 511) / 512 * 512, '\0');
  std::string marker(512, '\0');
  auto* m = reinterpret_cast<std::byte*>(marker.data());
  StoreLE64(m, 1);       // one sector of metadata follows
  StoreLE32(m + 12, 3);  // type: footer
  bytes += marker + bytes.substr(0, 512) + std::string(512, '\0');
  StoreLE64(reinterpret_cast<std::byte*>(bytes.data()) + kVmdkGdOffsetAt, ~uint64_t{0});
  WriteWholeFile(path, bytes);
}

}  // namespace imgfs::testing
