// SPDX-License-Identifier: MIT
// EXPECT_OK / ASSERT_OK for Status and Result<T>.
#pragma once

#include <gtest/gtest.h>

#include "core/result.h"
#include "core/status.h"

namespace imgfs::testing {

inline const Status& ToStatus(const Status& s) { return s; }
template <typename T>
const Status& ToStatus(const Result<T>& r) {
  return r.status();
}

}  // namespace imgfs::testing

#define EXPECT_OK(expr)                                                                           \
  do {                                                                                            \
    const auto& imgfs_expect_ok_tmp_ = (expr);                                                    \
    const ::imgfs::Status& imgfs_expect_ok_s_ = ::imgfs::testing::ToStatus(imgfs_expect_ok_tmp_); \
    EXPECT_TRUE(imgfs_expect_ok_s_.ok()) << imgfs_expect_ok_s_.ToString();                        \
  } while (false)
#define ASSERT_OK(expr)                                                                           \
  do {                                                                                            \
    const auto& imgfs_assert_ok_tmp_ = (expr);                                                    \
    const ::imgfs::Status& imgfs_assert_ok_s_ = ::imgfs::testing::ToStatus(imgfs_assert_ok_tmp_); \
    ASSERT_TRUE(imgfs_assert_ok_s_.ok()) << imgfs_assert_ok_s_.ToString();                        \
  } while (false)
// EXPECT_CODE(expr, kCorrupt): the status has that code.
#define EXPECT_CODE(expr, c)                                       \
  do {                                                             \
    const auto& imgfs_expect_code_tmp_ = (expr);                   \
    const ::imgfs::Status& imgfs_expect_code_s_ =                  \
        ::imgfs::testing::ToStatus(imgfs_expect_code_tmp_);        \
    EXPECT_EQ(imgfs_expect_code_s_.code(), ::imgfs::StatusCode::c) \
        << imgfs_expect_code_s_.ToString();                        \
  } while (false)
