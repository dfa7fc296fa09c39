/*
 * cli_query.c - `poolwatch query EXPR`: a bare selector prints the stored
 * points of every series it matches in [--from, --to], streamed as it is
 * read (any range fits in memory); an expression, --step or a rollup
 * --res evaluates a range query (eval.h) every step. Both write the same
 * table, CSV or JSON through one sink.
 */
#include "cli.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli_api.h"
#include "clock.h"
#include "config.h"
#include "eval.h"
#include "expr.h"
#include "output_format.h"
#include "query.h"

#define CQ_TIME_HINT "now, -1h, 2026-11-01T00:00:00Z, 2026-11-01 or Unix seconds"
#define CQ_DEFAULT_STEP_MS INT64_C(60000)
#define CQ_DAY_MS          INT64_C(86400000)

typedef struct cq_out cq_out;
struct cq_out {
    pw_out_format fmt;
    FILE         *f;
    size_t        nseries;
    size_t        npoints_in_series;
    /* why a sink callback stopped the query: the output, not the store */
    bool          write_failed;
    bool          not_utf8;       /* a label cannot be a JSON string */
    bool          nomem;
    /* CSV repeats the key on every row: a copy of the current one */
    char         *key;
    size_t        keylen;
};

static pw_err
cq_check(cq_out *o)
{
    if (ferror(o->f)) {
        o->write_failed = true;
        return PW_EIO;
    }
    return PW_OK;
}

/* Writes a JSON string (quotes and escapes included) through jansson. */
static pw_err
cq_json_str(cq_out *o, const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    int     rc;

    if (j == NULL) {
        o->not_utf8 = true;         /* not UTF-8: cannot be a JSON string */
        return PW_EPROTO;
    }
    rc = json_dumpf(j, o->f, JSON_ENCODE_ANY);
    json_decref(j);
    return rc == 0 ? PW_OK : PW_EIO;
}

static pw_err
cq_json_labels(cq_out *o, const pw_series_view *v)
{
    json_t *obj = json_object();
    int     rc = -1;

    if (obj == NULL) {
        o->nomem = true;
        return PW_ENOMEM;
    }
    for (size_t i = 0; i < v->nlabels; i++)
        if (json_object_set_new(obj, v->labels[i].name, json_string(v->labels[i].value)) != 0)
            goto out;
    rc = json_dumpf(obj, o->f, JSON_COMPACT | JSON_SORT_KEYS);
out:
    json_decref(obj);
    if (rc != 0)
        o->not_utf8 = true;
    return rc == 0 ? PW_OK : PW_EPROTO;
}

static pw_err
cq_series_begin(void *ctx, const char *key, size_t keylen, const pw_series_view *v)
{
    cq_out  *o = ctx;
    pw_err e = PW_OK;

    switch (o->fmt) {
    case PW_OUT_TABLE:
        if (o->nseries > 0)
            putc('\n', o->f);
        fwrite(key, 1, keylen, o->f);
        putc('\n', o->f);
        break;
    case PW_OUT_CSV:
        free(o->key);
        if ((o->key = malloc(keylen + 1)) == NULL) {
            o->nomem = true;
            return PW_ENOMEM;
        }
        memcpy(o->key, key, keylen);
        o->key[keylen] = '\0';
        o->keylen = keylen;
        break;
    case PW_OUT_JSON:
        fputs(o->nseries > 0 ? ",\n{\"series\":" : "{\"series\":", o->f);
        if ((e = cq_json_str(o, key, keylen)) != PW_OK)
            break;
        fputs(",\"metric\":", o->f);
        if ((e = cq_json_str(o, v->metric, strlen(v->metric))) != PW_OK)
            break;
        fputs(",\"labels\":", o->f);
        if ((e = cq_json_labels(o, v)) != PW_OK)
            break;
        fputs(",\"points\":[", o->f);
        break;
    }
    o->nseries++;
    o->npoints_in_series = 0;
    return e != PW_OK ? e : cq_check(o);
}

static pw_err
cq_point(void *ctx, int64_t ts_ms, double value)
{
    cq_out *o = ctx;
    char  iso[32], val[PW_OUT_VALUE_LEN];

    pw_out_value(value, val, sizeof val);
    switch (o->fmt) {
    case PW_OUT_TABLE:
        pw_time_format_iso(ts_ms, iso, sizeof iso);
        fprintf(o->f, "  %s  %s\n", iso, val);
        break;
    case PW_OUT_CSV:
        pw_time_format_iso(ts_ms, iso, sizeof iso);
        pw_out_csv_field(o->f, o->key, o->keylen);
        fprintf(o->f, ",%s,%lld,%s\n", iso, (long long) ts_ms, val);
        break;
    case PW_OUT_JSON:
        /* JSON has no NaN or Inf: they become null. */
        fprintf(o->f, "%s[%lld,%s]", o->npoints_in_series > 0 ? "," : "", (long long) ts_ms,
            isfinite(value) ? val : "null");
        break;
    }
    o->npoints_in_series++;
    return cq_check(o);
}

static pw_err
cq_series_end(void *ctx)
{
    cq_out *o = ctx;

    if (o->fmt == PW_OUT_JSON)
        fputs("]}", o->f);
    return cq_check(o);
}

static void
cq_usage(FILE *f, const pw_option *opts)
{
    fprintf(f, "usage: poolwatch [--data DIR | --api URL] query EXPR [--from TIME] [--to TIME] [--step D]\n"
        "                 [--res auto|raw|5m|1h|1d] [--format table|csv|json]\n\n"
        "A bare selector prints the stored points of every series it matches, from --from\n"
        "to --to (both inclusive):\n"
        "  node_load1   'node_cpu_seconds_total{host=\"h1\",mode!=\"idle\"}'\n"
        "  '{__name__=~\"node_memory_.*\",host=~\"web[0-9]+\"}'\n"
        "An expression (or --step) is evaluated every --step (default 1m) as Prometheus'\n"
        "query_range does; rollups are read where the step allows (--res forces one):\n"
        "  'sum by (host) (rate(node_network_receive_bytes_total[5m]))'\n"
        "  '100 * (1 - avg_over_time(up[1h]))'   'quantile_over_time(0.95, x[30d])'\n"
        "TIME is now, -1h / -30m / -7d (before now), an RFC 3339 UTC time such as\n"
        "2026-11-01T00:00:00Z or 2026-11-01, or Unix seconds or milliseconds.\n\noptions:\n");
    pw_config_usage(opts, f);
}

/*
 * Shows where a query went wrong: the text, and a caret under the spot (pos
 * is a byte offset; the caret goes by terminal columns, for Chinese values).
 */
static void
cq_parse_error(const char *text, size_t pos, const char *msg)
{
    size_t len = strlen(text);

    pw_cli_err("bad query: %s", msg);
    if (strchr(text, '\n') != NULL || len > 200)
        return;
    fprintf(stderr, "  %s\n  ", text);
    pw_out_pad(stderr, "^", pw_out_width(text, pos < len ? pos : len) + 1, true);
    putc('\n', stderr);
}

/* Why a sink callback stopped the query, as the exit code and a message. */
static int
cq_sink_failed(const cq_out *o, pw_err e)
{
    if (o->write_failed)
        pw_cli_err("cannot write the output");
    else if (o->not_utf8)
        pw_cli_err("query: a series has a label value that is not UTF-8; it cannot be "
            "written as JSON (use --format csv)");
    else if (o->nomem || e == PW_ENOMEM)
        pw_cli_err("out of memory");
    else
        return 0;
    return PW_CLI_FAIL;
}

/*
 * The first evaluation time: --from, rounded up to a multiple of the step
 * (UTC) when the step divides a day, so rows line up with rollup buckets
 * and read well (a relative --from is an arbitrary millisecond). Not when
 * that would pass --to.
 */
static int64_t
cq_align(int64_t from, int64_t to, int64_t step)
{
    int64_t r, up;

    if (step <= 0 || step > CQ_DAY_MS || CQ_DAY_MS % step != 0)
        return from;
    r = from % step;
    if (r < 0)
        r += step;
    up = r == 0 ? from : from + (step - r);
    return up <= to ? up : from;
}

/* Evaluates e over [from, to] into o's format; returns an exit code. */
static int
cq_eval(pw_cli *g, const pw_expr *e, int64_t from, int64_t to, int64_t step, bool force,
        pw_res res, int64_t now, cq_out *o, const pw_query_sink *sink)
{
    pw_eval_opts   opt = { 0 };
    pw_eval_store  es;
    pw_eval_source src;
    pw_eval_stats  st;
    pw_store      *s = NULL;
    pw_store_txn  *t = NULL;
    char           msg[512] = "";
    int            rc;
    pw_err         err;

    opt.start = cq_align(from, to, step);
    opt.end = to;
    opt.step = step;
    opt.now = now;
    opt.force_res = force;
    opt.res = res;
    if ((rc = pw_cli_open_store(g, &s)) != PW_CLI_OK)
        return rc;
    if (pw_store_read_begin(s, &t) != PW_OK) {
        pw_store_last_error(s, msg, sizeof msg);
        pw_cli_err("reading %s: %s", g->data_dir, msg);
        pw_store_close(s);
        return PW_CLI_NODATA;
    }
    pw_eval_store_source(&es, t, &src);
    if (o->fmt == PW_OUT_CSV)
        fputs("series,time,timestamp_ms,value\n", o->f);
    else if (o->fmt == PW_OUT_JSON)
        fputs("[\n", o->f);
    err = pw_eval_range(e, &opt, &src, sink, o, &st, msg, sizeof msg);
    pw_store_read_end(t);
    pw_store_close(s);
    if (err != PW_OK) {
        if ((rc = cq_sink_failed(o, err)) != 0)
            return rc;
        if (st.source_failed) {
            pw_cli_err("reading %s: %s", g->data_dir, msg[0] ? msg : pw_strerror(err));
            return PW_CLI_NODATA;
        }
        /* The query's own problem: a limit, a range vector, clashing labels. */
        pw_cli_err("query: %s", msg[0] ? msg : pw_strerror(err));
        return err == PW_ENOMEM ? PW_CLI_FAIL : PW_CLI_USAGE;
    }
    if (o->fmt == PW_OUT_JSON)
        fputs(o->nseries > 0 ? "\n]\n" : "]\n", o->f);
    if (cq_check(o) != PW_OK)
        return cq_sink_failed(o, PW_EIO);
    return PW_CLI_OK;
}

/*
 * --api: the same two modes, asked of the server (cli_api.h), written by
 * the same sink. The server picks resolutions itself: --res other than
 * auto (or raw for stored points) cannot be passed on.
 */
static int
cq_api(pw_cli *g, const char *text, int64_t from, int64_t to, int64_t step, bool force,
       pw_res res, cq_out *o, const pw_query_sink *sink)
{
    pw_cli_api_query q = { .expr = text, .from = from, .to = to, .step = step };
    pw_selector     *sel = NULL;
    pw_err           serr;
    int              rc;

    q.raw = step == 0 && (!force || res == PW_RES_RAW)
        && pw_selector_parse(text, &sel, NULL, NULL, 0) == PW_OK;
    pw_selector_free(sel);
    if (force && !(q.raw && res == PW_RES_RAW)) {
        pw_cli_err("query: --res is not available with --api: the collector picks the "
            "resolution from --step");
        return PW_CLI_USAGE;
    }
    if (!q.raw) {
        if (q.step == 0)
            q.step = CQ_DEFAULT_STEP_MS;
        q.from = cq_align(from, to, q.step);
    }
    if (o->fmt == PW_OUT_CSV)
        fputs("series,time,timestamp_ms,value\n", o->f);
    else if (o->fmt == PW_OUT_JSON)
        fputs("[\n", o->f);
    if ((rc = pw_cli_api_query_run(g, &q, sink, o, &serr)) != PW_CLI_OK) {
        if (serr != PW_OK && cq_sink_failed(o, serr) == 0)
            pw_cli_err("query: %s", pw_strerror(serr));
        return rc;
    }
    if (o->fmt == PW_OUT_JSON)
        fputs(o->nseries > 0 ? "\n]\n" : "]\n", o->f);
    if (cq_check(o) != PW_OK)
        return cq_sink_failed(o, PW_EIO);
    return PW_CLI_OK;
}

int
pw_cli_query(pw_cli *g, int argc, char **argv)
{
    const char     *format = "table", *from_s = "-1h", *to_s = "now", *step_s = NULL;
    const char     *res_s = "auto";
    bool            help = false;
    const pw_option opts[] = {
        { "data", PW_OPT_STRING, &g->data_dir, "the collector's data directory", "DIR" },
        { "from", PW_OPT_STRING, &from_s, "start of the range (default -1h)", "TIME" },
        { "to", PW_OPT_STRING, &to_s, "end of the range (default now)", "TIME" },
        { "step", PW_OPT_STRING, &step_s, "evaluate every D (default 1m for an expression)",
          "D" },
        { "res", PW_OPT_STRING, &res_s, "auto (default), raw, 5m, 1h or 1d: data to read",
          "RES" },
        { "format", PW_OPT_STRING, &format, "table (default), csv or json", "FMT" },
        { "help", PW_OPT_FLAG, &help, "this text", NULL },
        { NULL, PW_OPT_STRING, NULL, NULL, NULL },
    };
    static const pw_query_sink sink = { cq_series_begin, cq_point, cq_series_end };
    pw_config     cfg = { 0 };
    pw_selector  *sel = NULL;
    pw_expr      *expr = NULL;
    pw_store     *s = NULL;
    pw_store_txn *t = NULL;
    cq_out          o = { .f = stdout };
    pw_query      q = { 0 };
    char          msg[512];
    size_t        errpos;
    int64_t       now = pw_now_ms(), step = 0;
    bool          force = false;
    pw_res        res = PW_RES_RAW;
    int           npos, rc = PW_CLI_USAGE;
    pw_err        e;

    if ((rc = pw_cli_args("query", opts, &cfg, argc, argv, &npos, &help, cq_usage)) != PW_CLI_GO)
        goto out;
    rc = PW_CLI_USAGE;
    if (npos != 1) {
        pw_cli_err(npos == 0 ? "query: an EXPR is needed (see poolwatch query --help)"
                             : "query: one EXPR only; quote it if it holds spaces");
        goto out;
    }
    if (pw_out_format_parse(format, &o.fmt) != PW_OK) {
        pw_cli_err("query: --format must be table, csv or json, not \"%s\"", format);
        goto out;
    }
    if (pw_time_parse(from_s, now, &q.from) != PW_OK) {
        pw_cli_err("query: --from \"%s\" is not a time (%s)", from_s, CQ_TIME_HINT);
        goto out;
    }
    if (pw_time_parse(to_s, now, &q.to) != PW_OK) {
        pw_cli_err("query: --to \"%s\" is not a time (%s)", to_s, CQ_TIME_HINT);
        goto out;
    }
    if (q.from > q.to) {
        pw_cli_err("query: --from %s is after --to %s", from_s, to_s);
        goto out;
    }
    if (pw_eval_res_parse(res_s, &force, &res) != PW_OK) {
        pw_cli_err("query: --res must be auto, raw, 5m, 1h or 1d, not \"%s\"", res_s);
        goto out;
    }
    if (step_s != NULL && (pw_duration_parse(step_s, &step) != PW_OK || step <= 0)) {
        pw_cli_err("query: --step \"%s\" is not a positive duration (30s, 1m, 1h, 1d)", step_s);
        goto out;
    }
    if (g->api_url != NULL) {
        rc = cq_api(g, argv[1], q.from, q.to, step, force, res, &o, &sink);
        if (rc == PW_CLI_OK && o.fmt == PW_OUT_TABLE && o.nseries == 0)
            pw_cli_err("no data for %s between %s and %s", argv[1], from_s, to_s);
        goto out;
    }
    /*
     * Today's behaviour for a bare selector: the stored points, streamed.
     * Anything else - an expression, a step, a rollup resolution - is a
     * range query.
     */
    if (step_s == NULL && (!force || res == PW_RES_RAW)
        && pw_selector_parse(argv[1], &sel, NULL, NULL, 0) == PW_OK) {
        q.sel = sel;
    } else {
        if ((e = pw_expr_parse(argv[1], &expr, &errpos, msg, sizeof msg)) != PW_OK) {
            if (e == PW_ENOMEM) {
                pw_cli_err("out of memory");
                rc = PW_CLI_FAIL;
            } else {
                cq_parse_error(argv[1], errpos, msg);
            }
            goto out;
        }
        if (step == 0) {
            /* A forced rollup: one row per bucket unless asked otherwise. */
            step = CQ_DEFAULT_STEP_MS;
            if (force && res == PW_RES_5M)
                step = INT64_C(300000);
            else if (force && res == PW_RES_1H)
                step = INT64_C(3600000);
            else if (force && res == PW_RES_1D)
                step = CQ_DAY_MS;
        }
        rc = cq_eval(g, expr, q.from, q.to, step, force, res, now, &o, &sink);
        if (rc == PW_CLI_OK && o.fmt == PW_OUT_TABLE && o.nseries == 0)
            pw_cli_err("no data for %s between %s and %s", argv[1], from_s, to_s);
        goto out;
    }
    if ((rc = pw_cli_open_store(g, &s)) != PW_CLI_OK)
        goto out;
    if ((e = pw_store_read_begin(s, &t)) != PW_OK) {
        pw_store_last_error(s, msg, sizeof msg);
        pw_cli_err("reading %s: %s", g->data_dir, msg);
        rc = PW_CLI_NODATA;
        goto out;
    }
    if (o.fmt == PW_OUT_CSV)
        fputs("series,time,timestamp_ms,value\n", o.f);
    else if (o.fmt == PW_OUT_JSON)
        fputs("[\n", o.f);
    e = pw_query_run(t, &q, &sink, &o, msg, sizeof msg);
    pw_store_read_end(t);
    if (e != PW_OK) {
        if ((rc = cq_sink_failed(&o, e)) == 0) {
            pw_cli_err("reading %s: %s", g->data_dir, msg[0] ? msg : pw_strerror(e));
            rc = PW_CLI_NODATA;
        }
        goto out;
    }
    if (o.fmt == PW_OUT_JSON)
        fputs(o.nseries > 0 ? "\n]\n" : "]\n", o.f);
    else if (o.fmt == PW_OUT_TABLE && o.nseries == 0)
        pw_cli_err("no points match %s between %s and %s", argv[1], from_s, to_s);
    rc = PW_CLI_OK;
out:
    free(o.key);
    pw_expr_free(expr);
    pw_selector_free(sel);
    pw_store_close(s);
    pw_config_free(&cfg);
    return rc;
}
