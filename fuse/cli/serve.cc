// SPDX-License-Identifier: MIT
// imgfs serve: an image over NBD, by running nbdkit with the imgfs plugin
// (nbd/plugin.cc), so that users need not know nbdkit's flags. imgfs writes
// no NBD server of its own: the command builds nbdkit's command line and
// execs it, in the foreground.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "fuse/cli/commands.h"
#include "fuse/cli/common.h"

namespace imgfs::cli {
namespace {

constexpr const char* kServeHelp =
    "usage: imgfs serve [options] IMAGE\n"
    "\n"
    "Serves IMAGE read-only over NBD, the Network Block Device protocol that\n"
    "the Linux kernel (nbd-client), QEMU, nbdcopy, nbdinfo and nbdfuse speak.\n"
    "It runs nbdkit with the imgfs plugin in the foreground until interrupted;\n"
    "'nbdkit imgfs --help' describes the plugin. Every format imgfs reads is\n"
    "served as its raw disk, with holes and zeros shown by block status.\n"
    "\n"
    "Where (TCP on the loopback interface unless told otherwise):\n"
    "  -s, --socket PATH      serve on the Unix socket PATH instead of TCP\n"
    "                         (clients: nbd+unix:///?socket=PATH)\n"
    "  -p, --port PORT        TCP port (default 10809; clients: nbd://HOST:PORT)\n"
    "  --listen ADDR          TCP address to listen on (default 127.0.0.1; 0.0.0.0\n"
    "                         or :: serves every interface)\n"
    "What:\n"
    "  --format FMT           do not probe; open IMAGE as FMT\n"
    "  --no-backing           serve only the top layer of a backing chain\n"
    "  --confine-backing      refuse backing files outside the image's directory\n"
    "  --snapshot NAME        serve the internal snapshot NAME (qcow2)\n"
    "  --partition N          serve partition N (MBR, GPT or Apple map)\n"
    "  --cache-size SIZE      cache of metadata and decompressed data (K/M/G\n"
    "                         suffixes; default 64M)\n"
    "  --passphrase-file FILE passphrase or key of an encrypted image: the file's\n"
    "                         bytes exactly (--key-file is the same); the file is\n"
    "                         read by the plugin, the passphrase never appears\n"
    "                         on nbdkit's command line\n"
    "  --header FILE          a detached LUKS header for IMAGE\n"
    "TLS (nbdkit's options, see nbdkit-tls(1)):\n"
    "  --tls off|on|require   offer TLS (on) or insist on it (require)\n"
    "  --tls-certificates DIR x509 certificates (ca-cert.pem, server-cert.pem, ...)\n"
    "  --tls-psk FILE         pre-shared keys instead of certificates\n"
    "  --tls-verify-peer      require a client certificate\n"
    "Other:\n"
    "  --run CMD              run CMD with $uri set to the server's address,\n"
    "                         then stop serving (nbdkit --run)\n"
    "  -v, --verbose          nbdkit's debug messages\n"
    "  --dry-run              print the nbdkit command instead of running it\n"
    "  -h, --help             show this help\n"
    "\n"
    "The plugin is found next to imgfs (its build tree or install prefix), in\n"
    "nbdkit's plugin directory, or where IMGFS_NBDKIT_PLUGIN names it.\n";

constexpr OptionSpec kSpecs[] = {
    {"socket", 's', true},         {"port", 'p', true},
    {"listen", 0, true},           {"format", 0, true},
    {"no-backing", 0, false},      {"confine-backing", 0, false},
    {"snapshot", 0, true},         {"partition", 0, true},
    {"cache-size", 0, true},       {"tls", 0, true},
    {"tls-certificates", 0, true}, {"tls-psk", 0, true},
    {"tls-verify-peer", 0, false}, {"run", 0, true},
    {"verbose", 'v', false},       {"dry-run", 0, false},
    {"help", 'h', false},          IMGFS_CLI_KEY_OPTION_SPECS,
};

constexpr const char* kPluginFile = "nbdkit-imgfs-plugin.so";

// The plugin to load: IMGFS_NBDKIT_PLUGIN, else the one in imgfs's build
// tree (fuse/imgfs next to nbd/) or under its install prefix, else "imgfs",
// which nbdkit looks up in its own plugin directory.
std::string FindPlugin() {
  if (const char* env = std::getenv("IMGFS_NBDKIT_PLUGIN"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    std::vector<std::filesystem::path> candidates = {exe.parent_path() / ".." / "nbd" /
                                                     kPluginFile};
#ifdef IMGFS_NBDKIT_PLUGINDIR
    candidates.push_back(exe.parent_path() / ".." / IMGFS_NBDKIT_PLUGINDIR / kPluginFile);
#endif
    for (const std::filesystem::path& p : candidates) {
      if (::access(p.c_str(), R_OK) == 0) {
        return std::filesystem::weakly_canonical(p, ec).string();
      }
    }
  }
  return "imgfs";
}

bool IsNumber(const std::string& s, unsigned long max) {
  if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  const unsigned long n = std::stoul(s);
  return n >= 1 && n <= max;
}

// nbdkit's command line for `parsed`; "" in *error when the options clash.
std::vector<std::string> NbdkitCommand(const ParsedArgs& parsed, std::string* error) {
  std::vector<std::string> cmd = {"nbdkit", "--readonly"};
  const bool unix_socket = parsed.Has("socket");
  if (unix_socket && (parsed.Has("port") || parsed.Has("listen"))) {
    *error = "--socket serves on a Unix socket; it does not go with --port or --listen";
    return {};
  }
  if (auto port = parsed.Value("port"); port && !IsNumber(*port, 65535)) {
    *error = "--port: '" + *port + "' is not a port number";
    return {};
  }
  if (auto n = parsed.Value("partition"); n && !IsNumber(*n, 0xffffffffUL)) {
    *error = "--partition: '" + *n + "' is not a partition number";
    return {};
  }
  if (auto run = parsed.Value("run")) {
    cmd.insert(cmd.end(), {"--run", *run});
  } else {
    cmd.emplace_back("--foreground");
  }
  if (unix_socket) {
    cmd.insert(cmd.end(), {"--unix", *parsed.Value("socket")});
  } else {
    cmd.insert(cmd.end(), {"--ipaddr", parsed.Value("listen").value_or("127.0.0.1"), "--port",
                           parsed.Value("port").value_or("10809")});
  }
  for (const char* tls : {"tls", "tls-certificates", "tls-psk"}) {
    if (auto v = parsed.Value(tls)) {
      cmd.push_back("--" + std::string(tls) + "=" + *v);
    }
  }
  if (parsed.Has("tls-verify-peer")) {
    cmd.emplace_back("--tls-verify-peer");
  }
  if (parsed.Has("verbose")) {
    cmd.emplace_back("--verbose");
  }
  cmd.push_back(FindPlugin());
  // The plugin's parameters: the image first, as file=, then what was asked.
  cmd.push_back("file=" + parsed.positional[0]);
  for (const char* key :
       {"format", "snapshot", "partition", "cache-size", "passphrase-file", "key-file", "header"}) {
    if (auto v = parsed.Value(key)) {
      cmd.push_back(std::string(key) + "=" + *v);
    }
  }
  for (const char* flag : {"no-backing", "confine-backing"}) {
    if (parsed.Has(flag)) {
      cmd.push_back(std::string(flag) + "=true");
    }
  }
  return cmd;
}

std::string ShellWord(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_=./:,+@%") == std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

}  // namespace

int RunServe(std::span<char* const> args) {
  auto parsed = ParseArgs(args, kSpecs);
  if (!parsed.ok()) {
    return UsageError("serve", parsed.status().message());
  }
  if (parsed->Has("help")) {
    std::fputs(kServeHelp, stdout);
    return kExitOk;
  }
  if (parsed->positional.size() != 1) {
    return UsageError("serve", "expected exactly one IMAGE");
  }
  std::string error;
  std::vector<std::string> cmd = NbdkitCommand(*parsed, &error);
  if (cmd.empty()) {
    return UsageError("serve", error);
  }
  if (parsed->Has("dry-run")) {
    for (size_t i = 0; i < cmd.size(); ++i) {
      std::printf("%s%s", i == 0 ? "" : " ", ShellWord(cmd[i]).c_str());
    }
    std::printf("\n");
    return kExitOk;
  }
  if (!parsed->Has("run")) {
    const std::string uri = parsed->Has("socket")
                                ? "nbd+unix:///?socket=" + *parsed->Value("socket")
                                : "nbd://" + parsed->Value("listen").value_or("127.0.0.1") + ":" +
                                      parsed->Value("port").value_or("10809") + "/";
    std::fprintf(stderr, "imgfs: serving %s read-only on %s (stop with Ctrl-C)\n",
                 parsed->positional[0].c_str(), uri.c_str());
  }
  std::vector<char*> argv;
  for (std::string& s : cmd) {
    argv.push_back(s.data());
  }
  argv.push_back(nullptr);
  std::fflush(nullptr);
  ::execvp(argv[0], argv.data());
  const int err = errno;
  PrintError("cannot run nbdkit: " + std::string(std::strerror(err)) +
             (err == ENOENT ? " (install nbdkit)" : ""));
  return kExitFailure;
}

}  // namespace imgfs::cli
