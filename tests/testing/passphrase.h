// SPDX-License-Identifier: MIT
// Passphrases for tests of encrypted images: the bytes of a string as the
// SecretBytes OpenOptions::passphrase holds, and options that carry them.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/crypto/secret.h"
#include "formats/format_driver.h"

namespace imgfs::testing {

inline std::shared_ptr<const SecretBytes> TestPassphrase(std::string_view s) {
  auto secret = SecretBytes::Copy(std::as_bytes(std::span(s.data(), s.size())));
  EXPECT_TRUE(secret.ok()) << secret.status().ToString();
  return secret.ok() ? std::make_shared<const SecretBytes>(std::move(*secret)) : nullptr;
}

inline OpenOptions OptionsWithPassphrase(std::string_view s) {
  OpenOptions o;
  o.passphrase = TestPassphrase(s);
  return o;
}

}  // namespace imgfs::testing
