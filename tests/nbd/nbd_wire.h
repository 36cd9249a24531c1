// SPDX-License-Identifier: MIT
// A minimal NBD client for tests that need requests real clients never
// send (reads past the end of the export). Fixed newstyle handshake with
// NBD_OPT_EXPORT_NAME and simple replies only, from the protocol document
// (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md).
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace imgfs::testing {

class NbdWireClient {
 public:
  NbdWireClient() = default;
  ~NbdWireClient() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  NbdWireClient(const NbdWireClient&) = delete;
  NbdWireClient& operator=(const NbdWireClient&) = delete;

  // Connects to the Unix socket and negotiates the default export.
  bool Connect(const std::string& socket_path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (fd_ < 0 || socket_path.size() >= sizeof addr.sun_path) {
      return false;
    }
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      return false;
    }
    std::string hello;
    if (!Recv(18, &hello) || Be(hello, 0, 8) != kNbdMagic || Be(hello, 8, 8) != kOptMagic) {
      return false;
    }
    constexpr uint64_t kClientFlags = 3;  // FIXED_NEWSTYLE | NO_ZEROES
    constexpr uint64_t kOptExportName = 1;
    std::string out = Put(kClientFlags, 4) + Put(kOptMagic, 8) + Put(kOptExportName, 4) + Put(0, 4);
    std::string reply;
    if (!Send(out) || !Recv(10, &reply)) {
      return false;
    }
    size_ = Be(reply, 0, 8);
    return true;
  }

  uint64_t export_size() const { return size_; }

  // NBD_CMD_READ; returns the reply's error (0 = OK, with the bytes in
  // *bytes), or UINT32_MAX when the connection failed.
  uint32_t Read(uint64_t offset, uint32_t length, std::string* bytes) {
    constexpr uint64_t kCmdRead = 0;
    if (!Send(Request(kCmdRead, offset, length))) {
      return UINT32_MAX;
    }
    std::string reply;
    if (!Recv(16, &reply) || Be(reply, 0, 4) != kReplyMagic || Be(reply, 8, 8) != handle_) {
      return UINT32_MAX;
    }
    const auto error = static_cast<uint32_t>(Be(reply, 4, 4));
    if (error == 0 && !Recv(length, bytes)) {
      return UINT32_MAX;
    }
    return error;
  }

  void Disconnect() {
    constexpr uint64_t kCmdDisc = 2;
    (void)Send(Request(kCmdDisc, 0, 0));
  }

 private:
  static constexpr uint64_t kNbdMagic = 0x4e42444d41474943;  // "NBDMAGIC"
  static constexpr uint64_t kOptMagic = 0x49484156454F5054;  // "IHAVEOPT"
  static constexpr uint64_t kRequestMagic = 0x25609513;
  static constexpr uint64_t kReplyMagic = 0x67446698;

  std::string Request(uint64_t type, uint64_t offset, uint32_t length) {
    ++handle_;
    return Put(kRequestMagic, 4) + Put(0, 2) + Put(type, 2) + Put(handle_, 8) + Put(offset, 8) +
           Put(length, 4);
  }
  static std::string Put(uint64_t v, int bytes) {
    std::string s(static_cast<size_t>(bytes), '\0');
    for (int i = bytes - 1; i >= 0; --i, v >>= 8) {
      s[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    }
    return s;
  }
  static uint64_t Be(const std::string& s, size_t at, size_t bytes) {
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) {
      v = v << 8 | static_cast<uint8_t>(s[at + i]);
    }
    return v;
  }
  bool Send(const std::string& s) const {
    for (size_t done = 0; done < s.size();) {
      ssize_t n = ::send(fd_, s.data() + done, s.size() - done, MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      done += static_cast<size_t>(n);
    }
    return true;
  }
  bool Recv(size_t length, std::string* out) const {
    out->assign(length, '\0');
    for (size_t done = 0; done < length;) {
      ssize_t n = ::recv(fd_, out->data() + done, length - done, 0);
      if (n <= 0) {
        return false;
      }
      done += static_cast<size_t>(n);
    }
    return true;
  }

  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t handle_ = 0;
};

}  // namespace imgfs::testing
