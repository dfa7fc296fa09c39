/*
 * cli_import.c - `poolwatch import FILE|-`: backfill and migration. Reads
 * Prometheus text or VictoriaMetrics JSON lines (import.h), gathers the
 * samples into windows, and a writer thread stores each window, sorted by
 * series, in write transactions of --batch samples with
 * pw_store_write_samples while the next window is parsed, beside a running
 * collector if there is one (LMDB serialises the writers).
 *
 * Memory stays flat for any input: one bounded line buffer, two windows
 * (the one parsed, the one stored) of at most CI_WINDOW (or --batch, if
 * larger) samples each, and a set of series hashes for the summary
 * (bounded too, see CI_SEEN_MAX).
 *
 * Static helpers: ci_.
 */
#include "cli.h"
#include "sort.h"
#include "import.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "grow.h"
#include "config.h"
#include "hash.h"

#define CI_DEFAULT_BATCH 10000
/*
 * Samples read and sorted by series before any is written, cut into write
 * transactions of --batch samples: a time-ordered file then writes many
 * points of a series at once, and each transaction touches a narrow range
 * of series, so it copies few LMDB pages (a file grows by what the last
 * transactions copied). About 70 bytes a sample plus series names.
 */
#define CI_WINDOW        524288
/* A batch is one frame's worth at most: the store's write path is sized for frames. */
#define CI_MAX_BATCH     PW_WIRE_MAX_SAMPLES
/* Bad lines reported one by one; after that only counted. */
#define CI_SHOW_BAD      20
/* The reader takes what the biggest format takes, plus room to read ahead. */
#define CI_READ_CHUNK    (256u << 10)
/* Distinct series counted exactly up to this many (16 bytes each, 16 MiB). */
#define CI_SEEN_MAX      (1u << 20)

static const pw_import_format *const ci_formats[] = { &pw_import_prom, &pw_import_vm };
#define CI_NFORMATS (sizeof ci_formats / sizeof ci_formats[0])

/* ---- input: lines through a bounded buffer ---------------------------- */

typedef struct ci_reader ci_reader;
struct ci_reader {
    int         fd;
    const char *name;          /* for messages */
    char       *buf;
    size_t      cap, start, end;
    size_t      limit;         /* longest line handed out whole */
    bool        eof;
    int         err;           /* errno of a failed read */
};

enum { CI_LINE, CI_LINE_TOO_LONG, CI_EOF, CI_READ_ERROR };

/*
 * The next line without its '\n' in *line / *len, valid until the next
 * call. A line longer than r->limit is skipped to its end and reported as
 * CI_LINE_TOO_LONG (*len = the bytes seen), so memory never grows with it.
 */
static int
ci_next_line(ci_reader *r, const char **line, size_t *len)
{
    bool   skipping = false;
    size_t skipped = 0;

    for (;;) {
        char   *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        ssize_t n;

        if (nl != NULL) {
            size_t l = (size_t) (nl - (r->buf + r->start));

            *line = r->buf + r->start;
            *len = skipped + l;
            r->start += l + 1;
            return skipping || l > r->limit ? CI_LINE_TOO_LONG : CI_LINE;
        }
        if (r->eof) {
            size_t l = r->end - r->start;

            if (l == 0 && !skipping)
                return CI_EOF;
            *line = r->buf + r->start;
            *len = skipped + l;
            r->start = r->end;
            return skipping || l > r->limit ? CI_LINE_TOO_LONG : CI_LINE;
        }
        if (r->end - r->start > r->limit) {
            /* Too long already: drop what we hold and look for its end. */
            skipping = true;
            skipped += r->end - r->start;
            r->start = r->end = 0;
        } else if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->end -= r->start;
            r->start = 0;
        }
        do
            n = read(r->fd, r->buf + r->end, r->cap - r->end);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            r->err = errno;
            return CI_READ_ERROR;
        }
        if (n == 0)
            r->eof = true;
        r->end += (size_t) n;
    }
}

/* ---- batch: samples grouped into one pw_frame ------------------------- */

/* A sample with its input position, for a stable sort. */
typedef struct ci_sorted ci_sorted;
struct ci_sorted {
    uint32_t series, pos;
    int64_t  ts_ms;
    double   value;
};

/* A series of the current batch; strings live in ci_batch.text. */
typedef struct ci_series ci_series;
struct ci_series {
    uint64_t hash;
    size_t   key, keylen;      /* canonical key */
    size_t   metric;
    size_t   label0, nlabels;  /* into ci_batch.labels: name, value offsets */
};

typedef struct ci_batch ci_batch;
struct ci_batch {
    size_t          max;        /* samples per batch (--batch) */
    char           *text;       /* keys, metrics, label names and values, NUL-terminated */
    size_t          textlen, textcap;
    ci_series      *series;
    size_t          nseries, seriescap;
    size_t         *labels;     /* offsets into text: name, value, name, value ... */
    size_t          nlabels, labelscap;
    uint32_t       *slots;      /* hash table: series index + 1, 0 = empty; 2 * max slots */
    size_t          nslots;
    pw_wire_sample *samples;    /* max entries */
    size_t          nsamples;
    ci_sorted      *sorted;     /* max entries: scratch of ci_batch_sort */
    size_t         *runs;       /* max + 1 entries: scratch of ci_batch_sort */
    /* the frame handed to the store, rebuilt from the offsets at each flush */
    pw_wire_series *wseries;
    pw_label       *wlabels;
    size_t          wcap, wlabcap;
};

/* What the writer thread did: touched only by it while it is busy. */
typedef struct ci_wres ci_wres;
struct ci_wres {
    uint64_t samples, commits, grows;
    pw_err   fatal;             /* the store failed: the import stops */
    char     fatal_msg[512];
};

/*
 * Everything the import keeps while it runs; the sink's ctx. Parsing and
 * storing overlap: the sink fills `b` while the writer thread stores `wb`,
 * the previous window; they swap when b is full and the writer is idle.
 */
typedef struct ci_import ci_import;
struct ci_import {
    pw_store *store;
    const char *data_dir;
    ci_batch  b;
    ci_batch  wb;               /* the writer's; handed over under wmu */
    pthread_t       writer;
    bool            writer_up;
    pthread_mutex_t wmu;
    pthread_cond_t  wcv;
    bool            wbusy;      /* wb holds a window to store */
    bool            wstop;
    ci_wres         wres;       /* under wmu when the writer is idle */
    char     *keybuf;           /* PW_MAX_SERIES_KEY_LEN + 1 */
    /* distinct series (hashes of keys), for the summary */
    uint64_t *seen;
    size_t    nseen, seencap;
    bool      seen_full;
    /* counts */
    uint64_t  samples, stale, bad, commits, grows;
    size_t    per_txn;       /* samples per write txn (--batch) */
    /* set by the sink when the store failed: the import stops */
    pw_err    fatal;
    char      fatal_msg[512];
};

/* FNV-1a, 64 bits: good enough for a table that is rebuilt every batch. */
static uint64_t
ci_hash(const char *s, size_t n)
{
    return pw_fnv1a64(s, n);
}

/* Grows *p (elements of size sz) to hold at least need; PW_ENOMEM. */
static pw_err
ci_reserve(void **p, size_t *cap, size_t need, size_t sz)
{
    return pw_grow(p, cap, need, sz, 64) ? PW_OK : PW_ENOMEM;
}

static pw_err
ci_batch_init(ci_batch *b, size_t max)
{
    b->max = max;
    for (b->nslots = 1; b->nslots < 2 * max; b->nslots *= 2)
        ;
    b->slots = calloc(b->nslots, sizeof *b->slots);
    b->samples = malloc(max * sizeof *b->samples);
    b->sorted = malloc(max * sizeof *b->sorted);
    b->runs = malloc((max + 1) * sizeof *b->runs);
    return b->slots != NULL && b->samples != NULL && b->sorted != NULL && b->runs != NULL
        ? PW_OK : PW_ENOMEM;
}

static void
ci_batch_free(ci_batch *b)
{
    free(b->text);
    free(b->series);
    free(b->labels);
    free(b->slots);
    free(b->samples);
    free(b->sorted);
    free(b->runs);
    free(b->wseries);
    free(b->wlabels);
}

/* Empties the batch, keeping its memory. */
static void
ci_batch_reset(ci_batch *b)
{
    /* Clearing only the used slots keeps a small batch cheap to reset. */
    for (size_t i = 0; i < b->nseries; i++) {
        size_t s = b->series[i].hash & (b->nslots - 1);

        while (b->slots[s] != 0) {
            b->slots[s] = 0;
            s = (s + 1) & (b->nslots - 1);
        }
    }
    b->textlen = b->nseries = b->nlabels = b->nsamples = 0;
}

static size_t
ci_text(ci_batch *b, const char *s, size_t n)
{
    size_t off = b->textlen;

    memcpy(b->text + off, s, n);
    b->text[off + n] = '\0';
    b->textlen += n + 1;
    return off;
}

/* Counts a series for the summary; past CI_SEEN_MAX the count is a floor. */
static pw_err
ci_seen_add(ci_import *im, uint64_t h)
{
    size_t mask, i;

    h |= 1;                       /* 0 marks an empty slot */
    if (im->seen_full)
        return PW_OK;
    if (2 * (im->nseen + 1) > im->seencap) {
        size_t    ncap = im->seencap ? 2 * im->seencap : 4096;
        uint64_t *nt;

        if (im->nseen + 1 > CI_SEEN_MAX) {
            im->seen_full = true;
            return PW_OK;
        }
        if ((nt = calloc(ncap, sizeof *nt)) == NULL)
            return PW_ENOMEM;
        for (size_t j = 0; j < im->seencap; j++) {
            if (im->seen[j] == 0)
                continue;
            /* Same home slot as the lookup below, or moved entries are never found. */
            for (i = (im->seen[j] >> 1) & (ncap - 1); nt[i] != 0; i = (i + 1) & (ncap - 1))
                ;
            nt[i] = im->seen[j];
        }
        free(im->seen);
        im->seen = nt;
        im->seencap = ncap;
    }
    mask = im->seencap - 1;
    for (i = (h >> 1) & mask; im->seen[i] != 0; i = (i + 1) & mask)
        if (im->seen[i] == h)
            return PW_OK;
    im->seen[i] = h;
    im->nseen++;
    return PW_OK;
}

/* The batch index of series s (key = its canonical key), adding it if new. */
static pw_err
ci_batch_series(ci_import *im, const pw_import_series *s, const char *key, size_t keylen,
                uint32_t *idx)
{
    ci_batch  *b = &im->b;
    uint64_t   h = ci_hash(key, keylen);
    size_t     slot = h & (b->nslots - 1), need = keylen + 1 + strlen(s->metric) + 1;
    ci_series *cs;
    pw_err     e;

    for (; b->slots[slot] != 0; slot = (slot + 1) & (b->nslots - 1)) {
        cs = &b->series[b->slots[slot] - 1];
        if (cs->hash == h && cs->keylen == keylen && memcmp(b->text + cs->key, key, keylen) == 0) {
            *idx = b->slots[slot] - 1;
            return PW_OK;
        }
    }
    for (size_t i = 0; i < s->nlabels; i++)
        need += strlen(s->labels[i].name) + strlen(s->labels[i].value) + 2;
    if ((e = ci_reserve((void **) &b->text, &b->textcap, b->textlen + need, 1)) != PW_OK
        || (e = ci_reserve((void **) &b->series, &b->seriescap, b->nseries + 1,
                sizeof *b->series)) != PW_OK
        || (e = ci_reserve((void **) &b->labels, &b->labelscap, b->nlabels + 2 * s->nlabels,
                sizeof *b->labels)) != PW_OK
        || (e = ci_seen_add(im, h)) != PW_OK)
        return e;
    cs = &b->series[b->nseries];
    cs->hash = h;
    cs->keylen = keylen;
    cs->key = ci_text(b, key, keylen);
    cs->metric = ci_text(b, s->metric, strlen(s->metric));
    cs->label0 = b->nlabels;
    cs->nlabels = s->nlabels;
    for (size_t i = 0; i < s->nlabels; i++) {
        b->labels[b->nlabels++] = ci_text(b, s->labels[i].name, strlen(s->labels[i].name));
        b->labels[b->nlabels++] = ci_text(b, s->labels[i].value, strlen(s->labels[i].value));
    }
    /* At most max series (each has a sample) in 2 * max slots: the probe always ends. */
    b->slots[slot] = (uint32_t) ++b->nseries;
    *idx = (uint32_t) (b->nseries - 1);
    return PW_OK;
}

/* Orders the samples of one series by time, then input position (the last one written wins). */
static int
ci_sample_cmp(const void *a, const void *b)
{
    const ci_sorted *x = a, *y = b;

    if (x->ts_ms != y->ts_ms)
        return x->ts_ms < y->ts_ms ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * Puts the samples of each series together, in time order: the point
 * engine then writes neighbouring keys one after the other instead of
 * hopping between series for every sample of a time-ordered file. A
 * counting sort by series (stable, linear); a series' run is sorted by
 * time only if the input had it out of order.
 */
static void
ci_batch_sort(ci_batch *b)
{
    size_t *end = b->runs;

    memset(end, 0, (b->nseries + 1) * sizeof *end);
    for (size_t i = 0; i < b->nsamples; i++)
        end[b->samples[i].series + 1]++;
    for (size_t s = 1; s <= b->nseries; s++)
        end[s] += end[s - 1];
    /* end[s] is where series s starts; after the scatter, where it ends. */
    for (size_t i = 0; i < b->nsamples; i++) {
        const pw_wire_sample *sm = &b->samples[i];
        ci_sorted            *d = &b->sorted[end[sm->series]++];

        d->series = sm->series;
        d->pos = (uint32_t) i;
        d->ts_ms = sm->ts_ms;
        d->value = sm->value;
    }
    for (size_t s = 0, start = 0; s < b->nseries; start = end[s++]) {
        for (size_t i = start + 1; i < end[s]; i++)
            if (b->sorted[i].ts_ms < b->sorted[i - 1].ts_ms) {
                pw_qsort(b->sorted + start, end[s] - start, sizeof *b->sorted, ci_sample_cmp);
                break;
            }
    }
    for (size_t i = 0; i < b->nsamples; i++) {
        b->samples[i].series = b->sorted[i].series;
        b->samples[i].ts_ms = b->sorted[i].ts_ms;
        b->samples[i].value = b->sorted[i].value;
    }
}

/* The batch as the frame the store takes; pointers are good until the next change. */
static pw_err
ci_batch_frame(ci_batch *b, pw_frame *f)
{
    pw_err e;

    if ((e = ci_reserve((void **) &b->wseries, &b->wcap, b->nseries, sizeof *b->wseries)) != PW_OK
        || (e = ci_reserve((void **) &b->wlabels, &b->wlabcap, b->nlabels / 2 + 1,
                sizeof *b->wlabels)) != PW_OK)
        return e;
    for (size_t i = 0, l = 0; i < b->nseries; i++) {
        const ci_series *cs = &b->series[i];
        pw_wire_series  *ws = &b->wseries[i];

        ws->metric = b->text + cs->metric;
        ws->nlabels = cs->nlabels;
        ws->labels = &b->wlabels[l];
        for (size_t j = 0; j < cs->nlabels; j++, l++) {
            b->wlabels[l].name = b->text + b->labels[cs->label0 + 2 * j];
            b->wlabels[l].value = b->text + b->labels[cs->label0 + 2 * j + 1];
        }
    }
    memset(f, 0, sizeof *f);
    f->nseries = b->nseries;
    f->series = b->wseries;
    f->nsamples = b->nsamples;
    f->samples = b->samples;
    return PW_OK;
}

/* Records why the store refused a batch, which stops the import; returns e. */
static pw_err
ci_fatal(ci_import *im, ci_wres *r, pw_err e)
{
    char why[400];

    pw_store_last_error(im->store, why, sizeof why);
    r->fatal = e;
    snprintf(r->fatal_msg, sizeof r->fatal_msg, "cannot store in %s: %s", im->data_dir,
        why[0] ? why : pw_strerror(e));
    return e;
}

/*
 * One write txn doing write(t, f): a full map is grown and the txn redone,
 * as the collector's writer does; the batch is still here to redo it from.
 */
static pw_err
ci_write_txn(ci_import *im, ci_wres *r, pw_err (*write)(pw_store_txn *, const pw_frame *),
             const pw_frame *f)
{
    pw_store_txn *t;
    bool          grown_at_commit = false;
    pw_err        e;

    for (;;) {
        if ((e = pw_store_write_begin(im->store, &t)) != PW_OK)
            return ci_fatal(im, r, e);
        if ((e = write(t, f)) != PW_OK) {
            pw_store_write_abort(t);
            if (e == PW_EFULL && pw_store_grow(im->store) == PW_OK) {
                r->grows++;
                continue;
            }
            /* PW_EPROTO here would be a parser letting a bad series through. */
            return ci_fatal(im, r, e);
        }
        e = pw_store_write_commit(t);
        /* LMDB may need pages at commit too; growing helps a full map, not a full disk. */
        if (e == PW_EFULL && !grown_at_commit && pw_store_grow(im->store) == PW_OK) {
            r->grows++;
            grown_at_commit = true;
            continue;
        }
        if (e != PW_OK)
            return ci_fatal(im, r, e);
        r->commits++;
        return PW_OK;
    }
}

/* Stores samples [off, off + n) of the sorted batch (series first..last) in one write txn. */
static pw_err
ci_write_slice(ci_import *im, ci_batch *b, ci_wres *r, const pw_frame *all, size_t off, size_t n)
{
    pw_wire_sample *sm = b->samples + off;
    uint32_t        first = sm[0].series, last = sm[n - 1].series;
    pw_frame        f;
    pw_err          e;

    /* Only this slice's series, so the store checks each series once per window. */
    for (size_t i = 0; i < n; i++)
        sm[i].series -= first;
    f = *all;
    f.series = all->series + first;
    f.nseries = (size_t) (last - first) + 1;
    f.samples = sm;
    f.nsamples = n;
    if ((e = ci_write_txn(im, r, pw_store_write_samples, &f)) == PW_OK)
        r->samples += n;
    return e;
}

/*
 * Stores the batch, sorted by series, in write txns of about im->per_txn
 * samples each (cut where a series ends, when one does near there), and
 * empties it.
 */
static pw_err
ci_flush(ci_import *im, ci_batch *b, ci_wres *r)
{
    pw_frame  f;
    pw_err    e;

    if (b->nsamples == 0)
        return PW_OK;
    ci_batch_sort(b);
    if ((e = ci_batch_frame(b, &f)) != PW_OK) {
        r->fatal = e;
        snprintf(r->fatal_msg, sizeof r->fatal_msg, "out of memory");
        return e;
    }
    /*
     * The window's series first, in one txn of their own when it takes
     * more than one for the points: new series then write the series index
     * once (a window of a new data set creates them all).
     */
    if (b->nsamples > im->per_txn && (e = ci_write_txn(im, r, pw_store_write_series, &f)) != PW_OK)
        return e;
    for (size_t off = 0, end; off < b->nsamples; off = end) {
        end = b->nsamples - off > im->per_txn ? off + im->per_txn : b->nsamples;
        /* finish the series under way, unless it runs on much longer */
        for (size_t lim = end + im->per_txn / 4;
             end < b->nsamples && end < lim && b->samples[end].series == b->samples[end - 1].series;
             end++)
            ;
        if ((e = ci_write_slice(im, b, r, &f, off, end - off)) != PW_OK)
            return e;
    }
    return PW_OK;
}

/* The writer thread: stores each window handed to it, until told to stop. */
static void *
ci_writer_main(void *arg)
{
    ci_import *im = arg;

    pthread_mutex_lock(&im->wmu);
    for (;;) {
        while (!im->wbusy && !im->wstop)
            pthread_cond_wait(&im->wcv, &im->wmu);
        if (!im->wbusy)
            break;
        pthread_mutex_unlock(&im->wmu);
        /* after a failure nothing more is stored: the import stops at the next handover */
        if (im->wres.fatal == PW_OK)
            ci_flush(im, &im->wb, &im->wres);
        ci_batch_reset(&im->wb);
        pthread_mutex_lock(&im->wmu);
        im->wbusy = false;
        pthread_cond_broadcast(&im->wcv);
    }
    pthread_mutex_unlock(&im->wmu);
    return NULL;
}

/* Waits until the writer is idle; takes over its counts and any failure. */
static pw_err
ci_wait_writer(ci_import *im)
{
    pthread_mutex_lock(&im->wmu);
    while (im->wbusy)
        pthread_cond_wait(&im->wcv, &im->wmu);
    im->samples = im->wres.samples;
    im->commits = im->wres.commits;
    im->grows = im->wres.grows;
    if (im->wres.fatal != PW_OK && im->fatal == PW_OK) {
        im->fatal = im->wres.fatal;
        memcpy(im->fatal_msg, im->wres.fatal_msg, sizeof im->fatal_msg);
    }
    pthread_mutex_unlock(&im->wmu);
    return im->fatal;
}

/* Hands the full window to the writer (once it is done with the last) and empties b. */
static pw_err
ci_handover(ci_import *im)
{
    ci_batch tmp;
    pw_err   e;

    if (im->b.nsamples == 0)
        return PW_OK;
    if ((e = ci_wait_writer(im)) != PW_OK)
        return e;
    pthread_mutex_lock(&im->wmu);
    tmp = im->wb;                  /* empty: the writer reset it */
    im->wb = im->b;
    im->b = tmp;
    im->wbusy = true;
    pthread_cond_broadcast(&im->wcv);
    pthread_mutex_unlock(&im->wmu);
    return PW_OK;
}

/* The sink: points of one series into the batch, flushing when it is full. */
static pw_err
ci_points(void *ctx, const pw_import_series *s, const int64_t *ts_ms, const double *values,
          size_t n)
{
    ci_import *im = ctx;
    ci_batch  *b = &im->b;
    size_t     keylen;
    uint32_t   idx = 0;
    bool       have = false;
    pw_err     e;

    /* Cannot fail: the buffer holds the longest key there is. */
    pw_series_key_format(s->metric, s->labels, s->nlabels, im->keybuf, PW_MAX_SERIES_KEY_LEN + 1,
        &keylen);
    for (size_t i = 0; i < n; i++) {
        if (pw_import_is_stale(values[i])) {
            im->stale++;
            continue;
        }
        if (!have) {
            if ((e = ci_batch_series(im, s, im->keybuf, keylen, &idx)) != PW_OK) {
                im->fatal = e;
                snprintf(im->fatal_msg, sizeof im->fatal_msg, "out of memory");
                return e;
            }
            have = true;
        }
        b->samples[b->nsamples].series = idx;
        b->samples[b->nsamples].ts_ms = ts_ms[i];
        b->samples[b->nsamples].value = values[i];
        if (++b->nsamples == b->max) {
            if ((e = ci_handover(im)) != PW_OK)
                return e;
            have = false;         /* the new batch has no series yet */
        }
    }
    return PW_OK;
}

/* ---- the command ------------------------------------------------------ */

static void
ci_usage(FILE *f, const pw_option *opts)
{
    fprintf(f,
        "usage: poolwatch [--data DIR] import FILE|- [--format auto|prom|vm]\n"
        "                 [--default-time TIME] [--batch N]\n\n"
        "Stores the samples of FILE (- for stdin) in the data directory, creating it if\n"
        "needed; safe while a collector runs on it. Formats:\n");
    for (size_t i = 0; i < CI_NFORMATS; i++)
        fprintf(f, "  %-6s %s\n", ci_formats[i]->name, ci_formats[i]->summary);
    fprintf(f,
        "  auto   (default) vm if the first line that is not blank starts with {\", else prom\n"
        "Series are stored as written: no host label is added. A prom sample without a\n"
        "timestamp gets --default-time (default: now, when the import starts).\n\n"
        "exit status: 0 every line imported, 1 bad usage or FILE unreadable, 2 data\n"
        "directory unusable or writing it failed, 3 other failure, 4 some lines were bad\n"
        "(reported on stderr) and the others were imported.\n\noptions:\n");
    pw_config_usage(opts, f);
}

static const pw_import_format *
ci_format_named(const char *name)
{
    for (size_t i = 0; i < CI_NFORMATS; i++)
        if (strcmp(ci_formats[i]->name, name) == 0)
            return ci_formats[i];
    return NULL;
}

/* The format whose sniff is surest about line, or NULL if none wants it. */
static const pw_import_format *
ci_format_sniff(const char *line, size_t len)
{
    const pw_import_format *best = NULL;
    int                     score = 0;

    for (size_t i = 0; i < CI_NFORMATS; i++) {
        int s = ci_formats[i]->sniff(line, len);

        if (s > score) {
            score = s;
            best = ci_formats[i];
        }
    }
    return best;
}

static bool
ci_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            return false;
    return true;
}

static void
ci_bad_line(ci_import *im, uint64_t lineno, const char *why)
{
    if (++im->bad <= CI_SHOW_BAD)
        pw_cli_err("import: line %llu: %s", (unsigned long long) lineno, why);
}

static double
ci_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
pw_cli_import(pw_cli *g, int argc, char **argv)
{
    const char     *format = "auto", *deftime_s = "now";
    long            batch = CI_DEFAULT_BATCH;
    bool            help = false;
    const pw_option opts[] = {
        { "data", PW_OPT_STRING, &g->data_dir, "the data directory (created if missing)", "DIR" },
        { "format", PW_OPT_STRING, &format, "auto (default), prom or vm", "FMT" },
        { "default-time", PW_OPT_STRING, &deftime_s,
          "time of prom samples without one (default now)", "TIME" },
        { "batch", PW_OPT_INT, &batch, "samples per write transaction (default 10000)", "N" },
        { "help", PW_OPT_FLAG, &help, "this text", NULL },
        { NULL, PW_OPT_STRING, NULL, NULL, NULL },
    };
    const pw_import_format *fmt = NULL;
    ci_import               im = { 0 };
    pw_import_sink          sink = { ci_points, &im };
    pw_import_opts          iopts = { 0 };
    pw_config               cfg = { 0 };
    ci_reader               r = { .fd = -1 };
    void                   *pstate = NULL;
    char                    msg[512];
    const char             *line, *path;
    size_t                  len;
    uint64_t                lineno = 0;
    double                  t0, secs;
    int                     npos, rc = PW_CLI_USAGE, lr = CI_EOF;
    pw_err                  e = PW_OK;

    if ((rc = pw_cli_args("import", opts, &cfg, argc, argv, &npos, &help, ci_usage)) != PW_CLI_GO)
        goto out;
    rc = PW_CLI_USAGE;
    if (npos != 1) {
        pw_cli_err(npos == 0
            ? "import: a FILE is needed, or - for stdin (see poolwatch import --help)"
            : "import: one FILE only");
        goto out;
    }
    path = argv[1];
    if (strcmp(format, "auto") != 0 && (fmt = ci_format_named(format)) == NULL) {
        pw_cli_err("import: --format must be auto, prom or vm, not \"%s\"", format);
        goto out;
    }
    if (pw_time_parse(deftime_s, pw_now_ms(), &iopts.default_ts_ms) != PW_OK
        || iopts.default_ts_ms < PW_WIRE_MIN_TS || iopts.default_ts_ms >= PW_WIRE_MAX_TS) {
        pw_cli_err("import: --default-time \"%s\" is not a time between 2000 and 2200 (now, -1h, "
            "2026-11-01T00:00:00Z, 2026-11-01 or Unix seconds)", deftime_s);
        goto out;
    }
    if (batch < 1 || batch > (long) CI_MAX_BATCH) {
        pw_cli_err("import: --batch must be between 1 and %u, not %ld", CI_MAX_BATCH, batch);
        goto out;
    }
    r.name = strcmp(path, "-") == 0 ? "stdin" : path;
    if (strcmp(path, "-") == 0)
        r.fd = STDIN_FILENO;
    else if ((r.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        pw_cli_err("import: cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    rc = PW_CLI_FAIL;
    r.limit = fmt != NULL ? fmt->max_line : PW_IMPORT_VM_MAX_LINE;
    r.cap = PW_IMPORT_VM_MAX_LINE + CI_READ_CHUNK;
    im.data_dir = g->data_dir;
    im.per_txn = (size_t) batch;
    if ((r.buf = malloc(r.cap)) == NULL || (im.keybuf = malloc(PW_MAX_SERIES_KEY_LEN + 1)) == NULL
        || ci_batch_init(&im.b, (size_t) batch > CI_WINDOW ? (size_t) batch : CI_WINDOW) != PW_OK
        || ci_batch_init(&im.wb, (size_t) batch > CI_WINDOW ? (size_t) batch : CI_WINDOW) != PW_OK
        || (fmt != NULL && fmt->open(&iopts, &pstate) != PW_OK)) {
        pw_cli_err("out of memory");
        goto out;
    }
    if ((e = pw_store_open(g->data_dir, 0, &im.store, msg, sizeof msg)) != PW_OK) {
        pw_cli_err("import: %s", msg);
        rc = e == PW_ENOMEM ? PW_CLI_FAIL : PW_CLI_NODATA;
        goto out;
    }
    pthread_mutex_init(&im.wmu, NULL);
    pthread_cond_init(&im.wcv, NULL);
    if (pthread_create(&im.writer, NULL, ci_writer_main, &im) != 0) {
        pthread_mutex_destroy(&im.wmu);
        pthread_cond_destroy(&im.wcv);
        pw_cli_err("import: cannot start the writer thread");
        goto out;
    }
    im.writer_up = true;
    t0 = ci_seconds();
    while ((lr = ci_next_line(&r, &line, &len)) != CI_EOF && lr != CI_READ_ERROR) {
        lineno++;
        if (lr == CI_LINE_TOO_LONG) {
            snprintf(msg, sizeof msg, "line is longer than %zu bytes", r.limit);
            ci_bad_line(&im, lineno, msg);
            continue;
        }
        if (pstate == NULL) {
            /* auto: the first line that says anything decides. */
            if (ci_blank(line, len))
                continue;
            if ((fmt = ci_format_sniff(line, len)) == NULL) {
                pw_cli_err("import: cannot tell the format of %s from line %llu; "
                    "give --format prom or --format vm", r.name, (unsigned long long) lineno);
                rc = PW_CLI_USAGE;
                goto out;
            }
            if ((e = fmt->open(&iopts, &pstate)) != PW_OK)
                break;
            r.limit = fmt->max_line;
        }
        e = fmt->parse_line(pstate, line, len, &sink, msg, sizeof msg);
        /* The sink's failures are the store's, whatever their code: stop. */
        if (im.fatal != PW_OK) {
            e = im.fatal;
            break;
        }
        if (e == PW_EPROTO || e == PW_ETOOBIG) {
            ci_bad_line(&im, lineno, msg);
            e = PW_OK;
        } else if (e != PW_OK) {
            break;
        }
    }
    /* Whatever was parsed is stored, also when reading fails half-way. */
    if (e == PW_OK)
        e = ci_handover(&im);
    if (ci_wait_writer(&im) != PW_OK && e == PW_OK)
        e = im.fatal;
    if (im.bad > CI_SHOW_BAD)
        pw_cli_err("import: %llu more bad lines not shown",
            (unsigned long long) (im.bad - CI_SHOW_BAD));
    if (e != PW_OK) {
        pw_cli_err("import: %s; stopped at line %llu, after storing %llu samples",
            im.fatal != PW_OK ? im.fatal_msg : pw_strerror(e), (unsigned long long) lineno,
            (unsigned long long) im.samples);
        /* The store's own failures are the data directory's; the rest (memory) is 3. */
        rc = im.fatal != PW_OK && im.fatal != PW_ENOMEM ? PW_CLI_NODATA : PW_CLI_FAIL;
        goto out;
    }
    if (lr == CI_READ_ERROR) {
        pw_cli_err("import: reading %s: %s; stopped at line %llu, after storing %llu samples",
            r.name, strerror(r.err), (unsigned long long) lineno, (unsigned long long) im.samples);
        goto out;
    }
    secs = ci_seconds() - t0;
    pw_cli_err("import: %llu lines, %llu samples, %s%zu series, %llu bad lines, %llu staleness "
        "markers skipped, %.2f s, %.0f samples/s (format %s, %llu commits, %llu map grows)",
        (unsigned long long) lineno, (unsigned long long) im.samples,
        im.seen_full ? "more than " : "", im.nseen, (unsigned long long) im.bad,
        (unsigned long long) im.stale, secs, secs > 0 ? (double) im.samples / secs : 0.0,
        fmt != NULL ? fmt->name : "none", (unsigned long long) im.commits,
        (unsigned long long) im.grows);
    rc = im.bad > 0 ? PW_CLI_BADLINES : PW_CLI_OK;
out:
    if (im.writer_up) {
        pthread_mutex_lock(&im.wmu);
        im.wstop = true;
        pthread_cond_broadcast(&im.wcv);
        pthread_mutex_unlock(&im.wmu);
        pthread_join(im.writer, NULL);
        pthread_mutex_destroy(&im.wmu);
        pthread_cond_destroy(&im.wcv);
    }
    if (fmt != NULL)
        fmt->close(pstate);
    if (r.fd > STDIN_FILENO)
        close(r.fd);
    free(r.buf);
    free(im.keybuf);
    free(im.seen);
    ci_batch_free(&im.b);
    ci_batch_free(&im.wb);
    pw_store_close(im.store);
    pw_config_free(&cfg);
    return rc;
}
