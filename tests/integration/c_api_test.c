/* The C API (<upcheck.h>) end to end, in C: the parent creates the segment and serves three
 * loopback backends (200, 503, 200 as backup) on its libuv loop; two workers, this binary
 * run again with --worker, attach, check the upstream through the C API and pick. Both must
 * pick only the healthy primary, as in embedding_test.cc. Then the error paths. Exit code 0
 * on success; each failed check prints its line. */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "upcheck.h"

static int failures = 0;

#define CHECK(cond)                                                                      \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      fprintf(stderr, "%s:%d: failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
              upcheck_last_error());                                                     \
      ++failures;                                                                        \
    }                                                                                    \
  } while (0)

/* UPCHECK_SLOW stretches the timing allowances under valgrind (tests/support/slow_tool.h). */
static int slow_factor(void) {
  const char* env = getenv("UPCHECK_SLOW");
  int n = env != NULL ? atoi(env) : 0;
  return n > 0 ? n : 1;
}

/* --- a worker ------------------------------------------------------------------------ */

struct pick_ctx {
  upcheck_set* set;
  const char* expected;
  int result;
};

static void on_pick_timer(uv_timer_t* timer) {
  struct pick_ctx* ctx = timer->data;
  char name[64];
  for (int i = 0; i < 4; ++i) {
    int rc = upcheck_set_pick(ctx->set, "foo.com", name, sizeof(name));
    printf("worker %d picked %s\n", (int)getpid(), rc == UPCHECK_OK ? name : "nothing");
    if (rc != UPCHECK_OK || strcmp(name, ctx->expected) != 0) ctx->result = 20;
  }
  if (upcheck_set_pick(ctx->set, "foo.com", name, 4) != UPCHECK_ERANGE) ctx->result = 21;
  if (upcheck_set_pick(ctx->set, "bar.com", name, sizeof(name)) != UPCHECK_ENOPEER) {
    ctx->result = 22;
  }
  uv_stop(timer->loop);
}

static int run_worker(const char* shm_name, const char* good, const char* bad, const char* backup) {
  upcheck_shm* shm = NULL;
  if (upcheck_shm_attach(shm_name, &shm) != UPCHECK_OK) return 10;
  uv_loop_t loop;
  uv_loop_init(&loop);
  upcheck_set* set = NULL;
  if (upcheck_set_create(&loop, shm, &set) != UPCHECK_OK) return 11;
  upcheck_shm_free(shm); /* the set keeps the mapping */

  upcheck_peer peers[] = {{good, 0, 0}, {bad, 0, 0}, {backup, 1, 0}};
  char interval[32];
  snprintf(interval, sizeof(interval), "interval=%d", 50 * slow_factor());
  const char* words[] = {"type=http", "http_req=GET /status HTTP/1.0\r\nHost: foo.com\r\n\r\n",
                         interval, "fall=1", "valid_statuses=200"};
  if (upcheck_set_add_upstream(set, "foo.com", peers, 3, words, 5) != UPCHECK_OK) {
    fprintf(stderr, "add_upstream: %s\n", upcheck_last_error());
    return 12;
  }

  struct pick_ctx ctx = {set, good, 0};
  uv_timer_t timer;
  uv_timer_init(&loop, &timer);
  timer.data = &ctx;
  uv_timer_start(&timer, on_pick_timer, 500 * (uint64_t)slow_factor(), 0);
  uv_run(&loop, UV_RUN_DEFAULT);

  upcheck_set_free(set);
  uv_close((uv_handle_t*)&timer, NULL);
  while (uv_run(&loop, UV_RUN_DEFAULT) != 0) {
  }
  return uv_loop_close(&loop) == 0 ? ctx.result : 3;
}

/* --- the parent's loopback backends ----------------------------------------------------- */

struct backend {
  uv_tcp_t server;
  const char* response;
  char address[64];
};

struct conn {
  uv_tcp_t tcp;
  uv_write_t write;
  struct backend* backend;
  int replied;
};

static void free_conn(uv_handle_t* handle) { free(handle->data); }

static void close_conn(struct conn* c) {
  if (!uv_is_closing((uv_handle_t*)&c->tcp)) uv_close((uv_handle_t*)&c->tcp, free_conn);
}

static void on_written(uv_write_t* req, int status) {
  (void)status;
  close_conn(req->data);
}

static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) {
  static char storage[4096];
  (void)handle;
  (void)suggested;
  *buf = uv_buf_init(storage, sizeof(storage));
}

/* Answers once the request's first bytes arrive; the probe reads only the status line. */
static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  struct conn* c = stream->data;
  (void)buf;
  if (nread < 0) {
    close_conn(c);
  } else if (nread > 0 && !c->replied) {
    c->replied = 1;
    uv_buf_t out = uv_buf_init((char*)c->backend->response, strlen(c->backend->response));
    c->write.data = c;
    uv_read_stop(stream);
    if (uv_write(&c->write, stream, &out, 1, on_written) != 0) close_conn(c);
  }
}

static void on_connection(uv_stream_t* server, int status) {
  if (status != 0) return;
  struct conn* c = calloc(1, sizeof(*c));
  c->backend = server->data;
  uv_tcp_init(server->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(server, (uv_stream_t*)&c->tcp) != 0 ||
      uv_read_start((uv_stream_t*)&c->tcp, on_alloc, on_read) != 0) {
    close_conn(c);
  }
}

static int start_backend(uv_loop_t* loop, struct backend* b, const char* response) {
  struct sockaddr_in addr;
  struct sockaddr_storage bound;
  int len = sizeof(bound);
  b->response = response;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_init(loop, &b->server);
  b->server.data = b;
  if (uv_tcp_bind(&b->server, (const struct sockaddr*)&addr, 0) != 0 ||
      uv_listen((uv_stream_t*)&b->server, 64, on_connection) != 0 ||
      uv_tcp_getsockname(&b->server, (struct sockaddr*)&bound, &len) != 0) {
    return -1;
  }
  snprintf(b->address, sizeof(b->address), "127.0.0.1:%d",
           ntohs(((struct sockaddr_in*)&bound)->sin_port));
  return 0;
}

/* --- the parent ----------------------------------------------------------------------- */

struct children {
  uv_process_t process[2];
  int running;
  int failed;
  struct backend* backends;
};

static void on_child_exit(uv_process_t* process, int64_t status, int signal) {
  struct children* ch = process->data;
  if (status != 0 || signal != 0) {
    fprintf(stderr, "worker exited with %d (signal %d)\n", (int)status, signal);
    ch->failed = 1;
  }
  uv_close((uv_handle_t*)process, NULL);
  if (--ch->running == 0) {
    for (int i = 0; i < 3; ++i) uv_close((uv_handle_t*)&ch->backends[i].server, NULL);
  }
}

static void check_error_paths(uv_loop_t* loop, upcheck_shm* shm) {
  upcheck_shm* missing = NULL;
  CHECK(upcheck_shm_attach("c-api-no-such-segment", &missing) == UPCHECK_ESHM);
  CHECK(strstr(upcheck_last_error(), "not found") != NULL);
  CHECK(upcheck_shm_create("bad name", 1 << 20, 0, &missing) == UPCHECK_ESHM);

  upcheck_set* set = NULL;
  CHECK(upcheck_set_create(loop, shm, &set) == UPCHECK_OK);
  upcheck_peer peer = {"127.0.0.1:1", 0, 0};
  const char* typo[] = {"tpye=http"};
  CHECK(upcheck_set_add_upstream(set, "a", &peer, 1, typo, 1) == UPCHECK_ECONFIG);
  CHECK(strcmp(upcheck_last_error(), "unknown option \"tpye\"") == 0);
  const char* none[] = {NULL};
  CHECK(upcheck_set_add_upstream(set, "b", &peer, 1, none, 0) == UPCHECK_ECONFIG);
  CHECK(strstr(upcheck_last_error(), "\"type\" option required") != NULL);
  upcheck_peer bad_peer = {"localhost:80", 0, 0};
  CHECK(upcheck_set_add_upstream(set, "c", &bad_peer, 1, NULL, 0) == UPCHECK_ECONFIG);
  /* No check words: picked, never checked. */
  CHECK(upcheck_set_add_upstream(set, "d", &peer, 1, NULL, 0) == UPCHECK_OK);
  char name[64];
  CHECK(upcheck_set_pick(set, "d", name, sizeof(name)) == UPCHECK_OK);
  CHECK(strcmp(name, "127.0.0.1:1") == 0);
  CHECK(upcheck_set_pick(NULL, "d", name, sizeof(name)) == UPCHECK_EINVAL);
  upcheck_set_free(set);

  /* The fleet's words: checked alone, and refused by the set that would use them. */
  const char* fleet_ok[] = {"redis=127.0.0.1:1", "host_id=lb-1"};
  CHECK(upcheck_validate_fleet(fleet_ok, 2) == UPCHECK_OK);
  const char* fleet_bad[] = {"redis=127.0.0.1:1", "timeout=0"};
  CHECK(upcheck_validate_fleet(fleet_bad, 2) == UPCHECK_ECONFIG);
  CHECK(strcmp(upcheck_last_error(), "timeout must be 1..60000 ms, got \"0\"") == 0);
  upcheck_set_options options;
  memset(&options, 0, sizeof(options));
  options.fleet_words = fleet_bad;
  options.fleet_nwords = 2;
  set = NULL;
  CHECK(upcheck_set_create_with(loop, shm, &options, &set) == UPCHECK_ECONFIG);
  CHECK(strcmp(upcheck_last_error(), "fleet: timeout must be 1..60000 ms, got \"0\"") == 0);
  CHECK(set == NULL);
}

int main(int argc, char** argv) {
  if (argc == 6 && strcmp(argv[1], "--worker") == 0) {
    return run_worker(argv[2], argv[3], argv[4], argv[5]);
  }
  char shm_name[64];
  snprintf(shm_name, sizeof(shm_name), "c-api-%d", (int)getpid());
  upcheck_shm* shm = NULL;
  if (upcheck_shm_create(shm_name, 1 << 20, 0, &shm) != UPCHECK_OK) {
    fprintf(stderr, "shm_create: %s\n", upcheck_last_error());
    return 1;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  check_error_paths(&loop, shm);

  struct backend backends[3];
  CHECK(start_backend(&loop, &backends[0], "HTTP/1.0 200 OK\r\n\r\n") == 0);
  CHECK(start_backend(&loop, &backends[1], "HTTP/1.0 503 Unavailable\r\n\r\n") == 0);
  CHECK(start_backend(&loop, &backends[2], "HTTP/1.0 200 OK\r\n\r\n") == 0);
  char exe[4096];
  size_t exe_size = sizeof(exe);
  CHECK(uv_exepath(exe, &exe_size) == 0);
  char* args[] = {
      exe, "--worker", shm_name, backends[0].address, backends[1].address, backends[2].address,
      NULL};
  uv_stdio_container_t stdio[3] = {
      {UV_INHERIT_FD, {.fd = 0}}, {UV_INHERIT_FD, {.fd = 1}}, {UV_INHERIT_FD, {.fd = 2}}};
  struct children ch = {.running = 0, .failed = 0, .backends = backends};
  uv_process_options_t options = {
      .exit_cb = on_child_exit, .file = exe, .args = args, .stdio_count = 3, .stdio = stdio};
  for (int i = 0; i < 2; ++i) {
    ch.process[i].data = &ch;
    int rc = uv_spawn(&loop, &ch.process[i], &options);
    CHECK(rc == 0);
    if (rc == 0) ++ch.running;
  }
  if (ch.running == 0) {
    for (int i = 0; i < 3; ++i) uv_close((uv_handle_t*)&backends[i].server, NULL);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(ch.running == 0 && !ch.failed);
  CHECK(uv_loop_close(&loop) == 0);
  CHECK(upcheck_shm_remove(shm) == UPCHECK_OK);
  upcheck_shm_free(shm);
  return failures == 0 ? 0 : 1;
}
