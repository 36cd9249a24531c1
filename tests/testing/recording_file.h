// SPDX-License-Identifier: MIT
// A File for tests: an in-memory file that records every Prefetch() call
// and, when given a counter, adds up the bytes its reads return.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/io/file.h"

namespace imgfs::testing {

class RecordingFile final : public File {
 public:
  using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;  // (offset, length)

  // `bytes_read`, when not null, must outlive the file: tests bound the
  // I/O of a walk with it instead of timing the walk.
  explicit RecordingFile(std::string contents, std::string name = "recorded",
                         std::atomic<uint64_t>* bytes_read = nullptr)
      : contents_(std::move(contents)), name_(std::move(name)), bytes_read_(bytes_read) {}

  Result<size_t> ReadAt(uint64_t offset, std::span<std::byte> dst) const override {
    if (offset >= contents_.size()) {
      return size_t{0};
    }
    const size_t n = std::min<uint64_t>(dst.size(), contents_.size() - offset);
    std::memcpy(dst.data(), contents_.data() + offset, n);
    if (bytes_read_ != nullptr) {
      bytes_read_->fetch_add(n, std::memory_order_relaxed);
    }
    return n;
  }
  Status WriteAt(uint64_t, std::span<const std::byte>) override {
    return ReadOnlyError("read-only");
  }
  Result<uint64_t> Size() const override { return uint64_t{contents_.size()}; }
  Status Flush() override { return Status::Ok(); }
  Status Truncate(uint64_t) override { return ReadOnlyError("read-only"); }
  const std::string& name() const override { return name_; }

  void Prefetch(uint64_t offset, uint64_t length) const override {
    std::lock_guard lock(mu_);
    prefetches_.emplace_back(offset, length);
  }
  Ranges prefetches() const {
    std::lock_guard lock(mu_);
    return prefetches_;
  }

 private:
  const std::string contents_;
  const std::string name_;
  std::atomic<uint64_t>* const bytes_read_;
  mutable std::mutex mu_;
  mutable Ranges prefetches_;
};

}  // namespace imgfs::testing
