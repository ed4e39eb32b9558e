// Process titles as nginx shows them: "upcheckd: master process /usr/bin/upcheckd -c FILE"
// and "upcheckd: worker process" in ps and /proc/PID/cmdline.
//
// Main thread, before any other thread starts. InitProcessTitle() moves the environment
// out of the way so that the title may use the memory of argv and environ together, as
// nginx's ngx_init_setproctitle() does; SetProcessTitle() is a no-op without it.
#ifndef UPCHECK_WORKERS_PROCESS_TITLE_H_
#define UPCHECK_WORKERS_PROCESS_TITLE_H_

#include <string>
#include <string_view>

namespace upcheck::daemon {

// REQUIRES: main()'s own argc and argv, called once, before anything keeps a pointer into
// argv or environ.
void InitProcessTitle(int argc, char** argv);

// The command line as it was given, arguments joined with spaces ("" before Init).
const std::string& OriginalCommandLine();

// Overwrites the argv area with "upcheckd: " + `title`, cut to the room there is.
void SetProcessTitle(std::string_view title);

}  // namespace upcheck::daemon

#endif  // UPCHECK_WORKERS_PROCESS_TITLE_H_
