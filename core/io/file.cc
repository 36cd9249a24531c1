// SPDX-License-Identifier: MIT
// Shared File helpers and the in-memory and fault-injecting Files.
#include "core/io/file.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "core/util/hex.h"
#include "core/util/mutex.h"

namespace imgfs {

Result<uint64_t> File::NextData(uint64_t offset) const {
  IMGFS_ASSIGN_OR_RETURN(uint64_t size, Size());
  return std::min(offset, size);
}

Result<uint64_t> File::NextHole(uint64_t /*offset*/) const { return Size(); }

Status File::ReadExactAt(uint64_t offset, std::span<std::byte> dst, const char* what) const {
  size_t done = 0;
  while (done < dst.size()) {
    IMGFS_ASSIGN_OR_RETURN(size_t n, ReadAt(offset + done, dst.subspan(done)));
    if (n == 0) {
      return CorruptError(std::string(what) + " at " + Hex(offset) + " (" +
                          std::to_string(dst.size()) + " bytes) extends past end of " + name());
    }
    done += n;
  }
  return Status::Ok();
}

namespace {

class MemoryFile final : public File {
 public:
  MemoryFile(std::string name, std::string contents)
      : name_(std::move(name)), data_(std::move(contents)) {}

  Result<size_t> ReadAt(uint64_t offset, std::span<std::byte> dst) const override {
    ReaderMutexLock lock(&mu_);
    if (offset >= data_.size()) {
      return size_t{0};
    }
    size_t n = std::min<uint64_t>(dst.size(), data_.size() - offset);
    std::memcpy(dst.data(), data_.data() + offset, n);
    return n;
  }
  Status WriteAt(uint64_t offset, std::span<const std::byte> src) override {
    WriterMutexLock lock(&mu_);
    if (offset + src.size() > data_.size()) {
      data_.resize(offset + src.size());
    }
    std::memcpy(data_.data() + offset, src.data(), src.size());
    return Status::Ok();
  }
  Result<uint64_t> Size() const override {
    ReaderMutexLock lock(&mu_);
    return uint64_t{data_.size()};
  }
  Status Flush() override { return Status::Ok(); }
  Status Truncate(uint64_t size_bytes) override {
    WriterMutexLock lock(&mu_);
    data_.resize(size_bytes);
    return Status::Ok();
  }
  const std::string& name() const override { return name_; }

 private:
  std::string name_;
  mutable SharedMutex mu_;
  std::string data_ IMGFS_GUARDED_BY(mu_);
};

class SliceFile final : public File {
 public:
  SliceFile(const File* base, uint64_t offset, uint64_t length)
      : base_(base), offset_(offset), length_(length), name_(base->name()) {}

  Result<size_t> ReadAt(uint64_t offset, std::span<std::byte> dst) const override {
    if (offset >= length_) {
      return size_t{0};
    }
    const auto n = static_cast<size_t>(std::min<uint64_t>(dst.size(), length_ - offset));
    return base_->ReadAt(offset_ + offset, dst.first(n));
  }
  Status WriteAt(uint64_t, std::span<const std::byte>) override {
    return ReadOnlyError(name_ + ": a slice of the file is read-only");
  }
  Result<uint64_t> Size() const override { return length_; }
  Status Flush() override { return Status::Ok(); }
  Status Truncate(uint64_t) override {
    return ReadOnlyError(name_ + ": a slice of the file is read-only");
  }
  const std::string& name() const override { return name_; }

 private:
  const File* const base_;
  const uint64_t offset_;
  const uint64_t length_;
  const std::string name_;
};

class FaultFile final : public File {
 public:
  FaultFile(std::unique_ptr<File> base, FaultPlan plan) : base_(std::move(base)), plan_(plan) {}

  Result<size_t> ReadAt(uint64_t offset, std::span<std::byte> dst) const override {
    int call = reads_.fetch_add(1);
    if (call == plan_.fail_read_at_call) {
      return IOError("cannot read " + name() + ": injected fault", EIO);
    }
    if (plan_.short_reads && dst.size() > 1) {
      dst = dst.first(dst.size() / 2);
    }
    return base_->ReadAt(offset, dst);
  }
  Status WriteAt(uint64_t offset, std::span<const std::byte> src) override {
    int call = writes_.fetch_add(1);
    if (call == plan_.fail_write_at_call) {
      return NoSpaceError("cannot write " + name() + ": injected fault");
    }
    return base_->WriteAt(offset, src);
  }
  Result<uint64_t> Size() const override { return base_->Size(); }
  Status Flush() override { return base_->Flush(); }
  Status Truncate(uint64_t s) override { return base_->Truncate(s); }
  const std::string& name() const override { return base_->name(); }

 private:
  std::unique_ptr<File> base_;
  FaultPlan plan_;
  mutable std::atomic<int> reads_{0};
  std::atomic<int> writes_{0};
};

}  // namespace

std::unique_ptr<File> NewMemoryFile(std::string name, std::string contents) {
  return std::make_unique<MemoryFile>(std::move(name), std::move(contents));
}

std::unique_ptr<File> NewSliceFile(const File* base, uint64_t offset, uint64_t length) {
  return std::make_unique<SliceFile>(base, offset, length);
}

std::unique_ptr<File> NewFaultFile(std::unique_ptr<File> base, FaultPlan plan) {
  return std::make_unique<FaultFile>(std::move(base), plan);
}

}  // namespace imgfs
