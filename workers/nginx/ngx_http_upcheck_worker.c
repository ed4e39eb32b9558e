/*
 * The worker's part: a libuv loop driven by nginx's event loop, one checker per checked
 * upstream, and the view mirrored into nginx's round-robin peers.
 *
 * nginx watches uv_backend_fd() and keeps one timer at uv_backend_timeout(); both run the
 * loop without blocking and re-arm. No threads, no libuv signal or process handles (they
 * would replace nginx's signal handlers).
 */
#include "ngx_http_upcheck_module.h"

#include <uv.h>


/* One upstream of the set, by its index: where its peers are in nginx. */
typedef struct {
    ngx_http_upstream_rr_peers_t  *lists[2];   /* primary, backup */
    ngx_http_upstream_rr_peer_t  **peers[2];   /* by id */
    ngx_uint_t                     count[2];
} ngx_http_upcheck_view_t;


upcheck_set  *ngx_http_upcheck_set;

static uv_loop_t                 ngx_http_upcheck_loop;
static ngx_uint_t                ngx_http_upcheck_loop_open;
static ngx_connection_t         *ngx_http_upcheck_conn;
static ngx_event_t               ngx_http_upcheck_timer;
static ngx_http_upcheck_view_t  *ngx_http_upcheck_views;
static ngx_uint_t                ngx_http_upcheck_nviews;


static void
ngx_http_upcheck_log(void *ctx, int level, const char *message, size_t len)
{
    static const ngx_uint_t  levels[] = {
        NGX_LOG_DEBUG, NGX_LOG_INFO, NGX_LOG_NOTICE, NGX_LOG_WARN, NGX_LOG_ERR
    };

    if (level < 0 || level > UPCHECK_LOG_ERROR) {
        level = UPCHECK_LOG_ERROR;
    }

    ngx_log_error(levels[level], ngx_cycle->log, 0, "%*s", len, message);
}


/* The lowest engine level nginx's error log shows; any debug_* mask counts as debug. */
static int
ngx_http_upcheck_log_level(ngx_log_t *log)
{
    if (log->log_level >= NGX_LOG_DEBUG) {
        return UPCHECK_LOG_DEBUG;
    }

    switch (log->log_level) {
    case NGX_LOG_INFO:
        return UPCHECK_LOG_INFO;
    case NGX_LOG_NOTICE:
        return UPCHECK_LOG_NOTICE;
    case NGX_LOG_WARN:
        return UPCHECK_LOG_WARN;
    default:
        return UPCHECK_LOG_ERROR;
    }
}


/*
 * lua-upstream-nginx-module's set_peer_down(), under the peers' lock. `down` is the checks'
 * verdict overridden by the peer's admin state (upcheck-shmctl peer): drain and down too.
 */
static void
ngx_http_upcheck_on_peer_change(void *ctx, size_t upstream, int backup, size_t id,
    int down)
{
    ngx_http_upcheck_view_t       *view;
    ngx_http_upstream_rr_peers_t  *list;

    if (upstream >= ngx_http_upcheck_nviews) {
        return;
    }

    view = &ngx_http_upcheck_views[upstream];
    backup = backup ? 1 : 0;
    list = view->lists[backup];

    if (list == NULL || id >= view->count[backup]) {
        return;
    }

    ngx_http_upstream_rr_peers_wlock(list);
    view->peers[backup][id]->down = down ? 1 : 0;
    ngx_http_upstream_rr_peers_unlock(list);
}


static ngx_int_t
ngx_http_upcheck_make_view(ngx_cycle_t *cycle, ngx_http_upcheck_upstream_t *u,
    ngx_http_upcheck_view_t *view)
{
    ngx_uint_t                    k, n;
    ngx_http_upstream_rr_peer_t  *peer;

    view->lists[0] = u->peers;
    view->lists[1] = u->peers->next;

    for (k = 0; k < 2; k++) {
        if (view->lists[k] == NULL) {
            continue;
        }

        view->count[k] = view->lists[k]->number;
        view->peers[k] = ngx_pcalloc(cycle->pool,
                                     view->count[k] * sizeof(ngx_http_upstream_rr_peer_t *));
        if (view->peers[k] == NULL) {
            return NGX_ERROR;
        }

        n = 0;
        for (peer = view->lists[k]->peer; peer && n < view->count[k]; peer = peer->next) {
            view->peers[k][n++] = peer;
        }

        view->count[k] = n;
    }

    return NGX_OK;
}


static void
ngx_http_upcheck_stop(void)
{
    if (ngx_http_upcheck_set != NULL) {
        upcheck_set_stop(ngx_http_upcheck_set);
    }
}


/* Runs what is due on the loop, then re-arms nginx's watch of it. */
static void
ngx_http_upcheck_run(void)
{
    int  timeout;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        ngx_http_upcheck_stop();  /* an old worker finishes requests, not cycles */
    }

    (void) uv_run(&ngx_http_upcheck_loop, UV_RUN_NOWAIT);

    /* nginx keeps an existing timer due within 300 ms: delete it to move it earlier. */
    if (ngx_http_upcheck_timer.timer_set) {
        ngx_del_timer(&ngx_http_upcheck_timer);
    }

    if (!uv_loop_alive(&ngx_http_upcheck_loop)) {
        return;
    }

    timeout = uv_backend_timeout(&ngx_http_upcheck_loop);
    if (timeout < 0) {
        return;  /* nothing timed: the descriptor alone wakes us */
    }

    /* 0 means "run again now": a 0 ms timer re-added from its own handler would spin,
     * since nginx's clock does not move inside one pass. */
    ngx_add_timer(&ngx_http_upcheck_timer, timeout < 1 ? 1 : (ngx_msec_t) timeout);
}


static void
ngx_http_upcheck_on_timer(ngx_event_t *ev)
{
    ngx_http_upcheck_run();
}


static void
ngx_http_upcheck_on_read(ngx_event_t *rev)
{
    ngx_connection_t  *c = rev->data;

    if (c->close) {
        /* worker_shutdown_timeout: nginx asks every connection to close. */
        ngx_http_upcheck_stop();
        return;
    }

    ngx_http_upcheck_run();
}


static ngx_int_t
ngx_http_upcheck_watch_loop(ngx_cycle_t *cycle)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(uv_backend_fd(&ngx_http_upcheck_loop), cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = c;
    c->read->data = c;
    c->read->handler = ngx_http_upcheck_on_read;
    c->read->log = cycle->log;

    if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        c->fd = (ngx_socket_t) -1;
        ngx_free_connection(c);
        return NGX_ERROR;
    }

    ngx_http_upcheck_conn = c;

    ngx_http_upcheck_timer.handler = ngx_http_upcheck_on_timer;
    ngx_http_upcheck_timer.log = cycle->log;
    ngx_http_upcheck_timer.data = c;
    /* Cancelable: a worker shutting down does not wait for the next cycle. */
    ngx_http_upcheck_timer.cancelable = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upcheck_add_upstreams(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    ngx_array_t                  *ups;
    ngx_http_upcheck_upstream_t  *u;

    ups = &ngx_http_upcheck_upstreams;

    ngx_http_upcheck_views = ngx_pcalloc(cycle->pool,
                                         (ups->nelts + 1) * sizeof(ngx_http_upcheck_view_t));
    if (ngx_http_upcheck_views == NULL) {
        return NGX_ERROR;
    }

    u = ups->elts;

    /* Views first: a checker may flip a peer as soon as it is added. */
    for (i = 0; i < ups->nelts; i++) {
        if (ngx_http_upcheck_make_view(cycle, &u[i], &ngx_http_upcheck_views[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    ngx_http_upcheck_nviews = ups->nelts;

    for (i = 0; i < ups->nelts; i++) {
        if (upcheck_set_add_upstream(ngx_http_upcheck_set, u[i].name, u[i].list,
                                     u[i].npeers,
                                     u[i].check ? u[i].check->words : NULL,
                                     u[i].check ? u[i].check->nwords : 0)
            != UPCHECK_OK)
        {
            /* The error names the upstream. */
            ngx_log_error(NGX_LOG_ERR, cycle->log, 0, "upcheck: %s", upcheck_last_error());
            continue;
        }

        if (u[i].check != NULL) {
            u[i].check->index = i;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_upcheck_init_worker(ngx_cycle_t *cycle)
{
    upcheck_set_options            options;
    ngx_http_upcheck_main_conf_t  *mcf;

    if (uv_loop_init(&ngx_http_upcheck_loop) != 0) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0, "upcheck: uv_loop_init() failed");
        return NGX_OK;  /* this worker serves without checks rather than not at all */
    }

    ngx_http_upcheck_loop_open = 1;

    ngx_memzero(&options, sizeof(upcheck_set_options));
    options.log = ngx_http_upcheck_log;
    options.log_level = ngx_http_upcheck_log_level(cycle->log);
    options.on_peer_change = ngx_http_upcheck_on_peer_change;

    /* nginx's master ignores SIGPIPE and its workers inherit that, as the fleet's Redis
     * connection needs. */
    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_upcheck_module);
    if (mcf != NULL && mcf->fleet != NULL) {
        options.fleet_words = mcf->fleet;
        options.fleet_nwords = mcf->nfleet;
    }

    if (upcheck_set_create_with(&ngx_http_upcheck_loop, ngx_http_upcheck_shm, &options,
                                &ngx_http_upcheck_set)
        != UPCHECK_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0, "upcheck: %s", upcheck_last_error());
        ngx_http_upcheck_set = NULL;
        return NGX_OK;
    }

    if (ngx_http_upcheck_add_upstreams(cycle) != NGX_OK
        || ngx_http_upcheck_watch_loop(cycle) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "upcheck: cannot start the checkers in this worker");
        upcheck_set_stop(ngx_http_upcheck_set);
        return NGX_OK;
    }

    ngx_http_upcheck_run();

    return NGX_OK;
}


void
ngx_http_upcheck_exit_worker(ngx_cycle_t *cycle)
{
    ngx_uint_t  spins;

    if (ngx_http_upcheck_conn != NULL) {
        /* The descriptor is libuv's: closed with the loop, not by nginx. */
        ngx_http_upcheck_conn->fd = (ngx_socket_t) -1;
        ngx_free_connection(ngx_http_upcheck_conn);
        ngx_http_upcheck_conn = NULL;
    }

    if (ngx_http_upcheck_set != NULL) {
        upcheck_set_free(ngx_http_upcheck_set);
        ngx_http_upcheck_set = NULL;
    }

    if (!ngx_http_upcheck_loop_open) {
        return;
    }

    /* The checkers' handles close on the loop; a bounded number of passes is plenty. */
    for (spins = 0; spins < 1000; spins++) {
        if (uv_run(&ngx_http_upcheck_loop, UV_RUN_NOWAIT) == 0) {
            break;
        }
    }

    (void) uv_loop_close(&ngx_http_upcheck_loop);
    ngx_http_upcheck_loop_open = 0;
}


/*
 * Passive checks: a request's peer callbacks wrapped, as ngx_http_upstream_keepalive_module
 * wraps them, so that the free callback sees how each of nginx's own connections ended
 * (NGX_PEER_FAILED: an error or timeout proxy_next_upstream counts) and reports it.
 */
typedef struct {
    void                              *data;   /* the wrapped balancer's */
    ngx_uint_t                         index;  /* the upstream's, in the set */
    ngx_event_get_peer_pt              original_get;
    ngx_event_free_peer_pt             original_free;
#if (NGX_HTTP_SSL)
    ngx_event_set_peer_session_pt      original_set_session;
    ngx_event_save_peer_session_pt     original_save_session;
#endif
} ngx_http_upcheck_peer_data_t;


static ngx_int_t
ngx_http_upcheck_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_upcheck_peer_data_t  *pd = data;

    return pd->original_get(pc, pd->data);
}


/* The peer nginx connected to, found by its address in the upstream's lists. */
static void
ngx_http_upcheck_report(ngx_http_upcheck_peer_data_t *pd, ngx_peer_connection_t *pc,
    ngx_uint_t state)
{
    ngx_uint_t                    k, id;
    ngx_http_upcheck_view_t      *view;
    ngx_http_upcheck_upstream_t  *u;

    if (ngx_http_upcheck_set == NULL || pd->index >= ngx_http_upcheck_nviews
        || pc->sockaddr == NULL || (state & NGX_PEER_NEXT))
    {
        return;
    }

    view = &ngx_http_upcheck_views[pd->index];
    u = ngx_http_upcheck_upstreams.elts;

    for (k = 0; k < 2; k++) {
        for (id = 0; id < view->count[k]; id++) {
            if (ngx_cmp_sockaddr(pc->sockaddr, pc->socklen, view->peers[k][id]->sockaddr,
                                 view->peers[k][id]->socklen, 1)
                == NGX_OK)
            {
                upcheck_set_report_passive(ngx_http_upcheck_set, u[pd->index].name, (int) k,
                                           (unsigned) id,
                                           (state & NGX_PEER_FAILED) ? UPCHECK_PASSIVE_CONNECT
                                                                     : UPCHECK_PASSIVE_OK);
                return;
            }
        }
    }
}


static void
ngx_http_upcheck_free_peer(ngx_peer_connection_t *pc, void *data, ngx_uint_t state)
{
    ngx_http_upcheck_peer_data_t  *pd = data;

    ngx_http_upcheck_report(pd, pc, state);
    pd->original_free(pc, pd->data, state);
}


#if (NGX_HTTP_SSL)

static ngx_int_t
ngx_http_upcheck_set_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_upcheck_peer_data_t  *pd = data;

    return pd->original_set_session(pc, pd->data);
}


static void
ngx_http_upcheck_save_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_upcheck_peer_data_t  *pd = data;

    pd->original_save_session(pc, pd->data);
}

#endif


static ngx_int_t
ngx_http_upcheck_wrap_peer(ngx_http_request_t *r, ngx_uint_t index)
{
    ngx_peer_connection_t         *peer = &r->upstream->peer;
    ngx_http_upcheck_peer_data_t  *pd;

    pd = ngx_palloc(r->pool, sizeof(ngx_http_upcheck_peer_data_t));
    if (pd == NULL) {
        return NGX_ERROR;
    }

    pd->data = peer->data;
    pd->index = index;
    pd->original_get = peer->get;
    pd->original_free = peer->free;
    peer->data = pd;
    peer->get = ngx_http_upcheck_get_peer;
    peer->free = ngx_http_upcheck_free_peer;

#if (NGX_HTTP_SSL)
    pd->original_set_session = peer->set_session;
    pd->original_save_session = peer->save_session;
    peer->set_session = ngx_http_upcheck_set_session;
    peer->save_session = ngx_http_upcheck_save_session;
#endif

    return NGX_OK;
}


ngx_int_t
ngx_http_upcheck_init_peer(ngx_http_request_t *r, ngx_http_upstream_srv_conf_t *us)
{
    ngx_int_t                     rc;
    ngx_http_upcheck_srv_conf_t  *ucf;

    ucf = ngx_http_conf_upstream_srv_conf(us, ngx_http_upcheck_module);

    /* What another worker published reaches nginx's peers before this pick. */
    if (ngx_http_upcheck_set != NULL && ucf->index != NGX_CONF_UNSET_UINT) {
        upcheck_set_sync_upstream(ngx_http_upcheck_set, ucf->index);
    }

    rc = ucf->original_init(r, us);
    if (rc != NGX_OK || ngx_http_upcheck_set == NULL || ucf->index == NGX_CONF_UNSET_UINT
        || !ucf->passive)
    {
        return rc;
    }

    return ngx_http_upcheck_wrap_peer(r, ucf->index);
}
