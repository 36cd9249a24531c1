// SPDX-License-Identifier: MIT
// POSIX File: pread/pwrite on one descriptor, safe for concurrent readers.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/io/file.h"
#include "core/io/readahead_file.h"

namespace imgfs {
namespace {

std::string ErrnoText(int e) { return std::strerror(e); }

class PosixFile final : public File {
 public:
  PosixFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixFile() override { ::close(fd_); }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  Result<size_t> ReadAt(uint64_t offset, std::span<std::byte> dst) const override {
    size_t done = 0;
    while (done < dst.size()) {
      ssize_t n =
          ::pread(fd_, dst.data() + done, dst.size() - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        int e = errno;
        return IOError("cannot read " + path_ + ": " + ErrnoText(e), e);
      }
      if (n == 0) {
        break;
      }
      done += static_cast<size_t>(n);
    }
    return done;
  }

  void Prefetch(uint64_t offset, uint64_t length) const override {
    // Starts readahead of the range and returns without waiting for it.
    (void)::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(length),
                          POSIX_FADV_WILLNEED);
  }

  Status WriteAt(uint64_t offset, std::span<const std::byte> src) override {
    size_t done = 0;
    while (done < src.size()) {
      ssize_t n =
          ::pwrite(fd_, src.data() + done, src.size() - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        int e = errno;
        return IOError("cannot write " + path_ + ": " + ErrnoText(e), e);
      }
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  Result<uint64_t> Size() const override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      int e = errno;
      return IOError("cannot stat " + path_ + ": " + ErrnoText(e), e);
    }
    if (S_ISBLK(st.st_mode)) {
      off_t end = ::lseek(fd_, 0, SEEK_END);
      if (end < 0) {
        int e = errno;
        return IOError("cannot size " + path_ + ": " + ErrnoText(e), e);
      }
      return static_cast<uint64_t>(end);
    }
    return static_cast<uint64_t>(st.st_size);
  }

  Status Flush() override {
    if (::fsync(fd_) != 0) {
      int e = errno;
      return IOError("cannot flush " + path_ + ": " + ErrnoText(e), e);
    }
    return Status::Ok();
  }

  Status Truncate(uint64_t size_bytes) override {
    if (::ftruncate(fd_, static_cast<off_t>(size_bytes)) != 0) {
      int e = errno;
      return IOError("cannot truncate " + path_ + ": " + ErrnoText(e), e);
    }
    return Status::Ok();
  }

  Result<uint64_t> AllocatedBytes() const override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      int e = errno;
      return IOError("cannot stat " + path_ + ": " + ErrnoText(e), e);
    }
    return static_cast<uint64_t>(st.st_blocks) * 512;
  }

  Result<uint64_t> NextData(uint64_t offset) const override { return Seek(offset, SEEK_DATA); }
  Result<uint64_t> NextHole(uint64_t offset) const override { return Seek(offset, SEEK_HOLE); }

  const std::string& name() const override { return path_; }

 private:
  Result<uint64_t> Seek(uint64_t offset, int whence) const {
    IMGFS_ASSIGN_OR_RETURN(uint64_t size, Size());
    if (offset >= size) {
      return size;
    }
    off_t r = ::lseek(fd_, static_cast<off_t>(offset), whence);
    if (r < 0) {
      if (errno == ENXIO) {
        return size;  // no data past offset
      }
      if (errno == EINVAL || errno == EOPNOTSUPP) {
        return whence == SEEK_DATA ? offset : size;  // fs without hole support
      }
      int e = errno;
      return IOError("cannot seek " + path_ + ": " + ErrnoText(e), e);
    }
    return static_cast<uint64_t>(r);
  }

  std::string path_;
  int fd_;
};

bool ClearNonBlock(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  return fl >= 0 && ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0;
}

Result<std::unique_ptr<File>> OpenWithFlags(const std::string& path, int flags) {
  // O_NONBLOCK so that opening a FIFO with no writer returns at once and is
  // refused below instead of hanging; it is cleared again for the reads.
  int fd = ::open(path.c_str(), flags | O_CLOEXEC | O_NONBLOCK, 0644);
  if (fd < 0 && errno == EWOULDBLOCK) {
    // Only a conflicting file lease (fcntl F_SETLEASE) fails an open with
    // EWOULDBLOCK under O_NONBLOCK; a FIFO never does for O_RDONLY/O_RDWR.
    // Wait for the lease break, as a plain open would.
    fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  }
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) {
      return Status(StatusCode::kNotFound, "cannot open " + path + ": " + ErrnoText(e), e);
    }
    if (e == EACCES || e == EPERM) {
      return Status(StatusCode::kPermission, "cannot open " + path + ": " + ErrnoText(e), e);
    }
    return IOError("cannot open " + path + ": " + ErrnoText(e), e);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return IOError("cannot stat " + path + ": " + ErrnoText(e), e);
  }
  const char* refused = S_ISDIR(st.st_mode)    ? "is a directory"
                        : S_ISFIFO(st.st_mode) ? "is a FIFO, not a file"
                        : S_ISSOCK(st.st_mode) ? "is a socket, not a file"
                                               : nullptr;
  if (refused != nullptr) {
    ::close(fd);
    return InvalidArgumentError("cannot open " + path + ": " + refused);
  }
  if (!ClearNonBlock(fd)) {
    int e = errno;
    ::close(fd);
    return IOError("cannot open " + path + ": " + ErrnoText(e), e);
  }
  return std::unique_ptr<File>(std::make_unique<PosixFile>(path, fd));
}

}  // namespace

Result<std::unique_ptr<File>> OpenPosixFile(const std::string& path, bool writable) {
  return OpenPosixFile(path, PosixFileOptions{.writable = writable});
}

Result<std::unique_ptr<File>> OpenPosixFile(const std::string& path,
                                            const PosixFileOptions& options) {
  IMGFS_ASSIGN_OR_RETURN(std::unique_ptr<File> file,
                         OpenWithFlags(path, options.writable ? O_RDWR : O_RDONLY));
  if (options.writable || !options.direct_read_ahead) {
    return file;
  }
  // A second descriptor for read-ahead; file systems without O_DIRECT
  // (tmpfs) refuse it here and keep the page cache's read-ahead.
  // O_NONBLOCK: the path may have been replaced by a FIFO since the first
  // open; anything but a regular file is dropped below.
  int direct = ::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC | O_NONBLOCK);
  if (direct < 0) {
    return file;
  }
  struct stat st {};
  if (::fstat(direct, &st) != 0 || !S_ISREG(st.st_mode) || !ClearNonBlock(direct)) {
    ::close(direct);
    return file;
  }
  return NewReadAheadFile(std::move(file), direct);
}

Result<std::unique_ptr<File>> CreatePosixFile(const std::string& path) {
  return OpenWithFlags(path, O_RDWR | O_CREAT | O_TRUNC);
}

}  // namespace imgfs
