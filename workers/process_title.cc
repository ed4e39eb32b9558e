#include "process_title.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

extern char** environ;

namespace upcheck::daemon {
namespace {

struct TitleArea {
  char* begin = nullptr;
  char* end = nullptr;  // the NUL of the last string in the area: it stays NUL
  std::string command_line;
};

TitleArea& Area() {
  static TitleArea area;
  return area;
}

// The environment's strings usually follow argv's; copies on the heap free that room.
// The copies live as long as the process, as environ needs.
char* MoveEnvironment(char* end) {
  size_t count = 0;
  while (environ[count] != nullptr) ++count;
  auto* moved = new char*[count + 1];
  for (size_t i = 0; i < count; ++i) {
    if (environ[i] == end + 1) end = environ[i] + std::strlen(environ[i]);
    moved[i] = strdup(environ[i]);
  }
  moved[count] = nullptr;
  environ = moved;
  return end;
}

}  // namespace

void InitProcessTitle(int argc, char** argv) {
  TitleArea& area = Area();
  if (argc < 1 || argv[0] == nullptr || area.begin != nullptr) return;
  char* end = argv[0] + std::strlen(argv[0]);
  for (int i = 0; i < argc; ++i) {
    if (i > 0) area.command_line += ' ';
    area.command_line += argv[i];
    if (i > 0 && argv[i] == end + 1) end = argv[i] + std::strlen(argv[i]);
  }
  area.begin = argv[0];
  area.end = MoveEnvironment(end);
}

const std::string& OriginalCommandLine() { return Area().command_line; }

void SetProcessTitle(std::string_view title) {
  TitleArea& area = Area();
  if (area.begin == nullptr) return;
  std::string text = "upcheckd: ";
  text += title;
  auto room = static_cast<size_t>(area.end - area.begin);
  size_t n = std::min(text.size(), room);
  std::memcpy(area.begin, text.data(), n);
  // NULs after the title: ps and /proc/PID/cmdline stop at the first one past argv's end.
  std::memset(area.begin + n, 0, room - n + 1);
}

}  // namespace upcheck::daemon
