// SPDX-License-Identifier: MIT
// Gives imgfs_test_pch (tests/CMakeLists.txt) a source to build its
// precompiled header with; every test program reuses that header.
