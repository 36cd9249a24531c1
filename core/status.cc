// SPDX-License-Identifier: MIT
#include "core/status.h"

#include <cerrno>

namespace imgfs {

Status::Status(StatusCode code, std::string message, int sys_errno) {
  if (code != StatusCode::kOk) {
    rep_ = std::make_shared<const Rep>(Rep{code, sys_errno, std::move(message)});
  }
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return rep_ ? rep_->message : kEmpty;
}

int Status::ToErrno() const {
  switch (code()) {
    case StatusCode::kOk:
      return 0;
    case StatusCode::kNotFound:
      return ENOENT;
    case StatusCode::kInvalidArgument:
      return EINVAL;
    case StatusCode::kCorrupt:
      return EIO;
    case StatusCode::kUnsupported:
      return EOPNOTSUPP;
    case StatusCode::kIOError:
      return sys_errno() != 0 ? sys_errno() : EIO;
    case StatusCode::kPermission:
      return EACCES;
    case StatusCode::kNoSpace:
      return ENOSPC;
    case StatusCode::kOutOfRange:
      return EINVAL;
    case StatusCode::kReadOnly:
      return EROFS;
    case StatusCode::kInternal:
      return EIO;
    case StatusCode::kKeyRejected:
      return EACCES;
    case StatusCode::kKeyRequired:
      return ENOKEY;
  }
  return EIO;
}

std::string Status::ToString() const {
  if (ok()) {
    return "ok";
  }
  return std::string(StatusCodeName(code())) + ": " + message();
}

Status Status::Annotate(std::string_view prefix) const {
  if (ok()) {
    return *this;
  }
  return Status(code(), std::string(prefix) + ": " + message(), sys_errno());
}

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kNotFound:
      return "not found";
    case StatusCode::kInvalidArgument:
      return "invalid argument";
    case StatusCode::kCorrupt:
      return "corrupt";
    case StatusCode::kUnsupported:
      return "unsupported";
    case StatusCode::kIOError:
      return "i/o error";
    case StatusCode::kPermission:
      return "permission denied";
    case StatusCode::kNoSpace:
      return "no space";
    case StatusCode::kOutOfRange:
      return "out of range";
    case StatusCode::kReadOnly:
      return "read-only";
    case StatusCode::kInternal:
      return "internal error";
    case StatusCode::kKeyRejected:
      return "key rejected";
    case StatusCode::kKeyRequired:
      return "key required";
  }
  return "unknown";
}

Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
Status InvalidArgumentError(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
Status CorruptError(std::string m) { return {StatusCode::kCorrupt, std::move(m)}; }
Status UnsupportedError(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
Status IOError(std::string m, int e) { return {StatusCode::kIOError, std::move(m), e}; }
Status PermissionError(std::string m) { return {StatusCode::kPermission, std::move(m), EACCES}; }
Status NoSpaceError(std::string m) { return {StatusCode::kNoSpace, std::move(m), ENOSPC}; }
Status OutOfRangeError(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
Status ReadOnlyError(std::string m) { return {StatusCode::kReadOnly, std::move(m), EROFS}; }
Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
Status KeyRejectedError(std::string m) { return {StatusCode::kKeyRejected, std::move(m)}; }
Status KeyRequiredError(std::string m) { return {StatusCode::kKeyRequired, std::move(m)}; }

}  // namespace imgfs
