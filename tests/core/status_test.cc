// SPDX-License-Identifier: MIT
#include "core/status.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "core/result.h"
#include "tests/testing/status_matchers.h"

namespace imgfs {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToErrno(), 0);
}

TEST(StatusTest, CodesMapToErrno) {
  EXPECT_EQ(CorruptError("x").ToErrno(), EIO);
  EXPECT_EQ(UnsupportedError("x").ToErrno(), EOPNOTSUPP);
  EXPECT_EQ(IOError("x", ENOSPC).ToErrno(), ENOSPC);
  EXPECT_EQ(IOError("x", 0).ToErrno(), EIO);
  EXPECT_EQ(NotFoundError("x").ToErrno(), ENOENT);
  EXPECT_EQ(ReadOnlyError("x").ToErrno(), EROFS);
  EXPECT_EQ(NoSpaceError("x").ToErrno(), ENOSPC);
}

TEST(StatusTest, AnnotateKeepsCode) {
  Status s = IOError("boom", EACCES).Annotate("disk.qcow2");
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_EQ(s.message(), "disk.qcow2: boom");
  EXPECT_EQ(s.ToErrno(), EACCES);
}

Result<int> Half(int v) {
  if (v % 2 != 0) {
    return InvalidArgumentError("odd");
  }
  return v / 2;
}

Result<int> Quarter(int v) {
  IMGFS_ASSIGN_OR_RETURN(int h, Half(v));
  IMGFS_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(ResultTest, PropagatesErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_CODE(Quarter(6), kInvalidArgument);
  EXPECT_CODE(Quarter(8), kOk);
}

}  // namespace
}  // namespace imgfs
