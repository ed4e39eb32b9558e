#include "self_exec.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string_view>

namespace upcheck::testing {
namespace {

std::map<std::string_view, ChildRole::Main>& Roles() {
  static std::map<std::string_view, ChildRole::Main> roles;
  return roles;
}

// This binary's path, read at start (RunChildRoleIfAsked).
std::string& SelfPath() {
  static std::string path;
  return path;
}

}  // namespace

ChildRole::ChildRole(const char* flag, Main main) : flag_(flag) {
  if (!Roles().emplace(flag, main).second) {
    std::fprintf(stderr, "child role %s defined twice\n", flag);
    std::abort();
  }
}

void RunChildRoleIfAsked(int argc, char** argv) {
  if (argc > 1) {
    auto role = Roles().find(argv[1]);
    if (role != Roles().end()) _exit(role->second(std::vector<std::string>(argv + 2, argv + argc)));
  }
  char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  SelfPath() = n > 0 ? std::string(path, static_cast<size_t>(n)) : std::string(argv[0]);
}

pid_t StartChild(const ChildRole& role, const std::vector<std::string>& args,
                 const std::vector<int>& close_in_child) {
  if (SelfPath().empty()) {
    std::fprintf(stderr, "StartChild: main() did not call RunChildRoleIfAsked()\n");
    std::abort();
  }
  // After fork() only async-signal-safe calls: the argv is built here.
  std::vector<std::string> words = {SelfPath(), role.flag()};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    for (int fd : close_in_child) close(fd);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

}  // namespace upcheck::testing
