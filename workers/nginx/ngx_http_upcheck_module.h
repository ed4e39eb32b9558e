/*
 * ngx_http_upcheck_module: the upcheck engine inside nginx's own workers (DESIGN.md §8).
 *
 * The master validates every directive while parsing, wraps the checked upstreams' peer
 * init, and makes the segment at init_module (never during `nginx -t`); each worker runs one
 * checker per checked upstream on a libuv loop that nginx's event loop drives, and mirrors
 * its view into the upstream's round-robin peers. Three files: the configuration and the
 * master's part (this module's .c), the worker's part (_worker.c), the status pages
 * (_status.c).
 */
#ifndef NGX_HTTP_UPCHECK_MODULE_H_INCLUDED_
#define NGX_HTTP_UPCHECK_MODULE_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <upcheck.h>

/* Where a directive was written, for errors found after parsing. */
typedef struct {
    ngx_str_t                        file;
    ngx_uint_t                       line;
} ngx_http_upcheck_where_t;

typedef struct {
    ngx_str_t                        name;      /* upcheck_shm NAME, "" when not given */
    size_t                           size;
    ngx_array_t                      checks;    /* ngx_http_upcheck_srv_conf_t *, in order */
    ngx_array_t                      statuses;  /* ngx_http_upcheck_where_t, upcheck_status */
    const char                     **fleet;     /* upcheck_fleet's words; NULL: no fleet */
    ngx_uint_t                       nfleet;
    ngx_http_upcheck_where_t         fleet_where;
} ngx_http_upcheck_main_conf_t;

typedef struct {
    const char                     **words;     /* upcheck_check's words; NULL: not checked */
    ngx_uint_t                       nwords;
    ngx_http_upcheck_where_t         where;
    ngx_http_upstream_init_peer_pt   original_init;
    ngx_uint_t                       index;     /* in the worker's set; NGX_CONF_UNSET_UINT */
    ngx_uint_t                       passive;   /* passive_fall or skip_active_when_passing */
} ngx_http_upcheck_srv_conf_t;

typedef struct {
    ngx_int_t                        format;    /* UPCHECK_FORMAT_*, NGX_CONF_UNSET: none */
} ngx_http_upcheck_loc_conf_t;

/* An upstream as the engine sees it: nginx's name for it and its round-robin peers. */
typedef struct {
    char                            *name;      /* "foo.com", or "127.0.0.1:8080" (implicit) */
    ngx_http_upstream_srv_conf_t    *uscf;
    ngx_http_upstream_rr_peers_t    *peers;     /* primary; ->next: backup, may be NULL */
    upcheck_peer                    *list;      /* primary then backup, names NUL-terminated */
    ngx_uint_t                       npeers;
    ngx_http_upcheck_srv_conf_t     *check;     /* NULL: no upcheck_check */
} ngx_http_upcheck_upstream_t;

extern ngx_module_t  ngx_http_upcheck_module;

/* The segment of the running configuration; workers inherit it at fork. */
extern upcheck_shm  *ngx_http_upcheck_shm;
/* The worker's set, NULL outside workers or when checks are off. */
extern upcheck_set  *ngx_http_upcheck_set;

/* The upstreams the segment was made with (ngx_http_upcheck_upstream_t, in the registry's
 * order), collected by the master at init_module from the cycle's pool; workers inherit it
 * and add the same list to their set. */
extern ngx_array_t   ngx_http_upcheck_upstreams;

ngx_int_t ngx_http_upcheck_init_worker(ngx_cycle_t *cycle);
void ngx_http_upcheck_exit_worker(ngx_cycle_t *cycle);
ngx_int_t ngx_http_upcheck_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);

ngx_int_t ngx_http_upcheck_status_handler(ngx_http_request_t *r);

#endif /* NGX_HTTP_UPCHECK_MODULE_H_INCLUDED_ */
