/* upcheck.h: the engine's C API, for servers written in C (an nginx module, DESIGN.md §8).
 *
 * The C++ API (upcheck/health_shm.h, upcheck/checker_set.h) behind opaque handles: the
 * parent creates the segment before it forks; each worker attaches, makes a checker set on
 * its own libuv loop, adds upstreams and picks. Functions return UPCHECK_OK or a negative
 * upcheck_error; upcheck_last_error() then says why. A set is used from its loop's thread
 * only. Plain C99, no libuv header needed: the loop is passed as struct uv_loop_s *. */
#ifndef UPCHECK_C_API_H_
#define UPCHECK_C_API_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_EMBED)
#error "upcheck.h belongs to embed/, a layer above (see lib/meson.build)"
#endif

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uv_loop_s;

typedef struct upcheck_shm upcheck_shm; /* a mapping of the segment */
typedef struct upcheck_set upcheck_set; /* one process's checkers and peer view */

enum upcheck_error {
  UPCHECK_OK = 0,
  UPCHECK_EINVAL = -1,  /* a NULL handle or argument */
  UPCHECK_ESHM = -2,    /* the segment could not be created, opened or removed */
  UPCHECK_ECONFIG = -3, /* an upstream, peer or check option was refused */
  UPCHECK_ENOPEER = -4, /* pick: unknown upstream, or every peer is down */
  UPCHECK_ERANGE = -5,  /* pick: the peer's name does not fit the buffer */
  UPCHECK_ENOMEM = -6   /* out of memory, or another failure inside the library */
};

/* The message of this thread's last failed call ("" if none); valid until its next call. */
const char* upcheck_last_error(void);

/* Parent, before fork: creates and publishes upcheck.<name> with a dict of dict_size bytes
 * (lua_shared_dict's size; at least 8k). replace != 0 removes a leftover of that name. */
int upcheck_shm_create(const char* name, size_t dict_size, int replace, upcheck_shm** out);
/* An upstream as a host declares it to upcheck_shm_create_host(). */
typedef struct upcheck_upstream {
  const char* name;
  const struct upcheck_peer* peers; /* primary and backup ones, in any order */
  size_t npeers;
  const char* const* check_words; /* upcheck_check's words; NULL: no checker */
  size_t nwords;
} upcheck_upstream;

/* Parent, before fork: the same with a registry (the upstreams, their peers and checks, and
 * a worker table of max_workers rows), as upcheckd makes it, so that upcheck-status and
 * upcheck-shmctl see the host's upstreams and workers, and so that sets made from it record
 * every check there. With carry_from (a reload that keeps the dict), the live entries of
 * that segment's dict are copied in as they are. replace as above. */
int upcheck_shm_create_host(const char* name, size_t dict_size, int replace,
                            const upcheck_upstream* upstreams, size_t nupstreams,
                            unsigned max_workers, const upcheck_shm* carry_from, upcheck_shm** out);
/* Configuration time, creating nothing: whether a segment of this name and dict size could
 * be made, and whether check words would spawn a checker (spawn_checker's strings, such as
 * "\"type\" option required"). UPCHECK_ECONFIG and upcheck_last_error() when not. */
int upcheck_validate_shm(const char* name, size_t dict_size);
int upcheck_validate_check(const char* const* check_words, size_t nwords);
/* The same for the fleet tier's words (upcheck_set_options.fleet_words): redis= is required,
 * host_id defaults to the host name; errors such as "bad redis address \"x\": ..." or
 * "timeout must be 1..60000 ms, got \"0\"". */
int upcheck_validate_fleet(const char* const* fleet_words, size_t nwords);
/* A worker: opens the published segment by name. */
int upcheck_shm_attach(const char* name, upcheck_shm** out);
/* Removes the name (the parent, on exit); mappings stay valid. */
int upcheck_shm_remove(const upcheck_shm* shm);
/* The same, only if the name still names this segment and not a newer one of that name. */
int upcheck_shm_remove_if_current(const upcheck_shm* shm);
/* Drops this handle. Sets made from it keep their own reference to the mapping. */
void upcheck_shm_free(upcheck_shm* shm);

/* A set with no upstreams on loop (which must outlive it), logging to stderr at warn. */
int upcheck_set_create(struct uv_loop_s* loop, const upcheck_shm* shm, upcheck_set** out);

enum upcheck_log_level {
  UPCHECK_LOG_DEBUG = 0,
  UPCHECK_LOG_INFO = 1,
  UPCHECK_LOG_NOTICE = 2,
  UPCHECK_LOG_WARN = 3,
  UPCHECK_LOG_ERROR = 4
};

/* What a host gives a set besides its loop and segment; zeroed fields take the defaults. */
typedef struct upcheck_set_options {
  /* The checkers' log lines ("healthcheck: ..."), without newline; NULL: stderr. */
  void (*log)(void* ctx, int level, const char* message, size_t len);
  void* log_ctx;
  int log_level; /* the lowest level passed to log; debug also turns the debug events on */
  /* Called when whether a peer may be picked changes, by its checker or by a sync (of the
   * checks or of an admin state set with upcheck-shmctl peer): upstream is the index in
   * add order, backup says which list, id the position in it; down: not to be picked. */
  void (*on_peer_change)(void* ctx, size_t upstream, int backup, size_t id, int down);
  void* peer_ctx;
  /* The fleet tier (DESIGN.md §11): upcheck_fleet's words, "key=value" each
   * ("redis=127.0.0.1:6379", "host_id=lb-1", "prefix=upcheck:", "timeout=200",
   * "password=..."), as upcheck_validate_fleet() takes them; NULL: no fleet. The process
   * must ignore SIGPIPE. */
  const char* const* fleet_words;
  size_t fleet_nwords;
} upcheck_set_options;

/* A set as upcheck_set_create() makes it, with the host's log, peer hook and fleet.
 * UPCHECK_ECONFIG: the fleet words were refused. */
int upcheck_set_create_with(struct uv_loop_s* loop, const upcheck_shm* shm,
                            const upcheck_set_options* options, upcheck_set** out);

/* A peer as nginx's `server` writes it: "ipv4:port", "[ipv6]:port" or "unix:/path". */
typedef struct upcheck_peer {
  const char* address;
  int backup; /* a backup peer */
  int down;   /* starts down */
} upcheck_peer;

/* Adds an upstream to the view and, unless check_words is NULL, spawns its checker.
 * check_words are `upcheck_check`'s words, "key=value" each ("type=http", "interval=2000",
 * "valid_statuses=200,302", "http_req=GET / HTTP/1.0\r\n\r\n" with real CR LF), with
 * spawn_checker's names, defaults and error strings; shm and upstream come from the set. */
int upcheck_set_add_upstream(upcheck_set* set, const char* upstream, const upcheck_peer* peers,
                             size_t npeers, const char* const* check_words, size_t nwords);
/* Applies what other workers published to this view. */
void upcheck_set_sync(upcheck_set* set);
/* Syncs, then writes the picked peer's name, NUL-terminated, into buf of size bytes. */
int upcheck_set_pick(upcheck_set* set, const char* upstream, char* buf, size_t size);
/* Syncs the upstream added index-th (0-based): one atomic load when nothing changed. */
void upcheck_set_sync_upstream(upcheck_set* set, size_t index);

/* Passive checks (check words passive_fall=N, skip_active_when_passing=true): what one of
 * the host's own connections to peer `id` (0-based in its list) of `upstream` met. */
enum upcheck_passive {
  UPCHECK_PASSIVE_OK = 0,      /* the peer answered */
  UPCHECK_PASSIVE_CONNECT = 1, /* connect refused or failed */
  UPCHECK_PASSIVE_TIMEOUT = 2, /* connect timed out */
  UPCHECK_PASSIVE_RESET = 3    /* the peer reset the connection */
};
/* Counts it; the passive_fall-th failure in a row turns the peer down in every worker.
 * Unknown upstreams, peers and results are ignored. */
void upcheck_set_report_passive(upcheck_set* set, const char* upstream, int backup, unsigned id,
                                int result);

enum upcheck_format {
  UPCHECK_FORMAT_TEXT = 0,       /* the original's status_page(), byte for byte */
  UPCHECK_FORMAT_PROMETHEUS = 1, /* prometheus_status_page() + the upcheck_* families */
  UPCHECK_FORMAT_JSON = 2        /* DESIGN.md's /status.json */
};
/* Renders a status page from this set's view into a malloc'd buffer of *len bytes and a
 * NUL (*out): free it with free(). */
int upcheck_set_render(upcheck_set* set, int format, char** out, size_t* len);

/* No more cycles; picks keep working on the last states. */
void upcheck_set_stop(upcheck_set* set);
/* Stops the checkers and hands their handles to the loop: run the loop until it is empty
 * before uv_loop_close(). */
void upcheck_set_free(upcheck_set* set);

#ifdef __cplusplus
}
#endif

#endif /* UPCHECK_C_API_H_ */
