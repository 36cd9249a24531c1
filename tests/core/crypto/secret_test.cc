// SPDX-License-Identifier: MIT
// SecretBytes keeps key material in its own locked, undumpable mapping;
// ReadSecretFile takes a key file's bytes exactly, like cryptsetup.
#include "core/crypto/secret.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace imgfs {
namespace {

std::span<const std::byte> Bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

std::string Str(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::string WriteTemp(const std::string& name, const std::string& content) {
  std::string path = ::testing::TempDir() + "/secret_test_" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(SecretBytes, CopyHoldsTheBytesAndMovesOwnership) {
  auto s = SecretBytes::Copy(Bytes("pass\nword"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(Str(s->bytes()), "pass\nword");
  SecretBytes moved = std::move(*s);
  EXPECT_EQ(Str(moved.bytes()), "pass\nword");
  EXPECT_TRUE(s->empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  moved.Truncate(4);
  EXPECT_EQ(Str(moved.bytes()), "pass");
}

TEST(SecretBytes, MemoryIsItsOwnPageAlignedMapping) {
  auto s = SecretBytes::Allocate(100);
  ASSERT_TRUE(s.ok());
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(s->bytes().data()) % page, 0U);
  for (std::byte b : s->bytes()) {
    EXPECT_EQ(b, std::byte{0});
  }
  // As root (the test environment) mlock of one page always succeeds.
  if (geteuid() == 0) {
    EXPECT_TRUE(s->locked());
    unsigned char resident = 0;
    ASSERT_EQ(mincore(s->bytes().data(), page, &resident), 0);
    EXPECT_EQ(resident & 1, 1);
  }
}

TEST(SecretBytes, RefusesMoreThanTheLimit) {
  auto s = SecretBytes::Allocate(kMaxSecretBytes + 1);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
}

TEST(ReadSecretFile, TakesTheBytesExactlyNewlineIncluded) {
  const std::string path = WriteTemp("nl", std::string("compatkey\n\0x", 12));
  auto s = ReadSecretFile(path);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(Str(s->bytes()), std::string("compatkey\n\0x", 12));
}

TEST(ReadSecretFile, MissingEmptyAndOversizedFilesAreOneLineErrors) {
  auto missing = ReadSecretFile(::testing::TempDir() + "/secret_test_none");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("secret_test_none"), std::string::npos);

  auto empty = ReadSecretFile(WriteTemp("empty", ""));
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(empty.status().message().find("is empty"), std::string::npos);

  auto big = ReadSecretFile(WriteTemp("big", std::string(kMaxSecretBytes + 1, 'k')));
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("larger than 8 MiB"), std::string::npos);

  // Exactly the limit is accepted.
  auto max = ReadSecretFile(WriteTemp("max", std::string(kMaxSecretBytes, 'k')));
  ASSERT_TRUE(max.ok()) << max.status().ToString();
  EXPECT_EQ(max->size(), kMaxSecretBytes);
}

TEST(ReadSecretFile, ReadsFromAPipe) {
  // /dev/stdin-like sources have no size: read until end of file.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "piped", 5), 5);
  close(fds[1]);
  auto s = ReadSecretFile("/proc/self/fd/" + std::to_string(fds[0]));
  close(fds[0]);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(Str(s->bytes()), "piped");
}

}  // namespace
}  // namespace imgfs
