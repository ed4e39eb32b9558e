/*
 * upcheck_status: the original's status_page() (text), prometheus_status_page() with the
 * upcheck_* families (prometheus), or the JSON document, from the answering worker's own
 * view, with the X-Worker-Pid header upcheckd also sends.
 */
#include "ngx_http_upcheck_module.h"

#include <stdlib.h>


static ngx_str_t  ngx_http_upcheck_types[] = {
    ngx_string("text/plain"),
    ngx_string("text/plain; version=0.0.4"),
    ngx_string("application/json")
};


static ngx_int_t
ngx_http_upcheck_worker_pid_header(ngx_http_request_t *r)
{
    u_char           *p;
    ngx_table_elt_t  *h;

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    h = ngx_list_push(&r->headers_out.headers);
    if (p == NULL || h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "X-Worker-Pid");
    h->value.data = p;
    h->value.len = ngx_sprintf(p, "%P", ngx_pid) - p;

    return NGX_OK;
}


/* The page, copied into the request's pool. */
static ngx_buf_t *
ngx_http_upcheck_render(ngx_http_request_t *r, ngx_int_t format)
{
    char       *page;
    size_t      len;
    ngx_buf_t  *b;

    if (upcheck_set_render(ngx_http_upcheck_set, (int) format, &page, &len) != UPCHECK_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upcheck: cannot render the status page: %s", upcheck_last_error());
        return NULL;
    }

    b = len ? ngx_create_temp_buf(r->pool, len) : ngx_calloc_buf(r->pool);
    if (b != NULL && len) {
        b->last = ngx_cpymem(b->pos, page, len);
    }

    free(page);

    if (b != NULL) {
        b->last_buf = (r == r->main) ? 1 : 0;
        b->last_in_chain = 1;
    }

    return b;
}


ngx_int_t
ngx_http_upcheck_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_buf_t                    *b;
    ngx_chain_t                   out;
    ngx_http_upcheck_loc_conf_t  *lcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_upcheck_set == NULL) {
        /* Checks are off in this worker (its log says why). */
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_upcheck_module);

    b = ngx_http_upcheck_render(r, lcf->format);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    r->headers_out.content_type = ngx_http_upcheck_types[lcf->format];
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (ngx_http_upcheck_worker_pid_header(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
