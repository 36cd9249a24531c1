// SPDX-License-Identifier: MIT
#include "tests/testing/oracles.h"

#include <algorithm>
#include <filesystem>

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

}  // namespace imgfs::testing

namespace imgfs::testing {

::testing::AssertionResult SevenZipExtractVhd(const std::string& image, std::string* raw) {
  TempDir dir;
  std::string out;
  ::testing::AssertionResult ok =
      Sh(dir.path(),
         "7zz x -tvhd -y -oout " + ShellQuote(std::filesystem::absolute(image).string()), &out);
  if (!ok) {
    return ok;
  }
  if (out.find("ERROR") != std::string::npos || out.find("WARNING") != std::string::npos) {
    return ::testing::AssertionFailure() << "7zz x -tvhd reported a problem: " << out;
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
    return ::testing::AssertionFailure() << "7zz x -tvhd wrote " << names.size() << " files";
  }
  *raw = ReadWholeFile(names[0]);
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult VhdimountRaw(const std::string& image, std::string* raw) {
  TempDir dir;
  std::string out;
  ::testing::AssertionResult ok = Sh(
      dir.path(),
      "mkdir m && vhdimount " + ShellQuote(std::filesystem::absolute(image).string()) + " m", &out);
  if (!ok) {
    return ok;
  }
  // vhdimount returns once the file system is mounted (it daemonizes). It
  // shows each layer of a differencing chain: vhdi1 is the base, the
  // highest number the image itself.
  size_t layers = 0;
  while (std::filesystem::exists(dir.Join("m/vhdi" + std::to_string(layers + 1)))) {
    ++layers;
  }
  *raw = ReadWholeFile(dir.Join("m/vhdi" + std::to_string(layers)));
  const bool unmounted = RunIn(dir.path(), "fusermount -u m || umount m") == 0;
  if (!unmounted) {
    return ::testing::AssertionFailure() << "cannot unmount vhdimount at " << dir.Join("m");
  }
    return ::testing::AssertionFailure()
           << "7zz x -t" << type << " extracted " << names.size() << " files: " << log;
  }
  *disk = ReadWholeFile(names[0]);
::testing::AssertionResult VmdkmountRaw(const std::string& image, std::string* raw) {
  TempDir dir;
  std::string log;
  // vmdkmount daemonizes once the mount is up; unmount whatever happens.
  const std::string mount = "mkdir m && vmdkmount " + ShellQuote(Absolute(image)) + " m";
  ::testing::AssertionResult ok = Sh(dir.path(), mount, &log);
  if (ok) {
    ok = Sh(dir.path(), "cp m/vmdk1 out", &log);
  }
  RunIn(dir.path(), "for i in 1 2 3 4 5; do fusermount -u m 2>/dev/null && break; sleep 0.2; done");
  if (!ok) {
    return ok;
  }
  *raw = ReadWholeFile(dir.Join("out"));
  return ::testing::AssertionSuccess();
}

}  // namespace imgfs::testing
