/*
 * ngx_http_upcheck_module: directives, validation, and the master's segment.
 *
 * Everything that can be wrong in the configuration fails while parsing or at
 * postconfiguration, where a failure keeps a running nginx on its old configuration:
 * init_module must not fail on a reload (the master would exit and leave its workers).
 */
#include "ngx_http_upcheck_module.h"


static void *ngx_http_upcheck_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_upcheck_create_srv_conf(ngx_conf_t *cf);
static void *ngx_http_upcheck_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_upcheck_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_upcheck_shm_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_upcheck_check_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_upcheck_status_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_upcheck_fleet_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_upcheck_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_upcheck_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_upcheck_init_process(ngx_cycle_t *cycle);
static void ngx_http_upcheck_exit_process(ngx_cycle_t *cycle);
static void ngx_http_upcheck_exit_master(ngx_cycle_t *cycle);


upcheck_shm  *ngx_http_upcheck_shm;
ngx_array_t   ngx_http_upcheck_upstreams;
/* What ngx_http_upcheck_shm was made from, to tell a reload that keeps it. */
static ngx_str_t  ngx_http_upcheck_shm_name;
static size_t     ngx_http_upcheck_shm_size;


static ngx_command_t  ngx_http_upcheck_commands[] = {

    { ngx_string("upcheck_shm"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_upcheck_shm_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upcheck_check"),
      NGX_HTTP_UPS_CONF|NGX_CONF_ANY,
      ngx_http_upcheck_check_directive,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upcheck_fleet"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_upcheck_fleet_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upcheck_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_upcheck_status_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_upcheck_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_upcheck_postconfiguration,    /* postconfiguration */

    ngx_http_upcheck_create_main_conf,     /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_upcheck_create_srv_conf,      /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_upcheck_create_loc_conf,      /* create location configuration */
    ngx_http_upcheck_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_upcheck_module = {
    NGX_MODULE_V1,
    &ngx_http_upcheck_module_ctx,          /* module context */
    ngx_http_upcheck_commands,             /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_upcheck_init_module,          /* init module */
    ngx_http_upcheck_init_process,         /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_upcheck_exit_process,         /* exit process */
    ngx_http_upcheck_exit_master,          /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_upcheck_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_upcheck_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upcheck_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&mcf->checks, cf->pool, 4,
                       sizeof(ngx_http_upcheck_srv_conf_t *))
        != NGX_OK
        || ngx_array_init(&mcf->statuses, cf->pool, 2,
                          sizeof(ngx_http_upcheck_where_t))
           != NGX_OK)
    {
        return NULL;
    }

    return mcf;
}


static void *
ngx_http_upcheck_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_upcheck_srv_conf_t  *ucf;

    ucf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upcheck_srv_conf_t));
    if (ucf == NULL) {
        return NULL;
    }

    ucf->index = NGX_CONF_UNSET_UINT;

    return ucf;
}


static void *
ngx_http_upcheck_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_upcheck_loc_conf_t  *lcf;

    lcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upcheck_loc_conf_t));
    if (lcf == NULL) {
        return NULL;
    }

    lcf->format = NGX_CONF_UNSET;

    return lcf;
}


static char *
ngx_http_upcheck_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    /* A status location is a content handler: nothing is inherited. */
    return NGX_CONF_OK;
}


static char *
ngx_http_upcheck_cstring(ngx_conf_t *cf, ngx_str_t *s)
{
    char  *p;

    p = ngx_pnalloc(cf->pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return p;
}


static void
ngx_http_upcheck_where(ngx_conf_t *cf, ngx_http_upcheck_where_t *where)
{
    where->file = cf->conf_file->file.name;
    where->line = cf->conf_file->line;
}


static char *
ngx_http_upcheck_shm_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upcheck_main_conf_t  *mcf = conf;

    char       *name;
    ssize_t     size;
    ngx_str_t  *value;

    if (mcf->name.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[2]);
    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid upcheck_shm size \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    name = ngx_http_upcheck_cstring(cf, &value[1]);
    if (name == NULL) {
        return NGX_CONF_ERROR;
    }

    if (upcheck_validate_shm(name, (size_t) size) != UPCHECK_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "upcheck_shm \"%V\": %s",
                           &value[1], upcheck_last_error());
        return NGX_CONF_ERROR;
    }

    mcf->name = value[1];
    mcf->size = (size_t) size;

    return NGX_CONF_OK;
}


static char *
ngx_http_upcheck_check_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upcheck_srv_conf_t  *ucf = conf;

    ngx_uint_t                     i;
    ngx_str_t                     *value;
    ngx_http_upcheck_srv_conf_t  **slot;
    ngx_http_upcheck_main_conf_t  *mcf;

    if (ucf->words != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    ucf->nwords = cf->args->nelts - 1;

    /* One more slot, so that an empty list is not NULL (NULL means "not checked"). */
    ucf->words = ngx_pcalloc(cf->pool, (ucf->nwords + 1) * sizeof(char *));
    if (ucf->words == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < ucf->nwords; i++) {
        ucf->words[i] = ngx_http_upcheck_cstring(cf, &value[i + 1]);
        if (ucf->words[i] == NULL) {
            return NGX_CONF_ERROR;
        }

        /* Passive checks need nginx's results: its peer callbacks get wrapped per request. */
        if (ngx_strncmp(ucf->words[i], "passive_fall=", 13) == 0
            || ngx_strncmp(ucf->words[i], "skip_active_when_passing=", 25) == 0)
        {
            ucf->passive = 1;
        }
    }

    if (upcheck_validate_check(ucf->words, ucf->nwords) != UPCHECK_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", upcheck_last_error());
        return NGX_CONF_ERROR;
    }

    ngx_http_upcheck_where(cf, &ucf->where);

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upcheck_module);
    slot = ngx_array_push(&mcf->checks);
    if (slot == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = ucf;

    return NGX_CONF_OK;
}


static char *
ngx_http_upcheck_status_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upcheck_loc_conf_t  *lcf = conf;

    ngx_str_t                     *value;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_upcheck_where_t      *where;
    ngx_http_upcheck_main_conf_t  *mcf;

    if (lcf->format != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    lcf->format = UPCHECK_FORMAT_TEXT;

    if (cf->args->nelts == 2) {
        if (ngx_strcmp(value[1].data, "text") == 0) {
            lcf->format = UPCHECK_FORMAT_TEXT;

        } else if (ngx_strcmp(value[1].data, "prometheus") == 0) {
            lcf->format = UPCHECK_FORMAT_PROMETHEUS;

        } else if (ngx_strcmp(value[1].data, "json") == 0) {
            lcf->format = UPCHECK_FORMAT_JSON;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid upcheck_status format \"%V\" "
                               "(expected text, prometheus or json)", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upcheck_module);
    where = ngx_array_push(&mcf->statuses);
    if (where == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_http_upcheck_where(cf, where);

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_upcheck_status_handler;

    return NGX_CONF_OK;
}


/* upcheck_fleet redis=ADDR [host_id=NAME] [prefix=P] [timeout=MS] [password=SECRET]:
 * validated here by the engine, handed to every worker's set (DESIGN.md §11). */
static char *
ngx_http_upcheck_fleet_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upcheck_main_conf_t  *mcf = conf;

    ngx_uint_t   i;
    ngx_str_t   *value;

    if (mcf->fleet != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    mcf->nfleet = cf->args->nelts - 1;

    mcf->fleet = ngx_pcalloc(cf->pool, (mcf->nfleet + 1) * sizeof(char *));
    if (mcf->fleet == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < mcf->nfleet; i++) {
        mcf->fleet[i] = ngx_http_upcheck_cstring(cf, &value[i + 1]);
        if (mcf->fleet[i] == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (upcheck_validate_fleet(mcf->fleet, mcf->nfleet) != UPCHECK_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "upcheck_fleet: %s", upcheck_last_error());
        return NGX_CONF_ERROR;
    }

    ngx_http_upcheck_where(cf, &mcf->fleet_where);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_upcheck_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t                      i;
    const char                     *directive;
    ngx_http_upcheck_where_t       *where;
    ngx_http_upcheck_srv_conf_t    *ucf;
    ngx_http_upstream_srv_conf_t  **uscfp;
    ngx_http_upcheck_main_conf_t   *mcf;
    ngx_http_upstream_main_conf_t  *umcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upcheck_module);

    if (mcf->name.data == NULL) {
        where = NULL;
        directive = NULL;

        if (mcf->checks.nelts > 0) {
            ucf = ((ngx_http_upcheck_srv_conf_t **) mcf->checks.elts)[0];
            where = &ucf->where;
            directive = "upcheck_check";

        } else if (mcf->statuses.nelts > 0) {
            where = mcf->statuses.elts;
            directive = "upcheck_status";

        } else if (mcf->fleet != NULL) {
            where = &mcf->fleet_where;
            directive = "upcheck_fleet";
        }

        if (where != NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"%s\" needs \"upcheck_shm NAME SIZE\" in the http "
                          "block in %V:%ui", directive, &where->file,
                          where->line);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    /*
     * Every balancer's init_upstream has run by now (least_conn, hash and ip_hash set
     * theirs there), so wrapping here works whatever order the directives came in.
     */
    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);
    uscfp = umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {
        if (uscfp[i]->srv_conf == NULL) {
            continue;
        }

        ucf = ngx_http_conf_upstream_srv_conf(uscfp[i], ngx_http_upcheck_module);
        if (ucf->words == NULL || uscfp[i]->peer.init == NULL) {
            continue;
        }

        ucf->original_init = uscfp[i]->peer.init;
        uscfp[i]->peer.init = ngx_http_upcheck_init_peer;
    }

    return NGX_OK;
}


/* Every upstream of the http block that has round-robin peers, in nginx's order, named as
 * the original's ngx.upstream names them; duplicates of a name are left out. */
static ngx_int_t
ngx_http_upcheck_collect(ngx_cycle_t *cycle, ngx_array_t *out)
{
    u_char                          *p;
    ngx_uint_t                       i, k, n;
    ngx_http_upcheck_upstream_t     *u, *seen;
    ngx_http_upstream_rr_peer_t     *peer;
    ngx_http_upstream_rr_peers_t    *peers, *list[2];
    ngx_http_upstream_srv_conf_t   **uscfp, *uscf;
    ngx_http_upstream_main_conf_t   *umcf;

    if (ngx_array_init(out, cycle->pool, 8, sizeof(ngx_http_upcheck_upstream_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    umcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_upstream_module);
    if (umcf == NULL) {
        return NGX_OK;
    }

    uscfp = umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {
        uscf = uscfp[i];
        peers = uscf->peer.data;
        if (peers == NULL || peers->number == 0) {
            continue;  /* proxy_pass with variables: nothing to check or show */
        }

        /* ngx.upstream.get_upstreams(): the host, and ":port" for implicit ones. */
        p = ngx_pnalloc(cycle->pool, uscf->host.len + sizeof(":65535"));
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (uscf->port) {
            *ngx_sprintf(p, "%V:%d", &uscf->host, (int) uscf->port) = '\0';

        } else {
            *ngx_sprintf(p, "%V", &uscf->host) = '\0';
        }

        seen = out->elts;
        for (k = 0; k < out->nelts; k++) {
            if (ngx_strcmp(seen[k].name, p) == 0) {
                break;
            }
        }

        if (k < out->nelts) {
            continue;
        }

        u = ngx_array_push(out);
        if (u == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(u, sizeof(ngx_http_upcheck_upstream_t));
        u->name = (char *) p;
        u->uscf = uscf;
        u->peers = peers;

        if (uscf->srv_conf != NULL) {
            u->check = ngx_http_conf_upstream_srv_conf(uscf, ngx_http_upcheck_module);
            if (u->check->words == NULL) {
                u->check = NULL;
            }
        }

        list[0] = peers;
        list[1] = peers->next;
        n = peers->number + (peers->next ? peers->next->number : 0);

        u->list = ngx_pcalloc(cycle->pool, n * sizeof(upcheck_peer));
        if (u->list == NULL) {
            return NGX_ERROR;
        }

        for (k = 0; k < 2; k++) {
            if (list[k] == NULL) {
                continue;
            }

            for (peer = list[k]->peer; peer; peer = peer->next) {
                p = ngx_pnalloc(cycle->pool, peer->name.len + 1);
                if (p == NULL) {
                    return NGX_ERROR;
                }

                *ngx_cpymem(p, peer->name.data, peer->name.len) = '\0';
                u->list[u->npeers].address = (const char *) p;
                u->list[u->npeers].backup = (int) k;
                u->list[u->npeers].down = peer->down ? 1 : 0;
                u->npeers++;
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upcheck_make_segment(ngx_cycle_t *cycle,
    ngx_http_upcheck_main_conf_t *mcf, upcheck_shm **shm)
{
    char                         *name;
    ngx_uint_t                    i;
    ngx_array_t                  *ups;
    ngx_core_conf_t              *ccf;
    upcheck_upstream             *specs;
    upcheck_shm                  *carry;
    ngx_http_upcheck_upstream_t  *u;

    ups = &ngx_http_upcheck_upstreams;
    if (ngx_http_upcheck_collect(cycle, ups) != NGX_OK) {
        return NGX_ERROR;
    }

    specs = ngx_pcalloc(cycle->pool, (ups->nelts + 1) * sizeof(upcheck_upstream));
    name = ngx_pnalloc(cycle->pool, mcf->name.len + 1);
    if (specs == NULL || name == NULL) {
        return NGX_ERROR;
    }

    *ngx_cpymem(name, mcf->name.data, mcf->name.len) = '\0';

    u = ups->elts;
    for (i = 0; i < ups->nelts; i++) {
        specs[i].name = u[i].name;
        specs[i].peers = u[i].list;
        specs[i].npeers = u[i].npeers;

        if (u[i].check != NULL) {
            specs[i].check_words = u[i].check->words;
            specs[i].nwords = u[i].check->nwords;
        }
    }

    /* A reload with the same name and size keeps the dict, as nginx keeps its zones. */
    carry = NULL;
    if (ngx_http_upcheck_shm != NULL
        && ngx_http_upcheck_shm_size == mcf->size
        && ngx_http_upcheck_shm_name.len == mcf->name.len
        && ngx_strncmp(ngx_http_upcheck_shm_name.data, mcf->name.data,
                       mcf->name.len) == 0)
    {
        carry = ngx_http_upcheck_shm;
    }

    /* Old workers (a reload) and respawned ones may hold rows beside the new workers. */
    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (upcheck_shm_create_host(name, mcf->size, 1, specs, ups->nelts,
                                (unsigned) (2 * ccf->worker_processes + 4), carry, shm)
        != UPCHECK_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "upcheck_shm \"%V\": %s", &mcf->name, upcheck_last_error());
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upcheck_init_module(ngx_cycle_t *cycle)
{
    u_char                        *copy;
    upcheck_shm                   *shm;
    ngx_http_upcheck_main_conf_t  *mcf;

    if (ngx_test_config) {
        return NGX_OK;  /* nginx -t creates nothing */
    }

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_upcheck_module);
    shm = NULL;

    if (mcf != NULL && mcf->name.data != NULL) {
        if (ngx_http_upcheck_make_segment(cycle, mcf, &shm) != NGX_OK) {
            if (ngx_is_init_cycle(cycle->old_cycle)) {
                return NGX_ERROR;  /* the first start: nginx does not start */
            }

            /* A reload cannot fail from here on: run without checks, and say so. */
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                          "upcheck: health checks are off until the next reload");
            shm = NULL;
        }
    }

    if (ngx_http_upcheck_shm != NULL) {
        /* The old workers keep their own mapping of the old segment. */
        if (shm == NULL
            || ngx_http_upcheck_shm_name.len != mcf->name.len
            || ngx_strncmp(ngx_http_upcheck_shm_name.data, mcf->name.data,
                           mcf->name.len) != 0)
        {
            (void) upcheck_shm_remove_if_current(ngx_http_upcheck_shm);
        }

        upcheck_shm_free(ngx_http_upcheck_shm);
        ngx_free(ngx_http_upcheck_shm_name.data);
        ngx_str_null(&ngx_http_upcheck_shm_name);
    }

    ngx_http_upcheck_shm = shm;

    if (shm != NULL) {
        /* Outlives the cycle's pool: the next reload compares against it. */
        copy = ngx_alloc(mcf->name.len, cycle->log);
        if (copy != NULL) {
            ngx_memcpy(copy, mcf->name.data, mcf->name.len);
            ngx_http_upcheck_shm_name.data = copy;
            ngx_http_upcheck_shm_name.len = mcf->name.len;
        }

        ngx_http_upcheck_shm_size = mcf->size;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upcheck_init_process(ngx_cycle_t *cycle)
{
    /* init_process also runs in the cache manager and loader: only workers check. */
    if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE) {
        return NGX_OK;
    }

    if (ngx_http_upcheck_shm == NULL) {
        return NGX_OK;
    }

    return ngx_http_upcheck_init_worker(cycle);
}


static void
ngx_http_upcheck_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_upcheck_exit_worker(cycle);
}


static void
ngx_http_upcheck_exit_master(ngx_cycle_t *cycle)
{
    if (ngx_http_upcheck_shm == NULL) {
        return;
    }

    /* A binary upgrade's new master may have made a segment of the same name. */
    (void) upcheck_shm_remove_if_current(ngx_http_upcheck_shm);
    upcheck_shm_free(ngx_http_upcheck_shm);
    ngx_http_upcheck_shm = NULL;
}
