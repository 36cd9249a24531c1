// SPDX-License-Identifier: MIT
#include "core/crypto/secret.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "core/status.h"

namespace imgfs {

void WipeBytes(std::span<std::byte> bytes) noexcept {
  if (!bytes.empty()) {
    explicit_bzero(bytes.data(), bytes.size());
  }
}

SecretBytes::~SecretBytes() { Release(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)),
      locked_(std::exchange(other.locked_, false)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
    locked_ = std::exchange(other.locked_, false);
  }
  return *this;
}

void SecretBytes::Release() noexcept {
  if (data_ == nullptr) {
    return;
  }
  WipeBytes({data_, mapped_});
  if (locked_) {
    munlock(data_, mapped_);
  }
  munmap(data_, mapped_);
  data_ = nullptr;
  size_ = mapped_ = 0;
  locked_ = false;
}

void SecretBytes::Truncate(size_t size) {
  if (size < size_) {
    WipeBytes(bytes().subspan(size));
    size_ = size;
  }
}

Result<SecretBytes> SecretBytes::Allocate(size_t size) {
  if (size > kMaxSecretBytes) {
    return InvalidArgumentError("secret of " + std::to_string(size) + " bytes is larger than " +
                                std::to_string(kMaxSecretBytes) + " bytes");
  }
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t mapped = size == 0 ? page : (size + page - 1) / page * page;
  void* mem = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    return IOError("cannot map memory for a secret", errno);
  }
  SecretBytes out;
  out.data_ = static_cast<std::byte*>(mem);
  out.size_ = size;
  out.mapped_ = mapped;
  madvise(mem, mapped, MADV_DONTDUMP);
  out.locked_ = mlock(mem, mapped) == 0;
  return out;
}

Result<SecretBytes> SecretBytes::Copy(std::span<const std::byte> bytes) {
  IMGFS_ASSIGN_OR_RETURN(SecretBytes out, Allocate(bytes.size()));
  if (!bytes.empty()) {
    std::memcpy(out.data_, bytes.data(), bytes.size());
  }
  return out;
}

Result<SecretBytes> ReadSecretFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return NotFoundError("cannot open key file " + path + ": no such file");
    }
    if (err == EACCES || err == EPERM) {
      return PermissionError("cannot open key file " + path + ": permission denied");
    }
    return IOError("cannot open key file " + path + ": " + std::strerror(err), err);
  }
  // Read into a locked buffer that starts at one page and doubles up to
  // the limit; one byte past the limit marks an oversized file (or pipe)
  // without trusting st_size. Small key files thus lock one page, not the
  // whole limit (RLIMIT_MEMLOCK is 8 MiB or less for most users).
  auto buf = SecretBytes::Allocate(4096);
  if (!buf.ok()) {
    close(fd);
    return buf.status();
  }
  size_t got = 0;
  std::byte extra{};
  for (;;) {
    if (got == buf->size() && got < kMaxSecretBytes) {
      auto bigger = SecretBytes::Allocate(std::min(2 * got, kMaxSecretBytes));
      if (!bigger.ok()) {
        close(fd);
        return bigger.status();
      }
      std::memcpy(bigger->bytes().data(), buf->bytes().data(), got);
      *buf = std::move(*bigger);  // the old buffer is wiped as it goes
    }
    std::span<std::byte> into =
        got < buf->size() ? buf->bytes().subspan(got) : std::span<std::byte>(&extra, 1);
    const ssize_t n = read(fd, into.data(), into.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const int err = errno;
      close(fd);
      return IOError("cannot read key file " + path + ": " + std::strerror(err), err);
    }
    if (n == 0) {
      break;
    }
    if (got >= kMaxSecretBytes) {
      close(fd);
      WipeBytes({&extra, 1});
      return InvalidArgumentError("key file " + path + " is larger than " +
                                  std::to_string(kMaxSecretBytes >> 20) + " MiB");
    }
    got += static_cast<size_t>(n);
  }
  close(fd);
  if (got == 0) {
    return InvalidArgumentError("key file " + path + " is empty");
  }
  buf->Truncate(got);
  return std::move(*buf);
}

}  // namespace imgfs
