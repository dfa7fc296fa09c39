/*
 * stats.h - the collector's counters, shared by ingest, writer and main.
 *
 * Plain atomics, written by NNG and writer threads, read by whoever reports
 * them (the self-metrics frame now, /metrics later). One instance per
 * collector process, owned by main.c.
 */
#ifndef PW_STATS_H
#define PW_STATS_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct pw_collector_stats {
    atomic_uint_fast64_t frames_received;
    atomic_uint_fast64_t bytes_received;
    atomic_uint_fast64_t frames_stored;
    atomic_uint_fast64_t frames_duplicate;
    atomic_uint_fast64_t frames_retry;          /* answered "retry later" (disk full, over budget) */
    atomic_uint_fast64_t frames_over_budget;    /* of those: over --max-inflight-bytes (ingest.c) */
    atomic_uint_fast64_t inflight_bytes;        /* decoded bytes of frames taken, not yet answered */
    atomic_uint_fast64_t frames_rejected;       /* malformed or over a limit */
    atomic_uint_fast64_t frames_unsupported;    /* wire version this collector lacks */
    atomic_uint_fast64_t samples_stored;
    atomic_uint_fast64_t samples_nonfinite;     /* NaN/Inf skipped by the decoder */
    atomic_uint_fast64_t unknown_keys;
    atomic_uint_fast64_t commits;
    atomic_uint_fast64_t commit_errors;
    atomic_uint_fast64_t disk_full;             /* commits refused for lack of space */
    atomic_uint_fast64_t map_grows;
    atomic_uint_fast64_t commit_us_total;       /* time spent in commits */
    atomic_uint_fast64_t queue_depth;           /* frames waiting for the writer */
    atomic_uint_fast64_t maintenance_txns;      /* upkeep transactions run */
    atomic_uint_fast64_t maintenance_errors;
    atomic_uint_fast64_t dedupe_expired;        /* dedupe rows of old agent boots deleted */
    atomic_uint_fast64_t frames_identity_rejected; /* agent id is not the TLS certificate's CN */
    atomic_uint_fast64_t reports_archived;      /* monthly archives made (report_job.c) */
    atomic_uint_fast64_t report_errors;         /* archive attempts that failed */
} pw_collector_stats;

#endif
