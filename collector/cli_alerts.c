/*
 * cli_alerts.c - `poolwatch alerts`: the alert engine's states and history
 * from DIR/alerts.mdb (read-only, also while the collector runs), and
 * `alerts backtest`, which steps the engine through a past range over the
 * stored data with a scratch alerts.mdb, printing the transitions it would
 * have made (nothing is sent, the collector's alerts.mdb is not touched).
 *
 *   poolwatch alerts [--history [--from T] [--to T]] [--tenant T] [--format table|csv|json]
 *   poolwatch alerts backtest --from T --to T [--step D] [--config FILE] [--format ...]
 *   poolwatch alerts rules [--config FILE]          the rules in effect, as JSON
 *   poolwatch alerts silence add MATCHER... (--duration D | --until T) [--author A] [--comment C]
 *   poolwatch alerts silence list [--format ...]
 *   poolwatch alerts silence expire ID
 * Silences are written to alerts.mdb (also while the collector runs) and
 * recorded in the audit log.
 */
#include "cli.h"

#include <errno.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "alert.h"
#include "clock.h"
#include "config.h"
#include "output_format.h"
#include "utf8.h"

#define CA_TIME_HINT "now, -1h, 2026-11-01T00:00:00Z, 2026-11-01 or Unix seconds"

static void
ca_usage(FILE *f, const pw_option *opts)
{
    (void) opts;
    fprintf(f,
        "usage: poolwatch [--data DIR] alerts [--history [--from T] [--to T]] [--tenant T]\n"
        "                 [--limit N] [--format table|csv|json]\n"
        "       poolwatch [--data DIR] [--config FILE] alerts backtest --from T --to T [--step D]\n"
        "                 [--record] [--format table|csv|json]\n"
        "       poolwatch [--config FILE] alerts rules\n"
        "       poolwatch [--data DIR] alerts silence add MATCHER... (--duration D | --until T)\n"
        "                 [--author NAME] [--comment TEXT]\n"
        "       poolwatch [--data DIR] alerts silence list [--format table|csv|json]\n"
        "       poolwatch [--data DIR] alerts silence expire ID\n\n"
        "Without a subcommand: the active alerts (pending, firing); --history: every\n"
        "transition with --from <= time <= --to (default the last 7 days).\n"
        "backtest evaluates the rules (built-in, plus the --config file's alerts:) every\n"
        "--step (default 1m) from --from to --to over the stored data, in a scratch\n"
        "database, and prints the transitions; nothing is sent or stored. --record writes\n"
        "them into DIR/alerts.mdb instead (states and history, nothing sent): after importing\n"
        "past data, so the history holds the earlier months' warnings (recommendations, R3).\n"
        "rules prints the rules in effect (built-in, then the file's) as JSON.\n"
        "silence: alerts whose labels match every MATCHER (name=value, name!=value,\n"
        "name=~regex, name!~regex; regexes anchored) are not notified until the\n"
        "silence ends; they still change state and are kept in the history.\n"
        "TIME is %s.\n", CA_TIME_HINT);
}

/* "k=v,k=v" of the labels but alertname and severity. */
static void
ca_labels(const json_t *labels, char *buf, size_t len)
{
    const char *k;
    json_t     *v;
    size_t      o = 0;

    buf[0] = '\0';
    json_object_foreach((json_t *) labels, k, v) {
        if (strcmp(k, "alertname") == 0 || strcmp(k, "severity") == 0 || o >= len)
            continue;
        o += (size_t) snprintf(buf + o, len - o, "%s%s=%s", o ? "," : "", k, json_string_value(v));
    }
    pw_utf8_cut(buf);               /* cut at the buffer's end: not inside a character */
}

static const char *
ca_str(const json_t *rec, const char *k)
{
    const char *s = json_string_value(json_object_get(rec, k));

    return s ? s : "";
}

/* Prints a list of records (history: transitions) in fmt. */
static int
ca_print(json_t *list, bool history, pw_out_format fmt)
{
    const char *hh[] = { "TIME", "RULE", "SEVERITY", "FROM", "TO", "LABELS", "VALUE" };
    const char *ah[] = { "STATE", "RULE", "SEVERITY", "LABELS", "VALUE", "SINCE", "FIRING SINCE" };
    const char *ch[] = { "time", "rule", "severity", "from", "to", "labels", "value", "fingerprint" };
    const char *cah[] = { "state", "rule", "severity", "labels", "value", "active_since", "fired_at",
                          "fingerprint" };
    pw_table   *t = NULL;
    json_t     *rec;
    size_t      i;

    if (fmt == PW_OUT_JSON) {
        json_dumpf(list, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        return ferror(stdout) ? PW_CLI_FAIL : PW_CLI_OK;
    }
    if (fmt == PW_OUT_CSV)
        pw_out_csv_row(stdout, 8, history ? ch : cah);
    else if ((t = pw_table_new(7, history ? hh : ah)) == NULL) {
        pw_cli_err("out of memory");
        return PW_CLI_FAIL;
    }
    json_array_foreach(list, i, rec) {
        char        labels[1024], val[PW_OUT_VALUE_LEN], t1[32], t2[32];
        const char *sev = json_string_value(json_object_get(json_object_get(rec, "labels"), "severity"));
        int64_t     a = history ? json_integer_value(json_object_get(rec, "time"))
                                : json_integer_value(json_object_get(rec, "active_since"));
        int64_t     b = json_integer_value(json_object_get(rec, "fired_at"));

        ca_labels(json_object_get(rec, "labels"), labels, sizeof labels);
        pw_out_value(json_number_value(json_object_get(rec, "value")), val, sizeof val);
        pw_out_time_s(a, t1, sizeof t1);
        if (b != 0)
            pw_out_time_s(b, t2, sizeof t2);
        else
            snprintf(t2, sizeof t2, "%s", fmt == PW_OUT_CSV ? "" : "-");
        if (history) {
            const char *row[] = { t1, ca_str(rec, "rule"), sev ? sev : "", ca_str(rec, "from"),
                                  ca_str(rec, "state"), labels, val, ca_str(rec, "fingerprint") };

            if (fmt == PW_OUT_CSV)
                pw_out_csv_row(stdout, 8, row);
            else
                pw_table_add(t, row);
        } else {
            char        state[48];
            const char *row[] = { state, ca_str(rec, "rule"), sev ? sev : "", labels,
                                  val, t1, t2, ca_str(rec, "fingerprint") };

            /* Kept from notification: shown with the state. */
            snprintf(state, sizeof state, "%s%s", ca_str(rec, "state"),
                     json_array_size(json_object_get(rec, "silenced_by")) > 0 ? " (silenced)"
                     : json_is_true(json_object_get(rec, "inhibited")) ? " (inhibited)" : "");

            if (fmt == PW_OUT_CSV)
                pw_out_csv_row(stdout, 8, row);
            else
                pw_table_add(t, row);
        }
    }
    if (t != NULL) {
        if (pw_table_rows(t) == 0)
            fprintf(stderr, history ? "no alert transitions in that range\n" : "no active alerts\n");
        else
            pw_table_print(t, stdout);
        pw_table_free(t);
    }
    return ferror(stdout) ? PW_CLI_FAIL : PW_CLI_OK;
}

static int
ca_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

/* alerts backtest: the engine over [from, to] every step, in a scratch alerts.mdb. */
static int
ca_backtest(pw_cli *g, const char *config, int64_t from, int64_t to, int64_t step, bool record,
            pw_out_format fmt)
{
    pw_alert_config *cfg = NULL;
    pw_store        *s = NULL;
    pw_inventory    *inv = NULL;
    pw_alert_db     *db = NULL;
    pw_alert_engine *eng = NULL;
    json_t          *list = NULL;
    char             msg[512], tmp[4096];
    const char      *base = getenv("TMPDIR");
    bool             truncated, made = false;
    int              rc = PW_CLI_FAIL;

    if ((uint64_t) ((to - from) / step) > 1000000) {
        pw_cli_err("alerts backtest: more than a million steps; use a larger --step");
        return PW_CLI_USAGE;
    }
    if (pw_alert_config_load(config, &cfg, msg, sizeof msg) != PW_OK) {
        pw_cli_err("%s", msg);
        return PW_CLI_USAGE;
    }
    if ((rc = pw_cli_open_store(g, &s)) != PW_CLI_OK)
        goto out;
    rc = PW_CLI_FAIL;
    if (pw_inventory_open(g->data_dir, true, &inv, msg, sizeof msg) != PW_OK)
        inv = NULL;                 /* no inventory: no pools, so no host_down instances */
    snprintf(tmp, sizeof tmp, "%s/poolwatch-backtest-XXXXXX", base && base[0] ? base : "/tmp");
    if (record) {
        /* --record: into DIR/alerts.mdb, so the history holds past months (R3 counts them) */
        snprintf(tmp, sizeof tmp, "%s", g->data_dir);
    } else if (mkdtemp(tmp) == NULL) {
        pw_cli_err("alerts backtest: cannot make a scratch directory %s: %s", tmp, strerror(errno));
        goto out;
    }
    made = !record;
    if (pw_alert_db_open(tmp, record ? 0 : PW_ALERT_DB_NOSYNC, &db, msg, sizeof msg) != PW_OK) {
        pw_cli_err("alerts backtest: %s", msg);
        goto out;
    }
    {
        pw_alert_engine_opts eo = { .store = s, .inv = inv, .db = db, .notify = false };

        if (pw_alert_engine_new(&eo, cfg, &eng) != PW_OK) {
            pw_cli_err("out of memory");
            goto out;
        }
    }
    for (int64_t t = from; t <= to; t += step) {
        pw_alert_pass p;

        if (pw_alert_eval_at(eng, t, &p, msg, sizeof msg) != PW_OK || p.rule_errors > 0) {
            pw_cli_err("alerts backtest: at %lld: %s", (long long) t, msg);
            rc = PW_CLI_NODATA;
            goto out;
        }
    }
    if (pw_alert_list(db, true, record ? from : INT64_MIN, record ? to : INT64_MAX, NULL, 0, &list,
                      &truncated) != PW_OK) {
        pw_cli_err("alerts backtest: cannot read the scratch database");
        goto out;
    }
    rc = ca_print(list, true, fmt);
out:
    json_decref(list);
    pw_alert_engine_free(eng);
    pw_alert_db_close(db);
    if (made)
        nftw(tmp, ca_rm, 8, FTW_DEPTH | FTW_PHYS);
    pw_inventory_close(inv);
    pw_store_close(s);
    pw_alert_config_free(cfg);
    return rc;
}

static int
ca_silence_collect(void *ctx, json_t *s)
{
    json_array_append(ctx, s);
    return 0;
}

typedef struct ca_sil_opts {
    const char   *duration, *until, *author, *comment;
    pw_out_format fmt;
} ca_sil_opts;

/* alerts silence add|list|expire: argv[1] is "silence", argv[2] the verb, then its arguments. */
static int
ca_silence(pw_cli *g, int npos, char **argv, const ca_sil_opts *o)
{
    const char  *verb = npos >= 2 ? argv[2] : "";
    pw_alert_db *db = NULL;
    json_t      *matchers = NULL, *sil = NULL, *list = NULL;
    char         msg[512], object[256];
    int64_t      now = pw_now_ms(), ends = 0, d;
    int          rc = PW_CLI_USAGE;
    pw_err       e;

    if (strcmp(verb, "add") != 0 && strcmp(verb, "list") != 0 && strcmp(verb, "expire") != 0) {
        pw_cli_err("alerts silence: add, list or expire (see poolwatch alerts --help)");
        return PW_CLI_USAGE;
    }
    if (strcmp(verb, "add") == 0) {
        struct passwd *pw = getpwuid(geteuid());
        const char    *author = o->author ? o->author : pw ? pw->pw_name : "cli";
        size_t         off = 0;

        if (npos < 3) {
            pw_cli_err("alerts silence add: at least one MATCHER (pool=pool-a, alertname=~Pool.*)");
            return PW_CLI_USAGE;
        }
        if ((o->duration == NULL) == (o->until == NULL)) {
            pw_cli_err("alerts silence add: give --duration D or --until TIME (one of them)");
            return PW_CLI_USAGE;
        }
        if (o->duration != NULL && (pw_duration_parse(o->duration, &d) != PW_OK || d <= 0)) {
            pw_cli_err("alerts silence add: --duration \"%s\" is not a positive duration (2h, 1d)",
                       o->duration);
            return PW_CLI_USAGE;
        }
        if (o->duration != NULL)
            ends = now + d;
        else if (pw_time_parse(o->until, now, &ends) != PW_OK || ends <= now) {
            pw_cli_err("alerts silence add: --until \"%s\" is not a time in the future (%s)", o->until,
                       CA_TIME_HINT);
            return PW_CLI_USAGE;
        }
        if ((matchers = json_array()) == NULL)
            goto nomem;
        object[0] = '\0';
        for (int i = 3; i <= npos; i++) {
            json_t *m;

            if (pw_alert_matcher_parse(argv[i], &m, msg, sizeof msg) != PW_OK) {
                pw_cli_err("alerts silence add: %s", msg);
                goto out;
            }
            json_array_append_new(matchers, m);
            if (off < sizeof object)
                off += (size_t) snprintf(object + off, sizeof object - off, "%s%s", i > 3 ? " " : "",
                                         argv[i]);
        }
        sil = json_pack("{s:O,s:I,s:I,s:s?,s:s?,s:I}", "matchers", matchers, "starts_ms", (json_int_t) now,
                        "ends_ms", (json_int_t) ends, "author", author, "comment", o->comment,
                        "created_ms", (json_int_t) now);
        if (sil == NULL) {
            pw_cli_err("alerts silence add: --author and --comment must be UTF-8");
            goto out;
        }
    } else if (strcmp(verb, "expire") == 0 && npos != 3) {
        pw_cli_err("alerts silence expire: one ID (see alerts silence list)");
        return PW_CLI_USAGE;
    }
    if ((e = pw_alert_db_open(g->data_dir, strcmp(verb, "list") == 0 ? PW_ALERT_DB_RDONLY : 0, &db, msg,
                              sizeof msg)) != PW_OK) {
        pw_cli_err("%s", msg);
        rc = e == PW_ENOMEM ? PW_CLI_FAIL : PW_CLI_NODATA;
        goto out;
    }
    if (strcmp(verb, "add") == 0) {
        uint64_t id;

        if ((e = pw_alert_silence_add(db, sil, &id)) != PW_OK) {
            pw_cli_err("alerts silence add: writing alerts.mdb: %s", pw_strerror(e));
            rc = PW_CLI_NODATA;
            goto out;
        }
        pw_cli_audit_append(g, "alerts.silence.add", object, true, NULL);
        printf("%llu\n", (unsigned long long) id);
        rc = PW_CLI_OK;
    } else if (strcmp(verb, "expire") == 0) {
        char     *end;
        uint64_t  id;

        errno = 0;
        id = strtoull(argv[3], &end, 10);
        if (errno != 0 || *end != '\0' || end == argv[3]) {
            pw_cli_err("alerts silence expire: \"%s\" is not a silence id", argv[3]);
            goto out;
        }
        if ((e = pw_alert_silence_expire(db, id, now)) == PW_ENOENT) {
            pw_cli_err("alerts silence expire: no silence %llu", (unsigned long long) id);
            goto out;
        }
        if (e != PW_OK) {
            pw_cli_err("alerts silence expire: writing alerts.mdb: %s", pw_strerror(e));
            rc = PW_CLI_NODATA;
            goto out;
        }
        pw_cli_audit_append(g, "alerts.silence.expire", argv[3], true, NULL);
        rc = PW_CLI_OK;
    } else {
        json_t *s;
        size_t  i;

        if ((list = json_array()) == NULL || pw_alert_silences(db, ca_silence_collect, list) != PW_OK) {
            pw_cli_err("reading alerts.mdb failed");
            rc = PW_CLI_NODATA;
            goto out;
        }
        if (o->fmt == PW_OUT_JSON) {
            json_dumpf(list, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
            fputc('\n', stdout);
        } else {
            const char *hdr[] = { "ID", "STATE", "MATCHERS", "STARTS", "ENDS", "AUTHOR", "COMMENT" };
            const char *chdr[] = { "id", "state", "matchers", "starts", "ends", "author", "comment" };
            pw_table   *t = o->fmt == PW_OUT_TABLE ? pw_table_new(7, hdr) : NULL;

            if (o->fmt == PW_OUT_CSV)
                pw_out_csv_row(stdout, 7, chdr);
            else if (t == NULL)
                goto nomem;
            json_array_foreach(list, i, s) {
                char    idb[24], ms[512] = "", t1[32], t2[32];
                size_t  off = 0, k;
                json_t *m;
                int64_t st = json_integer_value(json_object_get(s, "starts_ms"));
                int64_t en = json_integer_value(json_object_get(s, "ends_ms"));

                snprintf(idb, sizeof idb, "%lld", (long long) json_integer_value(json_object_get(s, "id")));
                json_array_foreach(json_object_get(s, "matchers"), k, m)
                    if (off < sizeof ms)
                        off += (size_t) snprintf(ms + off, sizeof ms - off, "%s%s%s%s", k ? " " : "",
                                                 ca_str(m, "name"), ca_str(m, "op"), ca_str(m, "value"));
                pw_utf8_cut(ms);
                pw_out_time_s(st, t1, sizeof t1);
                pw_out_time_s(en, t2, sizeof t2);
                {
                    const char *row[] = { idb, now < st ? "pending" : now < en ? "active" : "expired",
                                          ms, t1, t2, ca_str(s, "author"), ca_str(s, "comment") };

                    if (t != NULL)
                        pw_table_add(t, row);
                    else
                        pw_out_csv_row(stdout, 7, row);
                }
            }
            if (t != NULL) {
                if (pw_table_rows(t) == 0)
                    fprintf(stderr, "no silences\n");
                else
                    pw_table_print(t, stdout);
                pw_table_free(t);
            }
        }
        rc = ferror(stdout) ? PW_CLI_FAIL : PW_CLI_OK;
    }
    goto out;
nomem:
    pw_cli_err("out of memory");
    rc = PW_CLI_FAIL;
out:
    json_decref(list);
    json_decref(sil);
    json_decref(matchers);
    pw_alert_db_close(db);
    return rc;
}

int
pw_cli_alerts(pw_cli *g, int argc, char **argv)
{
    const char     *format = "table", *from_s = NULL, *to_s = "now", *step_s = "1m";
    const char     *tenant = NULL, *config = NULL;
    long            limit = 0;
    bool            help = false, hist = false, record = false;
    ca_sil_opts     so = { 0 };
    const pw_option opts[] = {
        { "data", PW_OPT_STRING, &g->data_dir, "the collector's data directory", "DIR" },
        { "history", PW_OPT_FLAG, &hist, "transitions instead of the active alerts", NULL },
        { "from", PW_OPT_STRING, &from_s, "start (history: default -7d)", "TIME" },
        { "to", PW_OPT_STRING, &to_s, "end (default now)", "TIME" },
        { "step", PW_OPT_STRING, &step_s, "backtest: evaluate every D (1m)", "D" },
        { "record", PW_OPT_FLAG, &record, "backtest: into DIR/alerts.mdb, not a scratch database", NULL },
        { "tenant", PW_OPT_STRING, &tenant, "only alerts whose tenant label is T", "T" },
        { "limit", PW_OPT_INT, &limit, "at most N alerts (0: all)", "N" },
        { "format", PW_OPT_STRING, &format, "table (default), csv or json", "FMT" },
        { "duration", PW_OPT_STRING, &so.duration, "silence add: for how long (2h, 1d)", "D" },
        { "until", PW_OPT_STRING, &so.until, "silence add: until when", "TIME" },
        { "author", PW_OPT_STRING, &so.author, "silence add: who (default: the user name)", "NAME" },
        { "comment", PW_OPT_STRING, &so.comment, "silence add: why", "TEXT" },
        { "help", PW_OPT_FLAG, &help, "this text", NULL },
        { NULL, PW_OPT_STRING, NULL, NULL, NULL },
    };
    pw_config     cfg = { 0 };
    pw_out_format fmt;
    pw_alert_db  *db = NULL;
    json_t       *list = NULL;
    char          msg[512];
    int64_t       now = pw_now_ms(), from, to, step;
    bool          truncated = false;
    int           npos, rc = PW_CLI_USAGE;
    pw_err        e;

    /* the collector's file, read for its alerts: section, not for this command's options */
    config = pw_config_arg_take(&argc, argv);
    if ((rc = pw_cli_args("alerts", opts, &cfg, argc, argv, &npos, &help, ca_usage)) != PW_CLI_GO)
        goto out;
    rc = PW_CLI_USAGE;
    if (g->api_url != NULL) {
        pw_cli_err("alerts: reads the data directory (--data); over the API use GET /api/v1/alerts");
        goto out;
    }
    if (pw_out_format_parse(format, &fmt) != PW_OK) {
        pw_cli_err("alerts: --format must be table, csv or json, not \"%s\"", format);
        goto out;
    }
    if (npos >= 1 && strcmp(argv[1], "silence") == 0) {
        so.fmt = fmt;
        rc = ca_silence(g, npos, argv, &so);
        goto out;
    }
    if (npos > 1 || (npos == 1 && strcmp(argv[1], "backtest") != 0 && strcmp(argv[1], "rules") != 0)) {
        pw_cli_err("alerts: unknown subcommand \"%s\" (backtest, rules, silence; see poolwatch alerts --help)",
                   argv[1]);
        goto out;
    }
    if (npos == 1 && strcmp(argv[1], "rules") == 0) {
        pw_alert_config *ac = NULL;
        json_t          *j;

        if (pw_alert_config_load(config, &ac, msg, sizeof msg) != PW_OK) {
            pw_cli_err("%s", msg);
            goto out;
        }
        j = pw_alert_config_rules_json(ac);
        json_dumpf(j, stdout, JSON_INDENT(1));
        fputc('\n', stdout);
        json_decref(j);
        pw_alert_config_free(ac);
        rc = PW_CLI_OK;
        goto out;
    }
    if (from_s == NULL)
        from_s = npos == 1 ? NULL : "-7d";
    if (from_s == NULL) {
        pw_cli_err("alerts backtest: --from is needed");
        goto out;
    }
    if (pw_time_parse(from_s, now, &from) != PW_OK || pw_time_parse(to_s, now, &to) != PW_OK) {
        pw_cli_err("alerts: --from \"%s\" or --to \"%s\" is not a time (%s)", from_s, to_s, CA_TIME_HINT);
        goto out;
    }
    if (from > to) {
        pw_cli_err("alerts: --from %s is after --to %s", from_s, to_s);
        goto out;
    }
    if (npos == 1) {
        if (pw_duration_parse(step_s, &step) != PW_OK || step <= 0) {
            pw_cli_err("alerts backtest: --step \"%s\" is not a positive duration (1m, 5m)", step_s);
            goto out;
        }
        rc = ca_backtest(g, config, from, to, step, record, fmt);
        goto out;
    }
    if ((e = pw_alert_db_open(g->data_dir, PW_ALERT_DB_RDONLY, &db, msg, sizeof msg)) != PW_OK) {
        pw_cli_err("%s", msg);
        rc = e == PW_ENOMEM ? PW_CLI_FAIL : PW_CLI_NODATA;
        goto out;
    }
    if ((e = pw_alert_list(db, hist, from, to, tenant, limit > 0 ? (size_t) limit : 0, &list,
                           &truncated)) != PW_OK) {
        pw_cli_err("reading alerts.mdb: %s", pw_strerror(e));
        rc = PW_CLI_NODATA;
        goto out;
    }
    rc = ca_print(list, hist, fmt);
    if (truncated)
        pw_cli_err("alerts: more than --limit %ld; the rest are not shown", limit);
out:
    json_decref(list);
    pw_alert_db_close(db);
    pw_config_free(&cfg);
    return rc;
}
