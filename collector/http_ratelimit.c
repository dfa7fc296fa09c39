/*
 * http_ratelimit.c - token buckets for failed authentications, one per
 * source address, in a fixed table (see http.h).
 *
 * Why a fixed table: the addresses are the attacker's choice (IPv6 gives
 * them plenty), so the limiter must not grow with them. An address is
 * hashed to a small neighbourhood of slots; a new one takes a free slot
 * there, or else the slot whose bucket is fullest (the quietest address -
 * forgetting it only gives back tokens it would have regained anyway), so
 * an address being limited right now is never the one evicted while a
 * calmer one exists.
 */
#include "http.h"
#include "hash.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RL_KEY_MAX 48       /* an IPv6 address in text is at most 45 bytes */
#define RL_PROBE   8        /* slots an address may live in */

typedef struct rl_slot rl_slot;
struct rl_slot {
    char    key[RL_KEY_MAX];   /* "" = free */
    double  tokens;
    int64_t at_ms;             /* when tokens was computed */
    bool    refused;           /* refused since the bucket last had a token */
};

struct pw_http_rl {
    pthread_mutex_t mu;
    rl_slot        *slots;
    size_t          n;
    double          burst;
    int64_t         refill_ms;
};

pw_err
pw_http_rl_new(size_t slots, unsigned burst, int64_t refill_ms, pw_http_rl **out)
{
    pw_http_rl *rl;

    *out = NULL;
    if (slots < RL_PROBE || burst < 1 || refill_ms < 1)
        return PW_EINVAL;
    if ((rl = calloc(1, sizeof *rl)) == NULL || (rl->slots = calloc(slots, sizeof *rl->slots)) == NULL) {
        free(rl);
        return PW_ENOMEM;
    }
    pthread_mutex_init(&rl->mu, NULL);
    rl->n = slots;
    rl->burst = burst;
    rl->refill_ms = refill_ms;
    *out = rl;
    return PW_OK;
}

void
pw_http_rl_free(pw_http_rl *rl)
{
    if (rl == NULL)
        return;
    pthread_mutex_destroy(&rl->mu);
    free(rl->slots);
    free(rl);
}

/* FNV-1a: spreads addresses over the table; not a secret, not needed to be. */
static size_t
rl_hash(const char *key)
{
    return (size_t) pw_fnv1a64(key, strlen(key));
}

/* Brings a slot's tokens up to now. */
static void
rl_refill(const pw_http_rl *rl, rl_slot *s, int64_t now)
{
    if (now > s->at_ms) {
        s->tokens += (double) (now - s->at_ms) / (double) rl->refill_ms;
        if (s->tokens > rl->burst)
            s->tokens = rl->burst;
        s->at_ms = now;
    }
}

/* The slot of key; when create, a new one (full bucket) if it has none. NULL otherwise. */
static rl_slot *
rl_find(pw_http_rl *rl, const char *key, int64_t now, bool create)
{
    size_t   h = rl_hash(key);
    rl_slot *victim = NULL;

    for (size_t i = 0; i < RL_PROBE; i++) {
        rl_slot *s = &rl->slots[(h + i) % rl->n];

        if (s->key[0] != '\0' && strncmp(s->key, key, RL_KEY_MAX - 1) == 0) {
            rl_refill(rl, s, now);
            return s;
        }
        if (!create)
            continue;
        if (s->key[0] == '\0') {
            if (victim == NULL || victim->key[0] != '\0')
                victim = s;
            continue;
        }
        rl_refill(rl, s, now);
        if (victim == NULL || (victim->key[0] != '\0' && s->tokens > victim->tokens))
            victim = s;
    }
    if (victim == NULL)
        return NULL;
    memset(victim, 0, sizeof *victim);
    strncpy(victim->key, key, RL_KEY_MAX - 1);
    victim->tokens = rl->burst;
    victim->at_ms = now;
    return victim;
}

bool
pw_http_rl_allow(pw_http_rl *rl, const char *key, int64_t now_ms, int64_t *retry_ms, bool *first)
{
    rl_slot *s;
    bool     ok = true;

    if (first != NULL)
        *first = false;
    pthread_mutex_lock(&rl->mu);
    if ((s = rl_find(rl, key, now_ms, false)) != NULL) {
        if (s->tokens >= 1) {
            s->refused = false;
        } else {
            ok = false;
            if (retry_ms != NULL)
                *retry_ms = (int64_t) ((1 - s->tokens) * (double) rl->refill_ms) + 1;
            if (first != NULL)
                *first = !s->refused;
            s->refused = true;
        }
    }
    pthread_mutex_unlock(&rl->mu);
    return ok;
}

void
pw_http_rl_charge(pw_http_rl *rl, const char *key, int64_t now_ms)
{
    rl_slot *s;

    pthread_mutex_lock(&rl->mu);
    if ((s = rl_find(rl, key, now_ms, true)) != NULL && s->tokens > 0)
        s->tokens -= 1;
    if (s != NULL && s->tokens < 0)
        s->tokens = 0;
    pthread_mutex_unlock(&rl->mu);
}
