// SPDX-License-Identifier: MIT
// Status: the one error type of imgfs. A code, a human message and, for host
// I/O failures, the saved errno. Errors are values in the core; errno appears
// only at the FUSE boundary (fuse/errno_map.cc) and in the CLI exit paths.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace imgfs {

enum class StatusCode {
  kOk = 0,
  kNotFound,
  kInvalidArgument,
  kCorrupt,
  kUnsupported,
  kIOError,
  kPermission,
  kNoSpace,
  kOutOfRange,
  kReadOnly,
  kInternal,
  // Key material: a passphrase or key that no key slot accepts, and an
  // encrypted image opened without one (the CLI prompts or names the option).
  kKeyRejected,
  kKeyRequired,
};

// An OK status is a null pointer: cheap to create, copy and test.
// Thread-safety: immutable after construction.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message, int sys_errno = 0);

  static Status Ok() { return Status(); }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  // The message without a code prefix, e.g.
  // "qcow2: L2 table at 0x30000 extends past end of file (size 0x20000)".
  const std::string& message() const;
  // Host errno for kIOError (0 when unknown or not an I/O error).
  int sys_errno() const { return rep_ ? rep_->sys_errno : 0; }
  // The errno a POSIX caller should see for this status (EIO, ENOENT, ...).
  int ToErrno() const;
  std::string ToString() const;

  // Prefixes the message ("<prefix>: <message>"), keeping code and errno.
  Status Annotate(std::string_view prefix) const;

 private:
  struct Rep {
    StatusCode code;
    int sys_errno;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;
};

std::string_view StatusCodeName(StatusCode code);

// Constructors named after the codes. `message` follows docs/CONTRIBUTING.md#error-model:
// lowercase, names the format, the structure and the offset.
Status NotFoundError(std::string message);
Status InvalidArgumentError(std::string message);
Status CorruptError(std::string message);
Status UnsupportedError(std::string message);
Status IOError(std::string message, int sys_errno);
Status PermissionError(std::string message);
Status NoSpaceError(std::string message);
Status OutOfRangeError(std::string message);
Status ReadOnlyError(std::string message);
Status InternalError(std::string message);
Status KeyRejectedError(std::string message);
Status KeyRequiredError(std::string message);

}  // namespace imgfs

#define IMGFS_STATUS_CONCAT_INNER_(a, b) a##b
#define IMGFS_STATUS_CONCAT_(a, b) IMGFS_STATUS_CONCAT_INNER_(a, b)

#define IMGFS_RETURN_IF_ERROR(expr)             \
  do {                                          \
    ::imgfs::Status imgfs_status_tmp_ = (expr); \
    if (!imgfs_status_tmp_.ok()) {              \
      return imgfs_status_tmp_;                 \
    }                                           \
  } while (false)
