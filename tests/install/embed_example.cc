// A preforked server embedding upcheck (README): the parent creates the segment, then forks
// workers that attach, check the upstream on their own libuv loop and pick. Args: SHM PEER...
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <upcheck/upcheck.h>
#include <cstdio>

int Fail(const std::string& why, int code) {
  std::fprintf(stderr, "%s\n", why.c_str());
  return code;
}

void PickAndStop(uv_timer_t* timer) {
  auto peer = static_cast<upcheck::CheckerSet*>(timer->data)->Pick("app");
  std::printf("worker %d picked %s\n", getpid(), peer ? peer->name.c_str() : "nothing");
  std::fflush(stdout);  // the worker ends in _exit()
  uv_stop(timer->loop);
}

int Worker(const char* shm_name, std::vector<upcheck::PeerConfig> peers) {
  auto shm = upcheck::HealthShm::Attach(shm_name);  // or keep the one inherited from fork
  if (!shm.ok()) return Fail(shm.error(), 1);
  uv_loop_t loop;  // each worker creates its own loop after fork()
  uv_loop_init(&loop);
  auto set = upcheck::CheckerSet::Create(&loop, *shm);
  if (!set.ok()) return Fail(set.error(), 2);
  upcheck::CheckOptions check;  // or (*set)->AddUpstreams(config), config from upcheck.toml
  check.type = "http";
  check.http_req = "GET / HTTP/1.0\r\nHost: app\r\n\r\n";
  check.interval_ms = 100;
  upcheck::Status added = (*set)->AddUpstream("app", std::move(peers), {}, check);
  if (!added.ok()) return Fail(added.message(), 3);
  uv_timer_t timer;
  uv_timer_init(&loop, &timer);
  timer.data = set->get();
  uv_timer_start(&timer, PickAndStop, 500, 0);  // the server's own work would run here
  uv_run(&loop, UV_RUN_DEFAULT);
  set->reset();  // stops the checkers, closes their handles, then lets the segment go
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  while (uv_run(&loop, UV_RUN_DEFAULT) != 0) {
  }
  return uv_loop_close(&loop);
}

int main(int argc, char** argv) {
  if (argc < 3) return Fail("usage: embed_example SHM PEER...", 64);
  auto shm = upcheck::HealthShm::Create({.name = argv[1], .size = 1 << 20});  // before fork
  if (!shm.ok()) return Fail(shm.error(), 1);
  std::vector<upcheck::PeerConfig> peers;
  for (int i = 2; i < argc; ++i) peers.push_back({argv[i]});
  for (int i = 0; i < 2; ++i)
    if (fork() == 0) _exit(Worker(argv[1], peers));
  int failed = 0;
  for (int status; wait(&status) > 0;) failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  (void)shm->Remove();
  return failed;
}
