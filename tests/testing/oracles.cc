// SPDX-License-Identifier: MIT
#include "tests/testing/oracles.h"

#include <algorithm>
#include <filesystem>

#include "tests/testing/test_env.h"

namespace imgfs::testing {

namespace {

// `image` as an absolute path: the tools run inside their own temp dir.
std::string Absolute(const std::string& image) { return std::filesystem::absolute(image).string(); }

// Runs `command` in a fresh temp dir and reads back the file `out` it
// writes there.
::testing::AssertionResult RunAndRead(const std::string& command, std::string* bytes) {
  TempDir dir;
  std::string log;
  ::testing::AssertionResult ok = Sh(dir.path(), command + " out", &log);
  if (!ok) {
    return ok;
  }
  *bytes = ReadWholeFile(dir.Join("out"));
  return ::testing::AssertionSuccess();
}

}  // namespace

bool HaveTool(const std::string& tool) {
  return RunIn(".", "command -v " + ShellQuote(tool) + " >/dev/null") == 0;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

::testing::AssertionResult Dmg2imgRaw(const std::string& image, std::string* raw) {
  return RunAndRead("dmg2img -i " + ShellQuote(Absolute(image)) + " -o", raw);
}

::testing::AssertionResult QemuImgRaw(const std::string& image, const std::string& format,
                                      std::string* raw) {
  return RunAndRead(
      "qemu-img convert -f " + ShellQuote(format) + " -O raw " + ShellQuote(Absolute(image)), raw);
}

::testing::AssertionResult SevenZipExtractDmg(const std::string& image,
                                              std::vector<ExtractedFile>* files) {
  TempDir dir;
  std::string out;
  ::testing::AssertionResult ok =
      Sh(dir.path(), "7zz x -tdmg -y -oout " + ShellQuote(Absolute(image)), &out);
  if (!ok) {
    return ok;
  }
  if (out.find("ERROR") != std::string::npos || out.find("WARNING") != std::string::npos) {
    return ::testing::AssertionFailure() << "7zz x -tdmg reported a problem: " << out;
  }
  files->clear();
  for (const auto& entry : std::filesystem::directory_iterator(dir.Join("out"))) {
    files->push_back(
        ExtractedFile{entry.path().filename().string(), ReadWholeFile(entry.path().string())});
  }
  std::sort(files->begin(), files->end(),
            [](const ExtractedFile& a, const ExtractedFile& b) { return a.name < b.name; });
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult SevenZipExtractDisk(const std::string& image, const std::string& type,
                                               std::string* disk) {
  TempDir dir;
  std::string log;
  ::testing::AssertionResult ok =
      Sh(dir.path(), "7zz x -t" + type + " -y -oout " + ShellQuote(Absolute(image)), &log);
  if (!ok) {
    return ok;
  }
  if (log.find("ERROR") != std::string::npos || log.find("WARNING") != std::string::npos) {
    return ::testing::AssertionFailure() << "7zz x -t" << type << " reported a problem: " << log;
  }
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.Join("out"))) {
    names.push_back(entry.path().string());
  }
  if (names.size() != 1) {
    return ::testing::AssertionFailure()
           << "7zz x -t" << type << " extracted " << names.size() << " files: " << log;
  }
  *disk = ReadWholeFile(names[0]);
  return ::testing::AssertionSuccess();
}

namespace {

// Mounts `image` with one of libyal's FUSE tools (`tool IMAGE m`; it
// daemonizes once the mount is up), reads the file `<prefix><N>` with the
// highest N (libyal shows each layer of a chain, the image itself last)
// and unmounts whatever happens.
::testing::AssertionResult LibyalMountRaw(const std::string& tool, const std::string& prefix,
                                          const std::string& image, std::string* raw) {
  TempDir dir;
  std::string log;
  ::testing::AssertionResult ok =
      Sh(dir.path(), "mkdir m && " + tool + " " + ShellQuote(Absolute(image)) + " m", &log);
  if (ok) {
    size_t layers = 0;
    while (std::filesystem::exists(dir.Join("m/" + prefix + std::to_string(layers + 1)))) {
      ++layers;
    }
    ok = Sh(dir.path(), "cp m/" + prefix + std::to_string(layers) + " out", &log);
  }
  const bool unmounted = RunIn(dir.path(),
                               "for i in 1 2 3 4 5; do fusermount -u m 2>/dev/null && exit 0; "
                               "sleep 0.2; done; umount m") == 0;
  if (!ok) {
    return ok;
  }
  if (!unmounted) {
    return ::testing::AssertionFailure() << "cannot unmount " << tool << " at " << dir.Join("m");
  }
  *raw = ReadWholeFile(dir.Join("out"));
  return ::testing::AssertionSuccess();
}

}  // namespace

::testing::AssertionResult VhdimountRaw(const std::string& image, std::string* raw) {
  return LibyalMountRaw("vhdimount", "vhdi", image, raw);
}

::testing::AssertionResult VmdkmountRaw(const std::string& image, std::string* raw) {
  return LibyalMountRaw("vmdkmount", "vmdk", image, raw);
}

std::string ExpectOneLineFailure(const TempDir& dir, const std::string& args) {
  std::string out;
  const int rc = RunIn(dir.path(), ImgfsBinary() + " " + args + " 2>err >/dev/null; echo $?", &out);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out, "0\n") << args;
  const std::string err = ReadWholeFile(dir.Join("err"));
  EXPECT_FALSE(err.empty()) << args;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << args << ": " << err;
  return err;
}

}  // namespace imgfs::testing
